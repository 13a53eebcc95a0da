"""The matrix, incompatibilities, JSON report and JUnit properties of a real mixed run."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.conftest import LIVE

STRING_WITHOUT_LENGTH = """
import sqlalchemy as sa

def test_string_without_length(db_connection):
    metadata = sa.MetaData()
    users = sa.Table("users", metadata, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("name", sa.String))
    metadata.create_all(db_connection)
    db_connection.execute(users.insert().values(name="Eric"))
    assert db_connection.scalar(sa.select(users.c.name)) == "Eric"

def test_case_sensitive_compare(db_connection):
    assert db_connection.scalar(sa.text("SELECT CASE WHEN 'Eric' = 'eric' THEN 1 ELSE 0 END")) == 0

def test_same_everywhere(db_connection):
    assert db_connection.scalar(sa.text("SELECT 1")) == 1
"""


@pytest.fixture
def mixed_run(pytester: pytest.Pytester, live_urls: dict[str, str]) -> pytest.RunResult:
    pytester.makepyfile(test_app=STRING_WITHOUT_LENGTH)
    return pytester.runpytest(f"--dbmatrix={LIVE}", "--dbmatrix-strict",
                              "--dbmatrix-report=out/report.json", "--junitxml=junit.xml",
                              "--dbmatrix-summary=full")


def test_terminal_matrix_and_incompatibilities(mixed_run: pytest.RunResult) -> None:
    mixed_run.assert_outcomes(passed=3 + 3 + 1 + 1, failed=4)
    mixed_run.stdout.fnmatch_lines([
        "*= dbmatrix =*",
        "sqlite (SQLite *): 3 passed",
        "postgresql (PostgreSQL 15*): 3 passed",
        "mysql (MariaDB 10*): 2 failed, 1 passed",
        "test *sqlite*postgresql*mysql*mariadb*",
        "test_app.py::test_string_without_length *pass*pass*FAIL*FAIL*",
        "test_app.py::test_same_everywhere *pass*pass*pass*pass*",
        "*dbmatrix incompatibilities: 2*",
        "test_app.py::test_string_without_length",
        "  passes on sqlite, postgresql; fails on mysql, mariadb",
        "  mysql [[]mysql[]] failed: CompileError: *VARCHAR requires a length on dialect mysql",
        "    fix (varchar-length): give the column a length*",
        "  mariadb [[]mariadb[]] failed: CompileError: *VARCHAR requires a length on*mariadb",
        "test_app.py::test_case_sensitive_compare",
        "  mysql [[]mysql[]] failed: AssertionError: assert 1 == 0*",
    ])
    mixed_run.stdout.fnmatch_lines(["*mysql: MariaDB 10.11* via url*mysql dialect against a "
                                    "MariaDB server*"])


def test_json_report(mixed_run: pytest.RunResult, pytester: pytest.Pytester) -> None:
    data = json.loads((pytester.path / "out" / "report.json").read_text())
    assert data["schema"] == "pytest-dbmatrix/report/1"
    assert data["backends"]["mysql"]["product"] == "MariaDB"
    assert data["backends"]["mysql"]["dialect"] == "mysql"
    assert data["backends"]["postgresql"]["provider"] == "url"
    assert data["totals"]["mariadb"] == {"failed": 2, "passed": 1}
    rows = {t["test"]: t["results"] for t in data["tests"]}
    assert rows["test_app.py::test_string_without_length"]["sqlite"]["outcome"] == "passed"
    incompatible = {i["test"]: i for i in data["incompatibilities"]}
    varchar = incompatible["test_app.py::test_string_without_length"]
    assert varchar["passed_on"] == ["sqlite", "postgresql"]
    mysql = varchar["failed_on"]["mysql"]
    assert mysql["hazard"] == "varchar-length"
    assert mysql["error"]["exception"] == "CompileError"
    assert "VARCHAR requires a length" in mysql["error"]["message"]
    assert set(varchar["failed_on"]) == {"mysql", "mariadb"}


def test_junit_properties(mixed_run: pytest.RunResult, pytester: pytest.Pytester) -> None:
    tree = ET.parse(pytester.path / "junit.xml")
    case = next(c for c in tree.iter("testcase")
                if c.get("name") == "test_same_everywhere[mysql]")
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert props["dbmatrix_backend"] == "mysql"
    assert props["dbmatrix_server"].startswith("MariaDB 10.11")
    assert props["dbmatrix_dialect"] == "mysql"
    for case in tree.iter("testcase"):  # each item its own backend's properties, each once
        names = [p.get("name") for p in case.iter("property")]
        values = {p.get("name"): p.get("value") for p in case.iter("property")}
        expected = ["dbmatrix_backend", "dbmatrix_dialect", "dbmatrix_provider",
                    "dbmatrix_server", "dbmatrix_test"]
        if case.find("failure") is not None:  # the normalised error, for dbmatrix merge
            expected.append("dbmatrix_error")
        assert sorted(names) == sorted(expected), case.get("name")
        assert values["dbmatrix_test"] == "test_app.py::" + case.get("name").split("[")[0]
        assert case.get("name").endswith(f"[{values['dbmatrix_backend']}]")


def test_driver_error_normalised_with_code(pytester: pytest.Pytester,
                                           live_urls: dict[str, str]) -> None:
    pytester.makepyfile("""
        import sqlalchemy as sa
        def test_duplicate(db_connection, dbmatrix_backend):
            db_connection.exec_driver_sql("CREATE TABLE IF NOT EXISTS dup (x INTEGER PRIMARY KEY)")
            db_connection.exec_driver_sql("INSERT INTO dup VALUES (1)")
            if dbmatrix_backend.name != "sqlite":
                db_connection.exec_driver_sql("INSERT INTO dup VALUES (1)")
    """)
    result = pytester.runpytest("--dbmatrix=sqlite,postgresql,mariadb", "--dbmatrix-strict",
                                "--dbmatrix-report=r.json")
    result.assert_outcomes(passed=1, failed=2)
    failed = json.loads(Path(pytester.path / "r.json").read_text())["incompatibilities"][0]
    pg = failed["failed_on"]["postgresql"]["error"]
    assert (pg["exception"], pg["code"]) == ("IntegrityError", "23505")
    ma = failed["failed_on"]["mariadb"]["error"]
    assert (ma["exception"], ma["code"]) == ("IntegrityError", "1062")
    assert ma["message"].startswith("Duplicate entry '1' for key")
    assert failed["failed_on"]["mariadb"]["hazard"] == "integrity-error-codes"


def test_unavailable_backend_skips_with_one_reason_or_errors_when_strict(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile("def test_db(db_connection):\n    pass\n")
    result = pytester.runpytest("--dbmatrix=sqlite,mssql", "--dbmatrix-provider=mssql=url", "-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines([
        "*dbmatrix: backend 'mssql' unavailable: no URL given: pass --dbmatrix-url mssql=URL, "
        "set DBMATRIX_MSSQL_URL, or add 'mssql=URL' to ini dbmatrix_urls*",
    ])
    result = pytester.runpytest("--dbmatrix=sqlite,mssql", "--dbmatrix-provider=mssql=url",
                                "--dbmatrix-strict")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*required by option --dbmatrix-strict*"])


def test_password_never_printed(pytester: pytest.Pytester, live_urls: dict[str, str]) -> None:
    secret = "Zq7-unguessable-pw"
    url = live_urls["postgresql"].replace("postgres@", f"postgres:{secret}@")
    pytester.makepyfile("""
        def test_show(db_url, dbmatrix_backend):
            print("url:", db_url, dbmatrix_backend.masked_url, dbmatrix_backend)
            raise RuntimeError(f"boom {db_url.render_as_string(hide_password=False)}")
    """)
    result = pytester.runpytest("--dbmatrix=postgresql", f"--dbmatrix-url=postgresql={url}",
                                "--dbmatrix-strict", "-v", "--dbmatrix-report=r.json",
                                "--junitxml=j.xml")
    result.assert_outcomes(failed=1)
    output = result.stdout.str() + result.stderr.str()
    assert "postgres:***@127.0.0.1" in output
    for text in (output, (pytester.path / "r.json").read_text(),
                 (pytester.path / "j.xml").read_text()):
        assert secret not in text


def test_a_slow_partial_write_is_repeated_less_often(monkeypatch: pytest.MonkeyPatch) -> None:
    """Partial writes take at most WRITE_SHARE of the run: a report that takes 1 s to write
    (a large suite, a slow machine) is rewritten after 50 s, not every 10 s."""
    from types import SimpleNamespace

    from pytest_dbmatrix.report import json_report

    clock = iter([100.0, 100.001, 200.0, 201.0])
    monkeypatch.setattr(json_report.time, "monotonic", lambda: next(clock))
    monkeypatch.setattr(json_report, "write", lambda *args, **kwargs: None)
    state = SimpleNamespace(settings=SimpleNamespace(report=SimpleNamespace(value="r.json")),
                            is_worker=False)
    writer = json_report.JsonReport(state)  # type: ignore[arg-type]
    writer._partial()  # a quick write: the usual interval
    assert writer.next_write == pytest.approx(100.001 + json_report.REFRESH_SECONDS)
    writer._partial()  # a write of 1 s: 50 s until the next
    assert writer.next_write == pytest.approx(201.0 + 1.0 / json_report.WRITE_SHARE)
