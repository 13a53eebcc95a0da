"""The conformance suite on the sample applications of conformance/, live on SQLite, PostgreSQL,
MySQL (dialect on MariaDB) and MariaDB, static for every dialect including mssql and oracle."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from pytest_dbmatrix.findings import Finding
from tests.conftest import LIVE

SAMPLES = Path(__file__).resolve().parent.parent / "conformance"
APPS = ("shop", "byodb", "rich_types")
Key = tuple[str, str, str, str]


def _keys(findings: list[dict[str, Any]], hazard: str = "hazard") -> set[Key]:
    """(table, column, hazard, backend); expected.json names the hazard `category`."""
    return {(f["table"], f["column"] or "", f[hazard], f["backend"]) for f in findings}


def _run(pytester: pytest.Pytester, app: str, *args: str) -> tuple[pytest.RunResult, dict[str,
                                                                                          Any]]:
    shutil.copytree(SAMPLES / app, pytester.path / app)
    result = pytester.runpytest("--dbmatrix-conformance", f"--dbmatrix-metadata={app}.models:Base",
                                "--dbmatrix-report=report.json", "-p", "no:cacheprovider", *args)
    return result, json.loads((pytester.path / "report.json").read_text())


@pytest.mark.parametrize("app", APPS)
def test_sample_reports_every_expected_finding_and_nothing_else(
        pytester: pytest.Pytester, live_urls: dict[str, str], app: str) -> None:
    expected = json.loads((SAMPLES / app / "expected.json").read_text())
    result, report = _run(pytester, app, f"--dbmatrix={LIVE}", "--dbmatrix-strict")
    found = _keys(report["conformance"]["findings"])
    wanted = _keys(expected["findings"], "category")
    assert all(f["hazard"] and f["severity"] in ("error", "warning") and f["status"]
               for f in report["findings"]), "every finding names its hazard and severity"
    assert sorted(wanted - found) == [], "expected findings missing"
    assert sorted(found - wanted) == [], "unexpected findings"
    assert report["backends"]["mssql"]["status"] == "compile-only"
    assert report["backends"]["mysql"]["dialect"] == "mysql"
    assert report["backends"]["mysql"]["product"] == "MariaDB"
    errors = [t for t in report["tests"] for c in t["results"].values()
              if c["outcome"] == "error"]
    assert errors == []
    result.stdout.fnmatch_lines(["*dbmatrix findings by hazard: * in * hazards*"])


def test_findings_name_table_column_backend_and_fix(pytester: pytest.Pytester,
                                                    live_urls: dict[str, str]) -> None:
    result, report = _run(pytester, "shop", f"--dbmatrix={LIVE}", "--dbmatrix-strict")
    by_key = {(f["table"], f["column"], f["hazard"], f["backend"]): f
              for f in report["conformance"]["findings"]}
    precision = by_key[("orders", "placed_at", "datetime-precision", "mysql")]
    assert precision["before"] == "datetime.datetime(2024, 2, 29, 23, 59, 58, 123456)"
    assert precision["after"] == "datetime.datetime(2024, 2, 29, 23, 59, 58)"
    assert "fsp=6" in precision["hint"]
    compare = by_key[("customers", "email", "case-insensitive-compare",
                      "mariadb,mysql | postgresql,sqlite")]
    assert compare["check"] == "differential"
    check = by_key[("order_lines", "quantity", "check-enforcement", "mariadb")]
    assert "4025" in check["message"]
    nulls = by_key[("customers", "phone", "unique-multiple-nulls", "mssql")]
    assert nulls["check"] == "static"
    incompatible = {i["test"]: i for i in report["incompatibilities"]}
    unique = incompatible["conformance::constraints[customers]"]
    assert set(unique["failed_on"]) == {"mysql", "mariadb"}
    assert set(unique["passed_on"]) == {"sqlite", "postgresql"}
    result.stdout.fnmatch_lines([
        "ERROR   datetime-precision: 2 on mariadb, mysql (2 failed)",
        "        in orders.placed_at*",
        "        e.g. m*db orders.placed_at: *wrote datetime.datetime(2024, 2, 29, 23, 59, 58, "
        "123456), read datetime.datetime(2024, 2, 29, 23, 59, 58)*",
        "        fix: keep microseconds with mysql.DATETIME(fsp=6)*",
    ])


def test_ids_marker_and_selection(pytester: pytest.Pytester) -> None:
    shutil.copytree(SAMPLES / "shop", pytester.path / "shop")
    args = ("--dbmatrix-conformance", "--dbmatrix-metadata=shop.models:Base", "-p",
            "no:cacheprovider", "--dbmatrix=sqlite,mariadb")
    listed = pytester.runpytest(*args, "--collect-only", "-q")
    assert {"conformance::static[customers][mssql]", "conformance::static[customers][oracle]",
            "conformance::roundtrip[orders][mariadb]",
            "conformance::constraints[order_lines][sqlite]",
            "conformance::differential[products]",
            "conformance::drop_all[mariadb]"} <= set(listed.stdout.lines)
    chosen = pytester.runpytest(*args, "--collect-only", "-q", "-m", "dbmatrix_conformance",
                                "-k", "roundtrip and orders and not lines")
    ids = [line for line in chosen.stdout.lines if line.startswith("conformance::")]
    assert ids == ["conformance::roundtrip[orders][sqlite]",
                   "conformance::roundtrip[orders][mariadb]"]


def test_static_dialects_need_no_server(pytester: pytest.Pytester) -> None:
    """mssql selected without a server: its static items still run; its live items skip."""
    result, report = _run(pytester, "byodb", "--dbmatrix=sqlite,mssql", "-k", "mssql")
    rows = {t["test"]: t["results"] for t in report["tests"]}
    assert rows["conformance::static[comments]"]["mssql"]["outcome"] == "failed"
    assert rows["conformance::static[posts]"]["mssql"]["outcome"] == "passed"  # a warning
    assert rows["conformance::roundtrip[posts]"]["mssql"]["outcome"] == "skipped"
    found = _keys(report["conformance"]["findings"])
    assert ("comments", "author_id", "mssql-cascade-paths", "mssql") in found
    assert ("user", "login", "mssql-max-key", "mssql") in found
    reserved = {f["table"]: f for f in report["conformance"]["findings"]
                if f["hazard"] == "reserved-word"}
    assert reserved["posts"]["severity"] == "warning"
    assert reserved["posts"]["status"] == "reported"
    result.assert_outcomes(failed=3, passed=2, skipped=16)  # 5 tables x 3 live tiers + drop_all


def test_sqlite_foreign_keys_off_is_reported(pytester: pytest.Pytester) -> None:
    result, report = _run(pytester, "shop", "--dbmatrix-sqlite-foreign-keys=off",
                          "-k", "constraints")
    found = _keys(report["conformance"]["findings"])
    assert ("orders", "customer_id", "sqlite-fk-off", "sqlite") in found
    assert ("order_lines", "order_id", "sqlite-fk-off", "sqlite") in found
    assert not any(k[2] == "fk-unenforced" for k in found), "the suite runs with FKs on"
    result.stdout.fnmatch_lines(["*option --dbmatrix-sqlite-foreign-keys leaves them off*"])


def test_user_tests_share_the_run_with_the_suite(pytester: pytest.Pytester,
                                                 live_urls: dict[str, str]) -> None:
    """The suite drops its tables before the user's tests create theirs in the same database."""
    pytester.makepyfile(test_user="""
        import sqlalchemy as sa

        def test_customers_table(db_connection):
            assert sa.inspect(db_connection).has_table("customers")
    """)
    _, report = _run(pytester, "shop", "--dbmatrix=sqlite,postgresql,mariadb",
                          "--dbmatrix-strict", "-k", "drop_all or create or test_customers")
    rows = {t["test"]: t["results"] for t in report["tests"]}
    assert {c["outcome"] for c in rows["test_user.py::test_customers_table"].values()} == {
        "passed"}
    assert {c["outcome"] for c in rows["conformance::drop_all"].values()} == {"passed"}


