"""Compare a run's JSON report with a sample's expected findings, for the backends it ran on.

A sample has expected.json (findings of the conformance suite on its models),
expected_findings.json (of the migration checks on its history) or expected_failures.json
(which of its hand-written tests fail on which backend, with which hazard).

    python conformance/check.py SAMPLE_DIR REPORT.json

Every expected finding of a backend that ran (and of the compile-only dialects) must be
reported, and nothing outside the expectations may be. Exit 0 when both hold, 1 otherwise.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

Key = tuple[str, ...]


def _model_keys(findings: list[dict[str, Any]], hazard: str = "hazard") -> set[Key]:
    """(table, column, hazard, backend); the expectation files name the hazard `category`."""
    return {(f["table"], f.get("column") or "", f[hazard], f["backend"]) for f in findings}


def _model_sample(expected: dict[str, Any], report: dict[str, Any]) -> tuple[set[Key], set[Key]]:
    section = report["conformance"]
    ran = set(section["live_backends"])
    compile_only = set(expected["static_dialects"]) - set(expected["backends"].split(","))
    wanted = _model_keys(expected["findings"], "category")
    required = {k for k in wanted if k[3] in ran | compile_only}
    return required, wanted


def _migration_keys(findings: list[dict[str, Any]], field: str, hazard: str = "hazard"
                    ) -> set[Key]:
    """(check, hazard, revision, backend); the expectation files name the hazard `kind`."""
    keys = set()
    for f in findings:
        backends = f[field] if isinstance(f[field], list) else [f[field]]
        keys |= {(f["check"], f[hazard], f.get("revision") or "", b) for b in backends}
    return keys


def _migration_sample(expected: dict[str, Any],
                      report: dict[str, Any]) -> tuple[set[Key], set[Key]]:
    ran = {b for b, info in report["backends"].items() if info.get("status", "ok") == "ok"}
    wanted = _migration_keys(expected["findings"], "backends", "kind")
    required = {k for k in wanted if k[3] in ran | set(expected["offline"])}
    return required, wanted


def _failure_keys(report: dict[str, Any]) -> set[Key]:
    """(test, hazard, backend) of every failed cell: the hazard its error names, else the
    catalogue's match of the error message on that backend's dialect."""
    from pytest_dbmatrix.catalogue import find_hazard  # the installed plugin's catalogue

    dialects = {b: info.get("dialect") for b, info in report["backends"].items()}
    keys = set()
    for row in report["tests"]:
        for backend, cell in row["results"].items():
            if cell["outcome"] not in ("failed", "error"):
                continue
            error = cell.get("error") or {}
            hazard = error.get("hazard") or getattr(find_hazard(
                f"{error.get('message', '')} {error.get('line', '')}", dialects.get(backend)),
                "id", "?")
            keys.add((row["test"].rsplit("::", 1)[-1], hazard, backend))
    return keys


def _failures_sample(expected: dict[str, Any],
                     report: dict[str, Any]) -> tuple[set[Key], set[Key]]:
    ran = {b for b, info in report["backends"].items() if info.get("status", "ok") == "ok"}
    wanted = {(f["test"], f["hazard"], b) for f in expected["failures"] for b in f["backends"]}
    return {k for k in wanted if k[2] in ran}, wanted


def found_keys(sample: Path, report: dict[str, Any]) -> set[Key]:
    if (sample / "expected_failures.json").exists():
        return _failure_keys(report)
    if (sample / "expected.json").exists():
        return _model_keys(report["conformance"]["findings"])
    return _migration_keys(report["migrations"]["findings"], "backend")


def check(sample: Path, report_path: Path) -> list[str]:
    """Problems with the report of `sample`; empty when it is exactly as expected."""
    report = json.loads(report_path.read_text())
    if (sample / "expected_failures.json").exists():
        expected = json.loads((sample / "expected_failures.json").read_text())
        required, wanted = _failures_sample(expected, report)
    elif (sample / "expected.json").exists():
        expected = json.loads((sample / "expected.json").read_text())
        required, wanted = _model_sample(expected, report)
    else:
        expected = json.loads((sample / "expected_findings.json").read_text())
        required, wanted = _migration_sample(expected, report)
    found = found_keys(sample, report)
    if (sample / "expected_failures.json").exists() and not report.get("tests"):
        return ["no test ran: see the run's output"]
    return ([f"missing: {' / '.join(k)}" for k in sorted(required - found)]
            + [f"unexpected: {' / '.join(k)}" for k in sorted(found - wanted)])


def main(argv: list[str]) -> int:
    sample, report = Path(argv[0]), Path(argv[1])
    problems = check(sample, report)
    for line in problems:
        print(f"{sample.name}: {line}")
    count = len(found_keys(sample, json.loads(report.read_text())))
    verdict = "as expected" if not problems else f"{len(problems)} difference(s)"
    print(f"{sample.name}: {count} finding(s) reported, {verdict}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
