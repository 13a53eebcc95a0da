"""The driver as a dimension of the matrix: `postgresql+asyncpg` is a column of its own.

One server reached through psycopg2, asyncpg and psycopg 3 gives three columns; a test that
passes through one driver and fails through another is an incompatibility like any other.
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import LIVE_URLS

MODELS = """
import sqlalchemy as sa

metadata = sa.MetaData()
events = sa.Table("events", metadata, sa.Column("id", sa.Integer, primary_key=True),
                  sa.Column("at", sa.DateTime))
"""

TESTS = """
import datetime as dt

import pytest
import sqlalchemy as sa

from models import events


@pytest.mark.asyncio
async def test_1_aware_datetime(db_async_session):
    at = dt.datetime(2024, 1, 1, 12, tzinfo=dt.timezone.utc)
    await db_async_session.execute(events.insert().values(id=1, at=at))
    await db_async_session.commit()


@pytest.mark.asyncio
async def test_2_commits_a_row(db_async_session):
    await db_async_session.execute(events.insert().values(id=2, at=dt.datetime(2024, 1, 1)))
    await db_async_session.commit()


@pytest.mark.asyncio
async def test_3_nothing_left(db_async_connection, dbmatrix_backend):
    assert (await db_async_connection.scalar(sa.select(sa.func.count()).select_from(events))) == 0
    assert db_async_connection.dialect.driver == dbmatrix_backend.spec.driver


def test_4_sync(db_connection, dbmatrix_backend):
    assert db_connection.dialect.driver == dbmatrix_backend.spec.driver
    assert db_connection.scalar(sa.select(sa.func.count()).select_from(events)) == 0
"""


def _run(pytester: pytest.Pytester, backends: str) -> tuple[pytest.RunResult, dict[str, object]]:
    pytester.makepyfile(models=MODELS, test_drivers=TESTS)
    pytester.makeini("[pytest]\ndbmatrix_metadata = models:metadata\nasyncio_mode = strict\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--dbmatrix={backends}",
                                "--dbmatrix-strict", "--dbmatrix-report=report.json",
                                "--dbmatrix-html=report.html", "-rs")
    report = json.loads((pytester.path / "report.json").read_text())
    return result, report


def _outcomes(report: dict[str, object]) -> dict[str, dict[str, str]]:
    return {str(t["test"]).split("::")[-1]: {b: c["outcome"] for b, c in t["results"].items()}
            for t in report["tests"]}  # type: ignore[attr-defined, index]


def test_one_server_through_three_drivers_is_three_columns(
        pytester: pytest.Pytester, live_urls: dict[str, str]) -> None:
    columns = "postgresql+psycopg2,postgresql+asyncpg,postgresql+psycopg"
    result, report = _run(pytester, columns)
    outcomes = _outcomes(report)
    # asyncpg refuses an aware datetime for TIMESTAMP WITHOUT TIME ZONE; psycopg 3 takes it
    assert outcomes["test_1_aware_datetime"] == {"postgresql+psycopg2": "skipped",
                                                 "postgresql+asyncpg": "failed",
                                                 "postgresql+psycopg": "passed"}
    for test in ("test_2_commits_a_row", "test_3_nothing_left"):  # commits stay in the test
        assert outcomes[test]["postgresql+asyncpg"] == outcomes[test]["postgresql+psycopg"] == (
            "passed")
    assert outcomes["test_4_sync"] == {"postgresql+psycopg2": "passed",
                                       "postgresql+asyncpg": "skipped",
                                       "postgresql+psycopg": "passed"}
    drivers = {name: info["driver"] for name, info in report["backends"].items()}  # type: ignore[attr-defined]
    assert drivers == {"postgresql+psycopg2": "psycopg2", "postgresql+asyncpg": "asyncpg",
                       "postgresql+psycopg": "psycopg"}
    [incompatible] = report["incompatibilities"]  # type: ignore[misc]
    assert incompatible["test"] == "test_drivers.py::test_1_aware_datetime"
    assert incompatible["failed_on"]["postgresql+asyncpg"]["hazard"] == "asyncpg-aware-datetime"
    result.stdout.fnmatch_lines([
        "test_drivers.py::test_1_aware_datetime",
        "  passes on postgresql+psycopg; fails on postgresql+asyncpg",
        "*fix (asyncpg-aware-datetime): asyncpg refuses an aware datetime*",
    ])
    result.stdout.fnmatch_lines(["*backend 'postgresql+asyncpg' is the async driver asyncpg: "
                                 "it runs the db_async_* fixtures*"])
    page = (pytester.path / "report.html").read_text()
    assert "test_1_aware_datetime" in page and "asyncpg-aware-datetime" in page


def test_mysql_and_mariadb_through_their_async_drivers(pytester: pytest.Pytester,
                                                       live_urls: dict[str, str]) -> None:
    _, report = _run(pytester, "mariadb+aiomysql,mysql+asyncmy,mysql+pymysql,"
                                    "sqlite+aiosqlite")
    outcomes = _outcomes(report)
    for column in ("mariadb+aiomysql", "mysql+asyncmy", "sqlite+aiosqlite"):
        assert outcomes["test_1_aware_datetime"][column] == "passed", column
        assert outcomes["test_3_nothing_left"][column] == "passed", column
        assert outcomes["test_4_sync"][column] == "skipped", column
    assert outcomes["test_4_sync"]["mysql+pymysql"] == "passed"
    assert outcomes["test_3_nothing_left"]["mysql+pymysql"] == "skipped"
    assert report["backends"]["mysql+asyncmy"]["product"] == "MariaDB"  # type: ignore[index]


def test_an_unknown_driver_is_a_usage_error(pytester: pytest.Pytester,
                                            live_urls: dict[str, str]) -> None:
    pytester.makepyfile("def test_x(db_connection):\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider", "--dbmatrix=postgresql+pg9000")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([
        "*backend 'postgresql+pg9000' names the driver 'pg9000', which dbmatrix does not know "
        "for postgresql: choose one of postgresql+psycopg2, postgresql+psycopg, "
        "postgresql+asyncpg*"])


def test_a_driver_column_takes_its_server_from_the_base_name() -> None:
    """`postgresql+asyncpg` reads DBMATRIX_POSTGRESQL_URL (no shell has '+' in a variable)."""
    from pytest_dbmatrix.options import Sourced
    from pytest_dbmatrix.settings import _spec

    pairs = {"postgresql": Sourced(LIVE_URLS["postgresql"], "option --dbmatrix-url")}
    spec = _spec("postgresql+psycopg", pairs, {}, {}, {})
    assert spec.url is not None and spec.url.value.drivername == "postgresql+psycopg"
    assert (spec.driver, spec.serves_sync, spec.serves_async) == ("psycopg", True, True)
    assert spec.async_driver is not None and spec.async_driver.value == "psycopg"
    asyncpg = _spec("postgresql+asyncpg", pairs, {}, {}, {})
    assert asyncpg.url is not None and asyncpg.url.value.drivername == "postgresql+psycopg2"
    assert (asyncpg.serves_sync, asyncpg.serves_async) == (False, True)
    assert asyncpg.env_var == "DBMATRIX_POSTGRESQL_URL"


CONFORMANCE_MODELS = """
import sqlalchemy as sa

