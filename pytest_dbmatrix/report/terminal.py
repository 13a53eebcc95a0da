"""The terminal summary: the test x backend matrix and the incompatibilities."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from pytest_dbmatrix.findings import received
from pytest_dbmatrix.report import digest
from pytest_dbmatrix.report.header import served_by
from pytest_dbmatrix.results import FAILING, Incompatibility, ResultMatrix, is_generated
from pytest_dbmatrix.run_state import MatrixState

SYMBOLS = {"passed": "pass", "failed": "FAIL", "error": "ERROR", "skipped": "skip",
           "xfailed": "xfail", "xpassed": "XPASS", "missing": "MISSING"}
AUTO_FULL_ROWS = 40
MARKUP = {"passed": {"green": True}, "failed": {"red": True, "bold": True},
          "error": {"red": True, "bold": True}, "xpassed": {"yellow": True},
          "skipped": {"yellow": True}, "xfailed": {"yellow": True},
          "missing": {"yellow": True, "bold": True}}


def _rows(matrix: ResultMatrix, mode: str, brief: bool) -> list[str]:
    tests = [t for t in matrix.tests if not (brief and is_generated(t))]
    if mode == "diff" or (mode == "auto" and len(tests) > AUTO_FULL_ROWS):
        return [t for t in tests if matrix.differs(t)]
    return tests


def write_matrix(tr: Any, matrix: ResultMatrix, mode: str, brief: bool = False) -> None:
    """`brief`: the generated checks' rows are left to the digest by hazard."""
    backends = matrix.backend_names
    rows = _rows(matrix, mode, brief and mode != "full")
    hidden = len(matrix.tests) - len(rows)
    if rows:
        width = min(max(len(t) for t in rows), 90)
        widths = [max(len(b), 5) for b in backends]
        tr.write_line("test".ljust(width) + "  " + "  ".join(
            b.ljust(w) for b, w in zip(backends, widths, strict=True)))
        cells = _cell_texts(tr)
        lines = []
        for test in rows:
            name = test if len(test) <= width else "..." + test[-(width - 3):]
            outcomes = matrix.tests[test]
            lines.append(name.ljust(width) + "".join(
                cells(outcomes[b].outcome if b in outcomes else "", w)
                for b, w in zip(backends, widths, strict=True)))
        tr.write_line("\n".join(lines))  # one write: the terminal measures only its last line
    if hidden:
        tr.write_line(f"({hidden} tests not shown: the same outcome on every backend, or "
                      f"generated checks, whose findings the digest by hazard lists; "
                      f"--dbmatrix-summary=full shows them)")


def _cell_texts(tr: Any) -> Callable[[str, int], str]:
    """Cell text (with colour when the terminal has it) per outcome and width, made once."""
    markup = getattr(getattr(tr, "_tw", None), "markup", None)
    made: dict[tuple[str, int], str] = {}

    def cell(outcome: str, width: int) -> str:
        key = (outcome, width)
        if key not in made:
            text = SYMBOLS.get(outcome, "-").ljust(width)
            style = MARKUP.get(outcome)
            made[key] = "  " + (markup(text, **style) if markup and style else text)
        return made[key]

    return cell


def write_totals(tr: Any, matrix: ResultMatrix) -> None:
    for backend, totals in matrix.totals().items():
        info = matrix.backends.get(backend, {})
        counts = ", ".join(f"{n} {o}" for o, n in sorted(totals.items()))
        tr.write_line(f"{backend} ({_server_label(info)}): {counts}")


def _server_label(info: dict[str, Any]) -> str:
    """"MariaDB 10.11.19 via url; mysql dialect against a MariaDB server", or the status."""
    if not info.get("server"):
        return str(info.get("status") or "")
    provider = info.get("provider")
    return served_by(str(info["server"]), provider if provider != "embedded" else None,
                     info.get("dialect_note"))


def write_incompatibility(tr: Any, item: Incompatibility, dialects: dict[str, str],
                          group: str | None = None) -> None:
    data = item.as_dict(dialects)
    tr.write_line(f"{item.test}" + (f" [{group}]" if group else ""), bold=True)
    tr.write_line(f"  passes on {', '.join(item.passed_on)}; "
                  f"fails on {', '.join(item.failed_on)}")
    for backend, failure in data["failed_on"].items():
        line = (failure["error"] or {}).get("line", failure["outcome"])
        tr.write_line(f"  {backend} [{failure['dialect']}] {failure['outcome']}: {line}",
                      red=True)
        if failure["hint"]:
            tr.write_line(f"    fix ({failure['hazard']}): {failure['hint']}")


