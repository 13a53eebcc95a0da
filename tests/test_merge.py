"""`dbmatrix merge`: reports of one-backend jobs joined into the matrix of one run over all of
them, against the real servers; baselines, Markdown, HTML in Chromium, bad input."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_dbmatrix.report import identity, markdown
from tests.conftest import LIVE, LIVE_URLS
from tests.test_html import _count, _png_rows, browse, chromium, dump_dom  # noqa: F401
from tests.test_report import STRING_WITHOUT_LENGTH

APP = STRING_WITHOUT_LENGTH + """
import pytest

def test_value_too_long(db_connection):
    db_connection.exec_driver_sql("CREATE TEMPORARY TABLE codes (code VARCHAR(3))")
    db_connection.exec_driver_sql("INSERT INTO codes (code) VALUES ('abcdef')")

def test_duplicate(db_connection, dbmatrix_backend):
    db_connection.exec_driver_sql("CREATE TEMPORARY TABLE dup (x INTEGER PRIMARY KEY)")
    db_connection.exec_driver_sql("INSERT INTO dup VALUES (1)")
    if dbmatrix_backend.name != "sqlite":
        db_connection.exec_driver_sql("INSERT INTO dup VALUES (1)")

@pytest.mark.parametrize("n", [2])
def test_parametrized(db_connection, n):
    assert db_connection.scalar(sa.text(f"SELECT {n}")) == n

def test_skipped(db_connection):
    pytest.skip("not here")
"""
BACKENDS = LIVE.split(",")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("DBMATRIX_") and k not in ("TOX_ENV_NAME", "GITHUB_JOB",
                                                          "GITHUB_STEP_SUMMARY")}
    env.update({f"DBMATRIX_{n.upper()}_URL": url for n, url in LIVE_URLS.items()})
    return env


def inner_pytest(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
                          cwd=path, env=_env(), capture_output=True, text=True, timeout=600)


def merge(path: Path, *args: str, env: dict[str, str] | None = None,
          ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest_dbmatrix", "merge", *args], cwd=path,
                          env=env or _env(), capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One run on every live backend, and one process per backend as tox runs them, each
    with its JSON report and JUnit XML."""
    path = tmp_path_factory.mktemp("merge_runs")
    (path / "test_app.py").write_text(APP)
    (path / "pytest.ini").write_text("[pytest]\n")
    single = inner_pytest(path, f"--dbmatrix={LIVE}", "--dbmatrix-strict",
                          "--dbmatrix-report=single.json", "--junitxml=single.xml")
    assert single.returncode == 1, single.stdout[-3000:]
    for backend in BACKENDS:
        one = inner_pytest(path, f"--dbmatrix={backend}", "--dbmatrix-strict",
                           f"--dbmatrix-report=jobs/{backend}.json",
                           f"--junitxml=junit/{backend}.xml", f"--dbmatrix-label={backend}")
        assert one.returncode in (0, 1), one.stdout[-3000:]
    return path


def _comparable(data: dict[str, Any]) -> dict[str, Any]:
    """What must be equal between a single run and a merge: timings aside."""
    return {"matrix": {row["test"]: {b: c["outcome"] for b, c in row["results"].items()}
                       for row in data["tests"]},
            "incompatibilities": data["incompatibilities"], "totals": data["totals"],
            "columns": list(data["totals"])}


@pytest.mark.parametrize("kind", ["json", "junit"])
def test_merged_jobs_equal_one_run_over_all_backends(runs: Path, kind: str) -> None:
    files = [f"jobs/{b}.json" if kind == "json" else f"junit/{b}.xml" for b in BACKENDS]
    result = merge(runs, *files, f"--json=merged-{kind}.json", "--summary=full")
    assert result.returncode == 1, result.stderr  # incompatibilities found: --fail-on default
    single = json.loads((runs / "single.json").read_text())
    merged = json.loads((runs / f"merged-{kind}.json").read_text())
    assert _comparable(merged) == _comparable(single)
    tests = {i["test"]: i for i in merged["incompatibilities"]}
    assert set(tests) == {"test_app.py::test_string_without_length",
                          "test_app.py::test_case_sensitive_compare",
                          "test_app.py::test_value_too_long", "test_app.py::test_duplicate"}
    duplicate = tests["test_app.py::test_duplicate"]["failed_on"]
    assert duplicate["postgresql"]["error"]["code"] == "23505"
    assert duplicate["mariadb"]["hazard"] == "integrity-error-codes"
    varchar = tests["test_app.py::test_string_without_length"]["failed_on"]["mysql"]
    assert varchar["hint"].startswith("give the column a length")
    assert merged["totals"]["sqlite"] == {"passed": 6, "skipped": 1}
    assert [m["label"] for m in merged["merged_from"]] == BACKENDS
    assert merged["run"]["status"] == "finished"
    assert "dbmatrix incompatibilities: 4" in result.stdout
    assert re.search(r"test_app.py::test_string_without_length +pass +pass +FAIL +FAIL",
                     result.stdout)
    assert "    fix (varchar-length): give the column a length" in result.stdout


