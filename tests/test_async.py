"""The async fixtures on every live backend with real async drivers: isolation, one shared
connection, pytest-asyncio's loop scopes in strict and auto mode, and anyio."""

from __future__ import annotations

import pytest

from tests.conftest import LIVE
from tests.test_isolation import MODELS

CONFTEST = """
import pytest

@pytest.fixture
def anyio_backend():
    return "asyncio"
"""

STRICT_TESTS = """
import pytest
import sqlalchemy as sa
from models import Parent

ENGINES = []

def count():
    return sa.select(sa.func.count()).select_from(Parent)

@pytest.mark.asyncio
@pytest.mark.parametrize("round", [1, 2])
async def test_session_commit_is_undone(db_async_session, db_async_engine, round):
    assert await db_async_session.scalar(count()) == 0
    db_async_session.add(Parent(name="committed"))
    await db_async_session.commit()
    assert await db_async_session.scalar(count()) == 1
    ENGINES.append(db_async_engine)

@pytest.mark.asyncio
async def test_function_loops_get_their_own_engine_disposed_with_the_loop(db_async_engine):
    earlier = ENGINES[-1]
    assert earlier is not db_async_engine
    assert earlier.sync_engine.pool.checkedin() == 0

@pytest.mark.asyncio
@pytest.mark.parametrize("round", [1, 2])
async def test_both_fixtures_share_one_connection(db_async_session, db_async_connection, round):
    assert await db_async_connection.scalar(count()) == 0
    db_async_session.add(Parent(name="shared"))
    await db_async_session.commit()
    assert await db_async_connection.scalar(count()) == 1
    session_conn = await db_async_session.connection()
    assert session_conn.sync_connection is db_async_connection.sync_connection
    assert db_async_connection.in_transaction()

@pytest.mark.asyncio
async def test_savepoint_rolls_back_inside_the_test(db_async_session):
    db_async_session.add(Parent(name="kept"))
    await db_async_session.flush()
    nested = await db_async_session.begin_nested()
    db_async_session.add(Parent(name="undone"))
    await db_async_session.flush()
    await nested.rollback()
    assert (await db_async_session.scalars(sa.select(Parent.name))).all() == ["kept"]

@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("round", [1, 2])
async def test_session_loop_reuses_its_engine(db_async_connection, db_async_engine, round):
    assert await db_async_connection.scalar(count()) == 0
    await db_async_connection.execute(sa.insert(Parent).values(name="row"))
    ENGINES.append(db_async_engine)
    if round == 2:
        assert ENGINES[-1] is ENGINES[-2]

@pytest.mark.anyio
@pytest.mark.parametrize("round", [1, 2])
async def test_anyio(db_async_session, round):
    assert await db_async_session.scalar(count()) == 0
    db_async_session.add(Parent(name="anyio"))
    await db_async_session.commit()

def test_sync_test_is_refused(db_async_session):
    pass
"""