def write_summary(tr: Any, state: MatrixState) -> None:
    matrix = state.matrix
    mode = state.settings.summary.value
    if not matrix.tests or mode == "none":
        return
    sections = digest.sections(state.findings, state.triage)
    write_results(tr, matrix, mode, brief=brief(tr.config, state) and bool(sections["findings"]))
    digest.write(tr, sections)
    for step in [*state.provisioner.steps, *state.worker_cleanup_steps]:
        tr.write_line(f"dbmatrix cleanup: {step}", yellow=True)
    for problem in state.cleanup_problems:
        tr.write_line(f"dbmatrix cleanup problem: {problem}", red=True)
    for path in filter(None, (state.settings.report.value,)):
        tr.write_line(f"dbmatrix JSON report: {path}")


def write_results(tr: Any, matrix: ResultMatrix, mode: str,
                  groups: dict[str, str] | None = None, brief: bool = False) -> None:
    """Totals, matrix and incompatibilities: the same for a run and for `dbmatrix merge`.
    `groups` maps a test to its baseline group (new, still present), shown beside it;
    `brief` leaves the generated checks to the digest by hazard."""
    tr.write_sep("=", "dbmatrix")
    write_totals(tr, matrix)
    tr.write_line("")
    write_matrix(tr, matrix, mode, brief)
    found = matrix.incompatibilities()
    tr.write_sep("-", f"dbmatrix incompatibilities: {len(found)}")
    dialects = matrix.dialects()
    shown = [i for i in found if not (brief and is_generated(i.test))]
    for item in shown:
        write_incompatibility(tr, item, dialects, (groups or {}).get(item.test))
    if len(shown) < len(found):
        tr.write_line(f"({len(found) - len(shown)} of them in the generated checks: their "
                      f"findings are in the digest by hazard below; -v shows each)")
    failing_everywhere = [t for t, cells in matrix.tests.items()
                          if cells and all(c.outcome in FAILING for c in cells.values())]
    if failing_everywhere:
        tr.write_line(f"({len(failing_everywhere)} tests fail on every backend: not "
                      f"incompatibilities, ordinary failures)")
    for backend, lost in matrix.lost().items():
        tr.write_line(f"dbmatrix: {backend} was lost mid-session at {lost['first']}: "
                      f"{lost['error']['line']}; {lost['tests']} test(s) from there on could not "
                      f"run on it (not counted as incompatibilities)", red=True)


def brief(config: pytest.Config, state: MatrixState) -> bool:
    """Generated checks print one line per failed item, their findings in the digest, unless
    -v or --dbmatrix-details asks for pytest's failure sections."""
    return config.get_verbosity() < 1 and not state.settings.details.value


class FailureVolume:
    """Keeps the generated items' failures on findings out of pytest's FAILURES section (the
    findings are in the digest; the short summary still gives one line per failed item).

    pytest prints that section in its terminal_summary wrapper before the other plugins'
    summaries and the short summary after them: this wrapper, outside pytest's, holds the
    reports back, and the plain hook, between the two, puts them back as one-line copies: on CI
    (the CI variable set) pytest prints a failure's whole message in the short summary."""

    def __init__(self, state: MatrixState) -> None:
        self.state = state
        self.failed: list[Any] | None = None

    @pytest.hookimpl(wrapper=True, tryfirst=True, specname="pytest_terminal_summary")
    def pytest_terminal_summary_hold(self, terminalreporter: Any, config: pytest.Config) -> Any:
        stats = terminalreporter.stats
        if brief(config, self.state) and stats.get("failed"):
            self.failed = stats["failed"]
            stats["failed"] = [r for r in self.failed if not _failed_findings(r)]
        try:
            return (yield)
        finally:
            if self.failed is not None:
                stats["failed"], self.failed = self.failed, None

    @pytest.hookimpl(tryfirst=True, specname="pytest_terminal_summary")
    def pytest_terminal_summary_restore(self, terminalreporter: Any) -> None:
        if self.failed is not None:
            terminalreporter.stats["failed"] = [_one_line(r) for r in self.failed]


def _failed_findings(report: Any) -> list[Any]:
    """What the digest shows of this report: a generated item that failed on findings (one
    that failed otherwise, a missing driver, keeps its failure section)."""
    return [f for f in received(report) if f.status == "failed"]


def _one_line(report: Any) -> Any:
    """A generated item's report whose message is its first failed finding and a count."""
    failed = _failed_findings(report)
    if not failed:
        return report
    short = copy.copy(report)
    more = f" (+{len(failed) - 1} more, in the digest by hazard)" if len(failed) > 1 else ""
    short.longrepr = failed[0].labelled() + more
    return short