def test_missing_metadata_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--dbmatrix-conformance")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--dbmatrix-conformance generates tests from your models*"
                                 "--dbmatrix-metadata=MODULE:ATTR*"])


def test_every_hazard_needs_a_hint() -> None:
    with pytest.raises(ValueError, match=r"no entry in catalogue\.py"):
        Finding("made-up", "live", "sqlite", "detail", "sqlite", "t")
    finding = Finding("drop-cycle", "live", "mysql", "detail", "mysql", "t", "c")
    assert "use_alter=True" in finding.hint


def test_cascade_conflicts_are_cycles_and_multiple_paths_computed_once_per_plan() -> None:
    from pytest_dbmatrix.conformance.schema import SchemaPlan
    from pytest_dbmatrix.conformance.static import cascade_conflicts

    metadata = sa.MetaData()
    sa.Table("a", metadata, sa.Column("id", sa.Integer, primary_key=True))
    sa.Table("b", metadata, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("a_id", sa.ForeignKey("a.id", ondelete="CASCADE")))
    sa.Table("c", metadata, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("a_id", sa.ForeignKey("a.id", ondelete="CASCADE")),
             sa.Column("b_id", sa.ForeignKey("b.id", ondelete="CASCADE")),
             sa.Column("other", sa.ForeignKey("b.id")))  # no cascade: no conflict
    plan = SchemaPlan.of(metadata)
    found = cascade_conflicts(plan)
    assert list(found) == ["c"]
    assert [problem for _, problem in found["c"]] == ["multiple cascade paths from a"]
    assert cascade_conflicts(plan) is found
    assert cascade_conflicts(SchemaPlan.of(sa.MetaData())) == {}


DRIVER_COLUMNS = ("sqlite+aiosqlite,postgresql+asyncpg,postgresql+psycopg,mariadb+aiomysql,"
                  "mysql+asyncmy")


def test_async_driver_sample_fails_where_expected_and_nowhere_else(
        pytester: pytest.Pytester, live_urls: dict[str, str]) -> None:
    """conformance/async_drivers: hand-written async tests through every async driver."""
    shutil.copytree(SAMPLES / "async_drivers", pytester.path / "async_drivers")
    # a process of its own: many async drivers loaded in one process by earlier in-process
    # runs crashed the interpreter here (a segfault, not reproduced alone)
    pytester.runpytest_subprocess("async_drivers/driver_hazards.py", f"--dbmatrix={DRIVER_COLUMNS}",
                       "--dbmatrix-strict", "--dbmatrix-metadata=async_drivers.models:Base",
                       "--dbmatrix-report=report.json", "-p", "no:cacheprovider")
    checker = _check_module()
    assert checker.check(SAMPLES / "async_drivers", pytester.path / "report.json") == []
    report = json.loads((pytester.path / "report.json").read_text())
    failing = {i["test"].rsplit("::", 1)[-1]: set(i["failed_on"])
               for i in report["incompatibilities"]}
    assert failing == {"test_aware_datetime_into_a_naive_column": {"postgresql+asyncpg"},
                       "test_string_bound_to_an_integer_column": {"postgresql+asyncpg",
                                                                  "postgresql+psycopg"}}


def _check_module() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("check", SAMPLES / "check.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
