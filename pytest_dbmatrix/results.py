"""The test x backend matrix, built from reports, and the incompatibilities it shows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import pytest

FAILING = frozenset({"failed", "error"})
GENERATED = ("conformance::", "migrations::")
"""Matrix rows of the generated checks (conformance suite, migration checks)."""


def is_generated(test: str) -> bool:
    return test.startswith(GENERATED)


@dataclass(slots=True)
class Cell:
    """One test on one backend."""

    outcome: str = "passed"
    duration: float = 0.0
    error: dict[str, Any] | None = None
    reason: str | None = None

    @property
    def lost(self) -> bool:
        """It could not run: its backend was lost mid-session (the set-up found no server)."""
        return self.error is not None and self.error.get("lost", False)

    def as_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "duration": round(self.duration, 6),
                "error": self.error, "reason": self.reason}


class Incompatibility(NamedTuple):
    test: str
    passed_on: tuple[str, ...]
    failed_on: dict[str, Cell]

    def as_dict(self, dialects: dict[str, str]) -> dict[str, Any]:
        from pytest_dbmatrix.catalogue import entry, find_hazard  # only when results differ

        failures = {}
        for backend, cell in self.failed_on.items():
            error = cell.error or {}
            hazard = entry(error["hazard"]) if error.get("hazard") else find_hazard(
                error.get("message", "") + " " + error.get("line", ""), dialects.get(backend))
            failures[backend] = {
                "dialect": dialects.get(backend),
                "outcome": cell.outcome,
                "error": cell.error,
                "hazard": hazard.id if hazard else None,
                "severity": hazard.severity if hazard else None,
                "hint": hazard.hint if hazard else None,
            }
        return {"test": self.test, "passed_on": list(self.passed_on), "failed_on": failures}


def _outcome(report: pytest.TestReport) -> str | None:
    """The cell outcome this phase report decides, or None when it decides nothing."""
    xfail = hasattr(report, "wasxfail")
    if report.when == "call":
        if xfail:
            return "xfailed" if report.skipped else "xpassed"
        return str(report.outcome)
    if report.failed:
        return "error" if report.when == "setup" or not xfail else "xfailed"
    if report.skipped:
        return "xfailed" if xfail else "skipped"
    return None


@dataclass
class ResultMatrix:
    """Outcome per test and backend, plus what is known about each backend."""

    tests: dict[str, dict[str, Cell]] = field(default_factory=dict)
    backends: dict[str, dict[str, Any]] = field(default_factory=dict)

    def record(self, report: pytest.TestReport, data: dict[str, Any]) -> None:
        """Fold one phase report of a test on a backend into its cell."""
        backend, test = data["backend"], data["test"]
        if "server" in data:
            self.backends.setdefault(backend, {}).update(data["server"])
        cells = self.tests.get(test)
        if cells is None:
            cells = self.tests[test] = {}
        cell = cells.get(backend)
        if cell is None:  # not setdefault: it would build a Cell for every report
            cell = cells[backend] = Cell()
        cell.duration += report.duration
        if report.when != "call" and report.outcome == "passed" and "error" not in data:
            return  # a passing set-up or teardown decides nothing
        outcome = _outcome(report)
        if outcome is None:
            return
        if report.when == "teardown" and cell.outcome in FAILING:
            return
        if report.when == "teardown" and outcome == "error":
            cell.outcome = "error"
        elif report.when != "teardown":
            cell.outcome = outcome
        if data.get("error"):
            cell.error = data["error"]
        if outcome == "skipped" and isinstance(report.longrepr, tuple):
            cell.reason = str(report.longrepr[2])
        elif hasattr(report, "wasxfail"):
            cell.reason = report.wasxfail or None

    @property
    def backend_names(self) -> list[str]:
        names: dict[str, object] = dict.fromkeys(self.backends)
        for cells in self.tests.values():
            names.update(cells)  # the keys are what counts
        return list(names)

    def dialects(self) -> dict[str, str]:
        return {name: str(info.get("dialect") or info.get("kind") or name)
                for name, info in self.backends.items()}

    def incompatibilities(self) -> list[Incompatibility]:
        found = []
        for test, cells in self.tests.items():
            if len(cells) < 2:
                continue  # a test run on one backend cannot differ between backends
            passed = tuple(b for b, c in cells.items() if c.outcome == "passed")
            failed = {b: c for b, c in cells.items() if c.outcome in FAILING and not c.lost}
            if passed and failed:
                found.append(Incompatibility(test, passed, failed))
        return found

    def lost(self) -> dict[str, dict[str, Any]]:
        """Backends lost mid-session: the first test that could not connect, the number of
        tests that could not run on them, and the error."""
        lost: dict[str, dict[str, Any]] = {}
        for test, cells in self.tests.items():
            for backend, cell in cells.items():
                if not cell.lost:
                    continue
                entry = lost.get(backend)
                if entry is None:
                    lost[backend] = {"first": test, "tests": 1, "error": cell.error}
                else:
                    entry["tests"] += 1
        return lost

    def differs(self, test: str) -> bool:
        outcomes = {c.outcome for c in self.tests[test].values()}
        return len(outcomes) > 1

    def totals(self) -> dict[str, dict[str, int]]:
        totals: dict[str, dict[str, int]] = {}
        for cells in self.tests.values():
            for backend, cell in cells.items():
                per = totals.setdefault(backend, {})
                per[cell.outcome] = per.get(cell.outcome, 0) + 1
        return totals