def test_every_json_report_says_who_ran_and_that_it_finished(runs: Path) -> None:
    data = json.loads((runs / "jobs/postgresql.json").read_text())
    run = data["run"]
    assert data["schema"] == "pytest-dbmatrix/report/1"
    assert (run["label"], run["label_source"]) == ("postgresql", "option --dbmatrix-label")
    assert run["status"] == "finished" and run["reason"] is None
    assert run["started"] <= run["ended"]
    single = json.loads((runs / "single.json").read_text())["run"]
    assert single["label_source"] == "host name"


def test_merged_junit_reads_back_as_the_same_matrix(runs: Path) -> None:
    first = merge(runs, "jobs/", "--junit=merged.xml", "--json=a.json", "--fail-on=never")
    assert first.returncode == 0, first.stderr
    again = merge(runs, "merged.xml", "--json=b.json", "--fail-on=never")
    assert again.returncode == 0, again.stderr
    a, b = (json.loads((runs / name).read_text()) for name in ("a.json", "b.json"))
    assert _comparable(a) == _comparable(b)


def test_markdown_summary_renders_and_is_capped(runs: Path) -> None:
    from markdown_it import MarkdownIt

    data = json.loads((runs / "single.json").read_text())
    html = MarkdownIt("commonmark").enable("table").render(markdown.render(data, limit=2))
    tables = re.findall(r"<table>.*?</table>", html, re.S)
    assert len(tables) == 2
    assert tables[0].count("<tr>") == 1 + 4  # header and one row per backend
    assert "<td>MariaDB 10.11.19</td>" in tables[0] or "MariaDB 10.11" in tables[0]
    assert "<code>test_app.py::test_string_without_length</code>" in tables[1]
    assert "VARCHAR requires a length on dialect mysql" in tables[1]
    assert "give the column a length" in tables[1]
    assert "… and 2 more incompatibilities" in html
    assert "<h2>dbmatrix: 4 incompatibilities</h2>" in html