AUTO_TESTS = """
import pytest
import sqlalchemy as sa
from models import Parent

@pytest.mark.parametrize("round", [1, 2])
async def test_unmarked(db_async_session, round):
    assert await db_async_session.scalar(sa.select(sa.func.count()).select_from(Parent)) == 0
    db_async_session.add(Parent(name="auto"))
    await db_async_session.commit()

@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("round", [1, 2])
async def test_session_loop(db_async_session, db_async_connection, round):
    assert await db_async_connection.scalar(sa.select(sa.func.count()).select_from(Parent)) == 0
    db_async_session.add(Parent(name="auto"))
    await db_async_session.commit()
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(models=MODELS, conftest=CONFTEST)
    pytester.syspathinsert()
    return pytester


def _ini(project: pytest.Pytester, mode: str) -> None:
    project.makeini(f"[pytest]\ndbmatrix_metadata = models:Base\nasyncio_mode = {mode}\n"
                    "asyncio_default_fixture_loop_scope = function\n")


def test_strict_mode_on_every_backend(project: pytest.Pytester,
                                      live_urls: dict[str, str]) -> None:
    """Nothing a committing test wrote is seen by the next one, both fixtures share one
    connection, function and session loops each use an engine of their own loop, anyio
    too; a sync test asking for an async fixture gets one clear error."""
    _ini(project, "strict")
    project.makepyfile(test_inner_async=STRICT_TESTS)
    result = project.runpytest(f"--dbmatrix={LIVE}", "--dbmatrix-strict", "-p", "no:randomly",
                               "-W", "error::ResourceWarning",
                               "-W", "error::pytest.PytestUnraisableExceptionWarning")
    result.assert_outcomes(passed=10 * 4, errors=4)
    result.stdout.fnmatch_lines([
        "*db_async_engine, db_async_session is an async fixture: use it from an `async def` "
        "test run by pytest-asyncio (@pytest.mark.asyncio, or asyncio_mode = auto) or by anyio "
        "(@pytest.mark.anyio)*",
    ])


def test_auto_mode_on_every_backend(project: pytest.Pytester,
                                    live_urls: dict[str, str]) -> None:
    _ini(project, "auto")
    project.makepyfile(test_inner_auto=AUTO_TESTS)
    result = project.runpytest(f"--dbmatrix={LIVE}", "--dbmatrix-strict", "-p", "no:randomly")
    result.assert_outcomes(passed=4 * 4)


def test_drivers_chosen_per_backend(project: pytest.Pytester,
                                    live_urls: dict[str, str]) -> None:
    """The family's default driver, or the one of the option or its ini twin."""
    project.makeini("[pytest]\ndbmatrix_metadata = models:Base\n"
                    "asyncio_default_fixture_loop_scope = function\n"
                    "dbmatrix_async_drivers =\n    mysql=asyncmy\n    postgresql=asyncpg\n")
    project.makepyfile("""
        import pytest
        import sqlalchemy as sa

        EXPECTED = {"sqlite": "aiosqlite", "postgresql": "psycopg", "mysql": "asyncmy",
                    "mariadb": "aiomysql"}

        @pytest.mark.asyncio
        async def test_driver(db_async_connection, dbmatrix_backend):
            assert db_async_connection.dialect.driver == EXPECTED[dbmatrix_backend.name]
            assert db_async_connection.dialect.is_async
            assert await db_async_connection.scalar(sa.text("select 1")) == 1
    """)
    result = project.runpytest(f"--dbmatrix={LIVE}", "--dbmatrix-strict",
                               "--dbmatrix-async-driver", "postgresql=psycopg")
    result.assert_outcomes(passed=4)


def test_unknown_driver_is_a_usage_error(project: pytest.Pytester) -> None:
    project.makepyfile("def test_x(): pass")
    result = project.runpytest("--dbmatrix-async-driver", "sqlite=asyncpg")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([
        "*dbmatrix: option --dbmatrix-async-driver gives async driver 'asyncpg' for 'sqlite'; "
        "the sqlite family has aiosqlite*",
    ])


MISSING_DRIVER = """
import sys
sys.modules["aiosqlite"] = None  # as if it were not installed
"""


@pytest.mark.parametrize(("strict", "outcome"), [(False, "skipped"), (True, "errors")])
def test_missing_driver_names_the_extra(project: pytest.Pytester, strict: bool,
                                        outcome: str) -> None:
    _ini(project, "strict")
    project.makeconftest(CONFTEST + MISSING_DRIVER)
    project.makepyfile("""
        import pytest

        @pytest.mark.asyncio
        @pytest.mark.parametrize("n", [1, 2])
        async def test_x(db_async_session, n):
            pass
    """)
    result = project.runpytest_subprocess("-rs", *(["--dbmatrix-strict"] if strict else []))
    result.assert_outcomes(**{outcome: 2})
    result.stdout.fnmatch_lines([
        "*dbmatrix: backend 'sqlite': the async driver sqlite+aiosqlite cannot be loaded (*); "
        "pip install 'pytest-dbmatrix[[]async[]]' (or pip install aiosqlite)*",
    ])


@pytest.mark.parametrize(("kind", "sync_url", "driver", "expected"), [
    ("sqlite", "sqlite+pysqlite:////tmp/x.db", None, "sqlite+aiosqlite:////tmp/x.db"),
    ("postgresql", "postgresql+psycopg2://u@h:5432/db", None, "postgresql+asyncpg://u@h:5432/db"),
    ("postgresql", "postgresql+psycopg2://u@h/db", "psycopg", "postgresql+psycopg://u@h/db"),
    ("mysql", "mysql+pymysql://u@h/db", None, "mysql+aiomysql://u@h/db"),
    ("mysql", "mysql+pymysql://u@h/db", "asyncmy", "mysql+asyncmy://u@h/db"),
    ("mariadb", "mariadb+pymysql://u@h/db", None, "mariadb+aiomysql://u@h/db"),
    ("mariadb", "mariadb+pymysql://u@h/db", "asyncmy", "mariadb+asyncmy://u@h/db"),
    ("mssql", "mssql+pyodbc://u@h/db?driver=FreeTDS", None,
     "mssql+aioodbc://u@h/db?driver=FreeTDS"),
])
def test_async_url_per_family(kind: str, sync_url: str, driver: str | None,
                              expected: str) -> None:
    import sqlalchemy as sa

    from pytest_dbmatrix.backends import FAMILIES

    url = FAMILIES[kind].async_url(sa.make_url(sync_url), driver)
    assert url.render_as_string(hide_password=False) == expected
    assert url.get_dialect(_is_async=True).is_async  # what create_async_engine loads