metadata = sa.MetaData()


class StrInt(sa.TypeDecorator):
    \"\"\"Ids kept as strings in Python, an integer in the database.\"\"\"
    impl = sa.Integer
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else str(value)

    def process_result_value(self, value, dialect):
        return None if value is None else int(value)


tickets = sa.Table("tickets", metadata, sa.Column("id", sa.Integer, primary_key=True),
                   sa.Column("number", StrInt, nullable=False),
                   sa.Column("title", sa.String(20)))
"""


def test_conformance_runs_through_every_driver_column(pytester: pytest.Pytester,
                                                      live_urls: dict[str, str]) -> None:
    """The live tiers run through each column's driver, async-only ones by run_sync: a str
    bound for an integer column is interpolated by psycopg2 and refused by asyncpg."""
    pytester.makepyfile(models=CONFORMANCE_MODELS)
    columns = "postgresql,postgresql+asyncpg,postgresql+psycopg,sqlite+aiosqlite,mysql+asyncmy"
    ran = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--dbmatrix-conformance", "--dbmatrix-metadata=models:metadata",
        "--dbmatrix-strict", f"--dbmatrix={columns}", "--dbmatrix-report=c.json")
    report = json.loads((pytester.path / "c.json").read_text())
    rows = {t["test"]: t["results"] for t in report["tests"]}
    roundtrip = {b: c["outcome"] for b, c in rows["conformance::roundtrip[tickets]"].items()}
    assert roundtrip == {"postgresql": "passed", "postgresql+asyncpg": "failed",
                         "postgresql+psycopg": "passed", "sqlite+aiosqlite": "failed",
                         "mysql+asyncmy": "passed"}, ran.stdout.str()[-3000:]
    for key in ("conformance::create[tickets]", "conformance::drop_all"):
        assert {c["outcome"] for c in rows[key].values()} == {"passed"}, (key, rows[key])
    constraints = rows["conformance::constraints[tickets]"]
    assert constraints.pop("postgresql+asyncpg")["outcome"] == "skipped"  # no row goes in
    assert {c["outcome"] for c in constraints.values()} == {"passed"}
    found = {(f["hazard"], f["backend"]) for f in report["findings"] if f["status"] == "failed"}
    assert found == {("server-side-binding", "postgresql+asyncpg"),
                     ("length-unenforced", "sqlite+aiosqlite")}
    assert "conformance::roundtrip[tickets]" in {i["test"] for i in report["incompatibilities"]}
    ran.stdout.fnmatch_lines(["*server-side-binding: 1 on postgresql+asyncpg*",
                              "*'str' object cannot be interpreted as an integer*"])


@pytest.mark.parametrize(("strict", "outcome"), [(False, "skipped"), (True, "failed")])
def test_conformance_through_a_missing_async_driver_says_what_to_install(
        pytester: pytest.Pytester, strict: bool, outcome: str) -> None:
    """The column's tables are made through the sync driver; the scenarios that need the
    async one skip (fail under --dbmatrix-strict) with one reason naming the extra."""
    pytester.makepyfile(models=MODELS)
    pytester.makeconftest('import sys\nsys.modules["aiosqlite"] = None  # not installed\n')
    ran = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--dbmatrix-conformance", "--dbmatrix-metadata=models:metadata",
        "--dbmatrix=sqlite+aiosqlite", "--dbmatrix-report=c.json", "-rs",
        *(["--dbmatrix-strict"] if strict else []))
    rows = {t["test"]: t["results"]["sqlite+aiosqlite"]["outcome"]
            for t in json.loads((pytester.path / "c.json").read_text())["tests"]
            if "sqlite+aiosqlite" in t["results"]}
    assert rows["conformance::create[events]"] == "passed"
    assert rows["conformance::roundtrip[events]"] == outcome
    assert rows["conformance::constraints[events]"] == outcome
    ran.stdout.fnmatch_lines(["*backend 'sqlite+aiosqlite': the async driver sqlite+aiosqlite "
                              "cannot be loaded (*); pip install 'pytest-dbmatrix[[]async[]]'*"])