def test_step_summary_appended_when_no_markdown_given(runs: Path, tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("# earlier step\n")
    env = dict(_env(), GITHUB_STEP_SUMMARY=str(summary))
    result = merge(runs, "jobs/*.json", "--fail-on=never", env=env)
    assert result.returncode == 0, result.stderr
    text = summary.read_text()
    assert text.startswith("# earlier step\n## dbmatrix: 4 incompatibilities")


def test_merged_html_shows_the_matrix_in_chromium(runs: Path, chromium: str,  # noqa: F811
                                                  tmp_path: Path) -> None:
    result = merge(runs, "jobs/*.json", "--html=merged.html")
    assert result.returncode == 1, result.stderr
    page = runs / "merged.html"
    dom = dump_dom(chromium, page)
    rows = re.findall(r"<tr data-test=\"([^\"]+)\"[^>]*>", dom)
    assert len(rows) == 7 and "7 of 7 tests shown" in dom
    cells = re.findall(r'data-col="(\w+)" data-outcome="(\w+)"', dom)
    assert dict(cells[:4]) == {"sqlite": "passed", "postgresql": "passed", "mysql": "failed",
                               "mariadb": "failed"}  # columns in the order of the files
    assert "Incompatibilities (4)" in dom and "merged from 4 reports" in dom
    shot = tmp_path / "merged.png"
    browse(chromium, page, "--window-size=1280,900", f"--screenshot={shot}")
    channels, pixels = _png_rows(shot.read_bytes())
    passed = _count(pixels, channels, bytes((0xC8, 0xE6, 0xC9)))
    failed = _count(pixels, channels, bytes((0xFF, 0xCD, 0xD2)))
    assert passed > 2000 and failed > 2000, (passed, failed)


BASE = """
import sqlalchemy as sa

def test_users(db_connection):
    sa.Table("users", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("name", sa.String{users})).create(db_connection)

def test_compare(db_connection):
    assert db_connection.scalar(sa.text("SELECT CASE WHEN 'a' = {other} THEN 1 ELSE 0 END")) == 0
"""


def _version(path: Path, name: str, users: str, other: str) -> Path:
    """The app at one commit, run as two jobs (sqlite, mysql), merged to NAME.json."""
    where = path / name
    where.mkdir()
    (where / "pytest.ini").write_text("[pytest]\n")
    (where / "test_app.py").write_text(BASE.format(users=users, other=other))
    for backend in ("sqlite", "mysql"):
        inner_pytest(where, f"--dbmatrix={backend}", "--dbmatrix-strict",
                     f"--dbmatrix-report=jobs/{backend}.json", f"--dbmatrix-label={backend}")
    return where


def test_baseline_new_still_fixed_and_fail_on_new(tmp_path: Path) -> None:
    base = _version(tmp_path, "base", users="", other="'b'")  # users breaks on mysql
    result = merge(base, "jobs/*.json", f"--json={tmp_path}/base.json")
    assert result.returncode == 1 and "dbmatrix incompatibilities: 1" in result.stdout
    # the change fixes test_users and breaks test_compare on mysql ('a' = 'A' there)
    head = _version(tmp_path, "head", users="(50)", other="'A'")
    result = merge(head, "jobs/*.json", f"--baseline={tmp_path}/base.json", "--fail-on=new",
                   "--json=merged.json", "--markdown=summary.md", "--html=merged.html")
    assert result.returncode == 1, result.stderr
    section = json.loads((head / "merged.json").read_text())["baseline"]
    assert section["new"] == ["test_app.py::test_compare"]
    assert section["still_present"] == []
    assert [i["test"] for i in section["fixed"]] == ["test_app.py::test_users"]
    assert "1 new, 0 still present, 1 fixed" in result.stdout
    assert "test_app.py::test_compare [new]" in result.stdout
    assert "fixed: test_app.py::test_users (failed on mysql)" in result.stdout
    assert "(1 new, 0 still present, 1 fixed)" in (head / "summary.md").read_text()
    assert "<span class='group g-new'>1 new</span>" in (head / "merged.html").read_text()
    fixed_only = _version(tmp_path, "fix", users="(50)", other="'b'")
    result = merge(fixed_only, "jobs/*.json", f"--baseline={tmp_path}/base.json",
                   "--fail-on=new")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 new, 0 still present, 1 fixed" in result.stdout


# -- bad input and report identity (no servers) ----------------------------------------------


def _report(path: Path, backend: str, label: str, server: str = "PostgreSQL 15.2",
            **run: Any) -> Path:
    data = {"schema": "pytest-dbmatrix/report/1", "plugin_version": "0.1.0",
            "run": {"label": label, "status": "finished", **run},
            "backends": {backend: {"name": backend, "status": "ok", "dialect": backend,
                                   "server": server}},
            "totals": {}, "tests": [{"test": f"t.py::test_{n}", "results": {
                backend: {"outcome": "passed", "duration": 0.1}}} for n in range(3)],
            "incompatibilities": [], "lost_backends": {}}
    target = path / f"{label}.json"
    target.write_text(json.dumps(data))
    return target


@pytest.mark.parametrize(("content", "expected"), [
    ('{"hello": 1}', "not a dbmatrix report"),
    ('{"schema": "pytest-dbmatrix/report/1", "backends": {}, "tests": [{"te',
     "truncated JSON"),
    ('{"schema": "pytest-dbmatrix/report/9", "plugin_version": "3.0", "tests": []}',
     "unknown report schema version '9'"),
    ("<testsuites><testsuite><testcase name='x'/></testsuite></testsuites>",
     "JUnit XML without dbmatrix properties"),
    ("<testsuites><testsuite><testcase", "truncated or malformed JUnit XML"),
])
def test_bad_report_names_the_file_and_exits_2(tmp_path: Path, content: str,
                                               expected: str) -> None:
    (tmp_path / "bad.json").write_text(content)
    good = _report(tmp_path, "sqlite", "ok", server="SQLite 3.40.1")
    result = merge(tmp_path, str(good), "bad.json")
    assert result.returncode == 2
    assert result.stderr.startswith(f"dbmatrix merge: error: bad.json: {expected}")
    assert result.stdout == ""


def test_no_match_and_same_label_exit_2(tmp_path: Path) -> None:
    result = merge(tmp_path, "reports/*.json")
    assert result.returncode == 2
    assert "reports/*.json: no files matched" in result.stderr
    first = _report(tmp_path, "sqlite", "job")
    (tmp_path / "other").mkdir()
    second = _report(tmp_path / "other", "postgresql", "job")
    result = merge(tmp_path, str(first), str(second))
    assert result.returncode == 2
    assert "both claim the run label 'job'" in result.stderr
    assert "--dbmatrix-label" in result.stderr
    result = merge(tmp_path, str(first), "--fail-on=new")
    assert result.returncode == 2 and "add --baseline FILE" in result.stderr


def test_same_backend_on_two_servers_is_two_columns(tmp_path: Path) -> None:
    _report(tmp_path, "postgresql", "pg13", server="PostgreSQL 13.14")
    _report(tmp_path, "postgresql", "pg16", server="PostgreSQL 16.2")
    result = merge(tmp_path, "pg13.json", "pg16.json", "--json=m.json", "--summary=full")
    assert result.returncode == 0, result.stderr
    data = json.loads((tmp_path / "m.json").read_text())
    assert list(data["totals"]) == ["postgresql@13", "postgresql@16"]
    assert data["backends"]["postgresql@16"]["server"] == "PostgreSQL 16.2"
    assert "postgresql@13  postgresql@16" in result.stdout


def test_partial_report_merged_with_warning_and_missing_tests(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_a.py").write_text(
        "def test_1(db_connection):\n    assert False\n"
        "def test_2(db_connection):\n    pass\n"
        "def test_3(db_connection):\n    raise KeyboardInterrupt\n"
        "def test_4(db_connection):\n    pass\n")
    stopped = inner_pytest(tmp_path, "--dbmatrix=sqlite", "-x", "--dbmatrix-report=x.json",
                           "--dbmatrix-label=x")
    assert stopped.returncode == 1
    run = json.loads((tmp_path / "x.json").read_text())["run"]
    assert run["status"] == "partial"
    assert run["reason"].startswith("stopped early")
    assert run["not_run"] == {"sqlite": ["test_a.py::test_2", "test_a.py::test_3",
                                         "test_a.py::test_4"]}
    interrupted = inner_pytest(tmp_path, "--dbmatrix=sqlite", "--dbmatrix-report=i.json",
                               "--dbmatrix-label=i")
    assert interrupted.returncode == 2
    run = json.loads((tmp_path / "i.json").read_text())["run"]
    assert (run["status"], run["reason"]) == ("partial", "interrupted")
    assert run["not_run"] == {"sqlite": ["test_a.py::test_4"]}
    other = tmp_path / "other"
    other.mkdir()
    (other / "pytest.ini").write_text("[pytest]\n")
    (other / "test_a.py").write_text((tmp_path / "test_a.py").read_text()
                                     .replace("raise KeyboardInterrupt", "pass"))
    inner_pytest(other, "--dbmatrix=mariadb", "--dbmatrix-report=full.json",
                 "--dbmatrix-label=full")
    result = merge(tmp_path, "x.json", "other/full.json", "--json=m.json", "--summary=full",
                   "--fail-on=never")
    assert result.returncode == 0, result.stderr
    assert ("dbmatrix merge: warning: x.json (x) is a partial report: stopped early: stopping "
            "after 1 failures; merged, its 3 test(s) not run are marked missing") in result.stderr
    data = json.loads((tmp_path / "m.json").read_text())
    assert data["totals"]["sqlite"] == {"failed": 1, "missing": 3}
    assert data["run"]["status"] == "partial"
    assert re.search(r"test_a.py::test_2 +MISSING +pass", result.stdout)


def test_a_killed_run_leaves_a_partial_report(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_k.py").write_text(
        "import os\ndef test_1(db_connection):\n    pass\n"
        "def test_2(db_connection):\n    os._exit(9)\n")
    killed = inner_pytest(tmp_path, "--dbmatrix=sqlite", "--dbmatrix-report=k.json")
    assert killed.returncode == 9
    run = json.loads((tmp_path / "k.json").read_text())["run"]
    assert run["status"] == "partial" and run["ended"] is None
    assert "crashed or was killed" in run["reason"]


@pytest.mark.parametrize(("env", "expected"), [
    ({"TOX_ENV_NAME": "py311-postgresql", "GITHUB_JOB": "test"},
     ("py311-postgresql", "env TOX_ENV_NAME")),
    ({"GITHUB_JOB": "test", identity.MATRIX_ENV: '{"dialect": "mysql", "python": "3.12"}'},
     ("test (mysql, 3.12)", f"env GITHUB_JOB, {identity.MATRIX_ENV}")),
    ({"GITHUB_JOB": "test"}, ("test", "env GITHUB_JOB")),
])
def test_default_label(env: dict[str, str], expected: tuple[str, str]) -> None:
    assert identity.default_label(env) == expected