def test_mssql_aioodbc_maps_and_compiles_without_a_server() -> None:
    """No SQL Server here: the aioodbc URL gets the ODBC defaults and compiles DDL."""
    import sqlalchemy as sa

    from pytest_dbmatrix.backends import FAMILIES

    family = FAMILIES["mssql"]
    url = family.with_driver_defaults(family.async_url(sa.make_url("mssql+pyodbc://sa@h/db")))
    assert url.query["TrustServerCertificate"] == "yes"
    assert family.connect_args(url, 2.4) == {"timeout": 2}
    dialect = sa.create_mock_engine(url, lambda *a, **k: None).dialect
    table = sa.Table("t", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True))
    assert "IDENTITY" in str(sa.schema.CreateTable(table).compile(dialect=dialect))


def test_family_without_the_driver_refuses_it() -> None:
    import sqlalchemy as sa

    from pytest_dbmatrix.backends import FAMILIES

    with pytest.raises(ValueError, match="sqlite has no async driver 'asyncpg'"):
        FAMILIES["sqlite"].async_url(sa.make_url("sqlite://"), "asyncpg")


@pytest.mark.parametrize(("message", "dialect", "hazard"), [
    ("sqlalchemy.exc.InvalidRequestError: The asyncio extension requires an async driver to "
     "be used. The loaded 'psycopg2' is not async.", "postgresql", "async-driver"),
    ("sqlalchemy.exc.MissingGreenlet: greenlet_spawn has not been called; can't call await_() "
     "here. Was IO attempted in an unexpected place?", "postgresql", "missing-greenlet"),
    ("(sqlalchemy.dialects.postgresql.asyncpg.Error) invalid input for query argument $1: "
     "datetime.datetime(2024, 1, 1, 12, 0, tzi... (can't subtract offset-naive and "
     "offset-aware datetimes)", "postgresql", "asyncpg-aware-datetime"),
    ('(psycopg.errors.DatatypeMismatch) column "i" is of type integer but expression is of '
     "type character varying", "postgresql", "server-side-binding"),
    ("(sqlalchemy.dialects.postgresql.asyncpg.ProgrammingError) column \"n\" is of type "
     "numeric but expression is of type character varying", "postgresql",
     "server-side-binding"),
])
def test_driver_hazards_match_the_measured_errors(message: str, dialect: str,
                                                  hazard: str) -> None:
    """The texts are those measured on this machine's servers (see catalogue.py)."""
    from pytest_dbmatrix.catalogue import find_hazard

    found = find_hazard(message, dialect)
    assert found is not None
    assert found.id == hazard


def test_driver_difference_is_an_incompatibility_with_its_fix(
        project: pytest.Pytester, live_urls: dict[str, str]) -> None:
    """An aware datetime into a timestamp column: asyncpg refuses it, psycopg 3 accepts it."""
    _ini(project, "strict")
    project.makepyfile("""
        import datetime as dt
        import pytest
        import sqlalchemy as sa

        @pytest.mark.asyncio
        async def test_aware_into_timestamp(db_async_connection):
            table = sa.Table("ev", sa.MetaData(), sa.Column("at", sa.DateTime),
                             prefixes=["TEMPORARY"])
            await db_async_connection.run_sync(table.create)
            aware = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
            await db_async_connection.execute(sa.insert(table).values(at=aware))
    """)
    result = project.runpytest("--dbmatrix=sqlite,postgresql", "--dbmatrix-strict")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "*passes on sqlite; fails on postgresql*",
        "*can't subtract offset-naive and offset-aware datetimes*",
        "*fix (asyncpg-aware-datetime): asyncpg refuses an aware datetime*",
    ])
    result = project.runpytest("--dbmatrix=sqlite,postgresql", "--dbmatrix-strict",
                               "--dbmatrix-async-driver", "postgresql=psycopg")
    result.assert_outcomes(passed=2)
