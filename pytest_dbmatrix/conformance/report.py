"""The terminal section of the conformance suite: findings grouped by table and column."""

from __future__ import annotations

from typing import Any

from pytest_dbmatrix.findings import Finding, FindingLog


def _groups(log: FindingLog) -> dict[tuple[str, str, str], list[Finding]]:
    """Findings of one hazard on one table/column, over every backend."""
    groups: dict[tuple[str, str, str], list[Finding]] = {}
    for finding in log.sorted():
        groups.setdefault((finding.where, finding.hazard, finding.check), []).append(finding)
    return groups


def write_summary(tr: Any, log: FindingLog) -> None:
    tables = {f.table for f in log.findings.values() if f.table}
    tr.write_sep("=", f"dbmatrix conformance: {len(log)} findings in {len(tables)} tables")
    if not len(log):
        tr.write_line("no findings: every table behaves the same on every backend checked")
        return
    for (where, category, tier), findings in _groups(log).items():
        backends = ", ".join(f.backend for f in findings)
        tr.write_line(f"{where} [{category}] {tier} on {backends}", bold=True)
        tr.write_line(f"    {findings[0].line().split(': ', 1)[1]}")
    tr.write_sep("-", "fixes")
    for finding in sorted({f.hazard: f for f in log.findings.values()}.values(),
                          key=lambda f: f.hazard):
        tr.write_line(f"{finding.hazard}: {finding.hint}")
