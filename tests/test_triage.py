"""Severity, --dbmatrix-fail-on, accepted findings and `dbmatrix accept` (issue 18).

The pytester runs use the byodb sample on SQLite: its static tier compiles for every dialect,
so the findings of six dialects come without a server.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_dbmatrix.catalogue import ENTRIES
from pytest_dbmatrix.findings import Finding
from pytest_dbmatrix.report import accept
from pytest_dbmatrix.triage import AcceptanceError, Triage, parse_line, parse_lines, read_file

SAMPLE = Path(__file__).resolve().parent.parent / "conformance" / "byodb"
ORDER = Finding("reserved-word", "static", "mysql", "column name 'order' is a reserved word",
                "mysql", "posts", "order")
CASCADE = Finding("mssql-cascade-paths", "static", "mssql", "multiple cascade paths", "mssql",
                  "comments", "author_id")
DIVERGES = Finding("collation-order", "differential", "mariadb,mysql | postgresql,sqlite",
                   "differs", None, "customers", "email")


def test_every_catalogue_entry_states_its_severity_and_why() -> None:
    for entry in ENTRIES.values():
        assert entry.severity in ("error", "warning"), entry.id
        assert entry.why and len(entry.why) < 90, entry.id
    assert ENTRIES["reserved-word"].severity == "warning"  # SQLAlchemy quotes it
    assert ENTRIES["boolean-unenforced"].severity == "warning"
    assert ENTRIES["varchar-length"].severity == "error"  # the server rejects the DDL
    assert ENTRIES["float-precision"].severity == "error"  # the value read is not the written
    assert ENTRIES["fk-unenforced"].severity == "error"  # enforced here and not there


def test_acceptance_lines_name_hazard_place_backends_and_reason() -> None:
    line = parse_line("float-precision:*:mysql, mariadb  # single precision is enough", "ini")
    assert (line.hazard, line.where, line.backends) == ("float-precision", "*",
                                                         ("mysql", "mariadb"))
    assert line.reason == "single precision is enough"
    assert parse_line("reserved-word:posts.order", "ini").backends == ()
    assert parse_line("reserved-word:posts.order", "ini").matches(ORDER)
    assert parse_line("reserved-word:posts", "ini").matches(ORDER)  # the table of a column
    assert parse_line("reserved-word:post*:mysql", "ini").matches(ORDER)
    assert not parse_line("reserved-word:posts.order:sqlite", "ini").matches(ORDER)
    assert not parse_line("reserved-word:posts.body", "ini").matches(ORDER)
    assert parse_line("collation-order:customers.*:sqlite", "ini").matches(DIVERGES)
    assert parse_lines([("# a comment", "ini"), ("", "ini"), ("rowcount:*", "ini"),
                        ("rowcount:*", "option")])[0].source == "ini"


@pytest.mark.parametrize(("line", "says"), [
    ("reserved-word", "is not HAZARD:WHERE[:BACKENDS]"),
    ("reserved-word::mysql", "is not HAZARD:WHERE[:BACKENDS]"),
    ("a:b:c:d", "is not HAZARD:WHERE[:BACKENDS]"),
    ("no-such-hazard:t.c", "unknown hazard 'no-such-hazard'"),
])
def test_a_bad_acceptance_line_is_named(line: str, says: str) -> None:
    with pytest.raises(AcceptanceError, match="acceptance ini x: ") as raised:
        parse_line(line, "ini x")
    assert says in str(raised.value) and repr(line) in str(raised.value)


def test_triage_gives_each_finding_its_status() -> None:
    triage = Triage("error", parse_lines([("mssql-cascade-paths:comments.*  # known", "ini"),
                                          ("float-precision:*", "ini")]))
    order, cascade, diverges = triage.judge([ORDER, CASCADE, DIVERGES])
    assert order.status == "reported"  # a warning below the fail-on level
    assert (cascade.status, cascade.reason) == ("accepted", "known")
    assert cascade.accepted_by == "mssql-cascade-paths:comments.*"
    assert Triage("warning").judge([ORDER])[0].status == "failed"
    assert Triage("error").judge([CASCADE])[0].status == "failed"
    note = Finding("sqlite-alter", "hazards", "sqlite", "ran fine", status="note")
    assert triage.judge([note])[0].status == "note"
    used = {a["line"]: (a["matched"], a["stale"]) for a in triage.report([cascade, diverges])}
    assert used == {"mssql-cascade-paths:comments.*": (1, False), "float-precision:*": (0, True)}


def test_accept_writes_an_ini_the_plugin_reads_back(tmp_path: Path) -> None:
    accepted = Triage("error", parse_lines([("mssql-cascade-paths:*  # ORM cascades", "ini")]))
    text = accept.render(accepted.judge([ORDER, CASCADE, DIVERGES]), "r.json")
    (tmp_path / "accepted.ini").write_text(text)
    lines = parse_lines(read_file(str(tmp_path / "accepted.ini")))
    assert [a.line for a in lines] == [
        "collation-order:customers.email:mariadb,mysql,postgresql,sqlite",
        "mssql-cascade-paths:comments.author_id:mssql",
        "reserved-word:posts.order:mysql"]
    assert lines[1].reason == "ORM cascades"  # an accepted finding keeps its reason
    assert lines[2].reason == "warning: column name 'order' is a reserved word"
    assert all(Triage("error", lines).judge([f])[0].status == "accepted"
               for f in (ORDER, CASCADE, DIVERGES))


# --- the plugin ---------------------------------------------------------------------------


def _run(pytester: pytest.Pytester, *args: str, ini: str = "") -> tuple[pytest.RunResult,
                                                                         dict[str, Any]]:
    if not (pytester.path / "byodb").exists():
        shutil.copytree(SAMPLE, pytester.path / "byodb")
    pytester.makeini(f"[pytest]\n{ini}")
    report = pytester.path / "report.json"
    report.unlink(missing_ok=True)
    result = pytester.runpytest("--dbmatrix-conformance", "--dbmatrix-metadata=byodb.models:Base",
                                f"--dbmatrix-report={report}", "-p", "no:cacheprovider", *args)
    return result, json.loads(report.read_text()) if report.exists() else {}


def _status(report: dict[str, Any]) -> dict[tuple[str, str, str], str]:
    return {(f["hazard"], f"{f['table']}.{f['column']}", f["backend"]): f["status"]
            for f in report["findings"]}


def _outcome(report: dict[str, Any], test: str, backend: str) -> str:
    rows = {t["test"]: t["results"] for t in report["tests"]}
    return str(rows[test][backend]["outcome"])


def test_warnings_are_reported_unless_fail_on_warning(pytester: pytest.Pytester) -> None:
    result, report = _run(pytester)
    assert report["fail_on"] == "error"
    assert all(f["hazard"] and f["severity"] in ("error", "warning") for f in report["findings"])
    assert _status(report)[("reserved-word", "posts.order", "mysql")] == "reported"
    assert _outcome(report, "conformance::static[posts]", "mysql") == "passed"
    assert _outcome(report, "conformance::static[comments]", "mssql") == "failed"
    result.stdout.fnmatch_lines(["ERROR   varchar-length: 3 on mariadb, mysql, oracle (3 failed)",
                                 "WARNING reserved-word: * (* reported)"])
    digest = {e["hazard"]: e for e in report["digest"]}
    assert digest["reserved-word"]["severity"] == "warning"
    assert digest["varchar-length"]["places"] == ["user.login"]
    assert [e["severity"] for e in report["digest"]] == sorted(
        (e["severity"] for e in report["digest"]), key=lambda s: s != "error")

    strict, strict_report = _run(pytester, "--dbmatrix-fail-on=warning")
    assert _status(strict_report)[("reserved-word", "posts.order", "mysql")] == "failed"
    assert _outcome(strict_report, "conformance::static[posts]", "mysql") == "failed"
    assert strict.ret == pytest.ExitCode.TESTS_FAILED
    with_ini, _ = _run(pytester, ini="dbmatrix_fail_on = sometimes")
    assert with_ini.ret == pytest.ExitCode.USAGE_ERROR
    with_ini.stderr.fnmatch_lines(["*ini dbmatrix_fail_on*'sometimes' is not one of warning, "
                                   "error*"])


def test_accepted_findings_show_as_accepted_and_stale_ones_are_named(
        pytester: pytest.Pytester) -> None:
    ini = ("dbmatrix_accept =\n"
           "    mssql-cascade-paths:comments.author_id:mssql  # ORM cascades on SQL Server\n"
           "    float-precision:nowhere.*\n")
    result, report = _run(pytester, ini=ini)
    assert _status(report)[("mssql-cascade-paths", "comments.author_id", "mssql")] == "accepted"
    accepted = next(f for f in report["findings"] if f["status"] == "accepted")
    assert accepted["reason"] == "ORM cascades on SQL Server"
    assert _outcome(report, "conformance::static[comments]", "mssql") == "passed"
    stale = {a["line"]: a["stale"] for a in report["acceptances"]}
    assert stale == {"mssql-cascade-paths:comments.author_id:mssql": False,
                     "float-precision:nowhere.*": True}
    result.stdout.fnmatch_lines(["ERROR   mssql-cascade-paths: 1 on mssql (1 accepted)",
                                 "dbmatrix: stale acceptance 'float-precision:nowhere.*' (ini "
                                 "dbmatrix_accept): it matches no finding of this run; remove it"])


@pytest.mark.parametrize(("line", "says"), [
    ("not a line", "acceptance ini dbmatrix_accept: 'not a line' is not HAZARD:WHERE"),
    ("made-up:t.c", "acceptance ini dbmatrix_accept: 'made-up:t.c' names an unknown hazard"),
])
def test_a_bad_acceptance_is_a_usage_error_naming_the_line(pytester: pytest.Pytester,
                                                           line: str, says: str) -> None:
    result, _ = _run(pytester, ini=f"dbmatrix_accept =\n    reserved-word:*\n    {line}\n")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{says}*"])


def _accept(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest_dbmatrix", "accept", *args],
                          capture_output=True, text=True, timeout=60)


def test_dbmatrix_accept_starts_a_team_from_green(pytester: pytest.Pytester) -> None:
    first, report = _run(pytester)
    assert first.ret == pytest.ExitCode.TESTS_FAILED
    written = _accept(str(pytester.path / "report.json"))
    assert written.returncode == 0, written.stderr
    (pytester.path / "accepted.ini").write_text(written.stdout)
    green, again = _run(pytester, "--dbmatrix-accept-file=accepted.ini")
    assert green.ret == pytest.ExitCode.OK, green.stdout.str()
    assert {f["status"] for f in again["findings"]} == {"accepted"}
    assert len(again["findings"]) == len(report["findings"])
    assert not any(a["stale"] for a in again["acceptances"])

    missing, _ = _run(pytester, "--dbmatrix-accept-file=nowhere.ini")
    assert missing.ret == pytest.ExitCode.USAGE_ERROR
    missing.stderr.fnmatch_lines(["*cannot read the acceptance file 'nowhere.ini'*(from option "
                                  "--dbmatrix-accept-file)*"])


def test_dbmatrix_accept_refuses_what_is_not_a_report(tmp_path: Path) -> None:
    (tmp_path / "notes.json").write_text('{"hello": 1}')
    refused = _accept(str(tmp_path / "notes.json"))
    assert refused.returncode == 2
    assert "not a dbmatrix report" in refused.stderr
    absent = _accept(str(tmp_path / "absent.json"))
    assert absent.returncode == 2 and "cannot read it" in absent.stderr


def test_generated_checks_print_one_line_per_failed_item(pytester: pytest.Pytester) -> None:
    quiet, report = _run(pytester)
    failed = [(t["test"], b) for t in report["tests"] for b, c in t["results"].items()
              if c["outcome"] == "failed"]
    lines = quiet.stdout.lines
    assert not any("= FAILURES =" in line for line in lines)
    summary = [line for line in lines if line.startswith("FAILED conformance::")]
    assert len(summary) == len(failed) == 13
    assert len(lines) < 100 + 4 * len(report["digest"])

    # On CI pytest prints a failure's whole message in the short summary: still one line each.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CI", "true")
        on_ci, _ = _run(pytester)
    summary = [line for line in on_ci.stdout.lines if line.startswith("FAILED conformance::")]
    assert len(summary) == 13 and len(on_ci.stdout.lines) == len(lines)
    assert any(line.endswith("more, in the digest by hazard)") for line in summary)

    detailed, _ = _run(pytester, "-v")
    assert any("= FAILURES =" in line for line in detailed.stdout.lines)
    details, _ = _run(pytester, "--dbmatrix-details")
    details.stdout.fnmatch_lines(["*= FAILURES =*", "*static user mysql*",
                                  "error [[]varchar-length[]] user.login on mysql: *"])


def test_merged_jobs_have_one_digest_of_all_their_findings(pytester: pytest.Pytester) -> None:
    """One job compiled the models, another ran them on SQLite: one digest over both."""
    _, static = _run(pytester, "-k", "static", "--dbmatrix-label=static")
    (pytester.path / "static.json").write_text(json.dumps(static))
    _, live = _run(pytester, "-k", "not static", "--dbmatrix-label=live")
    (pytester.path / "live.json").write_text(json.dumps(live))
    merged = subprocess.run([sys.executable, "-m", "pytest_dbmatrix", "merge", "static.json",
                             "live.json", "--json", "merged.json", "--markdown", "summary.md"],
                            cwd=pytester.path,
                            capture_output=True, text=True, timeout=60)
    assert merged.returncode in (0, 1), merged.stderr
    data = json.loads((pytester.path / "merged.json").read_text())
    assert len(data["findings"]) == len(static["findings"]) + len(live["findings"])
    counts = {e["hazard"]: e["count"] for e in data["digest"]}
    for job in (static, live):
        for entry in job["digest"]:
            assert counts[entry["hazard"]] >= entry["count"]
    assert counts["length-unenforced"] == 2  # found live only, on departments and employees
    assert data["fail_on"] == "error"
    summary = (pytester.path / "summary.md").read_text()
    assert "### Findings by hazard" in summary
    assert "| error | `varchar-length` | 3 | mariadb, mysql, oracle |" in summary
