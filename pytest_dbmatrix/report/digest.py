"""The digest by hazard: one entry per hazard over every check, table and backend.

A real model set gives hundreds of findings, most of them the same hazard in many columns; the
digest is what a team reads first (terminal, JSON, HTML): the severity, where it occurs, one
example and the fix. The individual findings stay in the report's `findings` list.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from pytest_dbmatrix.catalogue import SEVERITIES, entry
from pytest_dbmatrix.findings import Finding, FindingLog
from pytest_dbmatrix.triage import Triage, backends_of, places_of

PLACES_SHOWN = 20
"""Places listed per entry in the JSON and HTML; the rest are counted ("N more")."""
STATUSES = ("failed", "reported", "accepted", "note")


def entries(findings: Iterable[Finding], cap: int = PLACES_SHOWN) -> list[dict[str, Any]]:
    groups: dict[str, list[Finding]] = {}
    for finding in findings:
        groups.setdefault(finding.hazard, []).append(finding)
    made = [_entry(group, cap) for group in groups.values()]
    return sorted(made, key=lambda e: (-SEVERITIES.index(e["severity"]),
                                       -e["statuses"]["failed"], -e["count"], e["hazard"]))


def _entry(group: Sequence[Finding], cap: int) -> dict[str, Any]:
    first = group[0]
    places = list(dict.fromkeys(places_of(f)[0] for f in group))
    example = next((f for f in group if f.status == "failed"), first)
    backends = sorted({b for f in group for b in backends_of(f)})
    return {
        "hazard": first.hazard, "severity": first.severity, "why": _why(first),
        "fix": first.hint, "backends": backends, "count": len(group),
        "statuses": {s: sum(f.status == s for f in group) for s in STATUSES},
        "places": places[:cap], "more": max(len(places) - cap, 0),
        "tables": sorted({f.table for f in group if f.table}),
        "example": {"backend": example.backend, "where": example.where,
                    "message": example.detail()},
    }


def _why(finding: Finding) -> str:
    known = entry(finding.hazard)
    return known.why if known else ""


def sections(log: FindingLog, triage: Triage) -> dict[str, Any]:
    """The report's findings, digest, acceptances and fail-on level."""
    found = log.sorted()
    return {"fail_on": triage.fail_on, "findings": [f.as_dict() for f in found],
            "digest": entries(found), "acceptances": triage.report(found)}


def write(tr: Any, data: dict[str, Any], cap: int = 6) -> None:
    """The digest in the terminal: three or four lines per hazard, errors first."""
    digest = data.get("digest") or []
    stale = [a for a in data.get("acceptances") or [] if a["stale"]]
    if not digest and not stale:
        return
    from pytest_dbmatrix.errors import cut  # only when there are findings to print
    total = {s: sum(e["statuses"][s] for e in digest) for s in STATUSES}
    counts = ", ".join(f"{n} {s}" for s, n in total.items() if n)
    tr.write_sep("-", f"dbmatrix findings by hazard: {sum(e['count'] for e in digest)} in "
                      f"{len(digest)} hazards ({counts or 'none'}; fail on "
                      f"{data.get('fail_on', 'error')})")
    for item in digest:
        statuses = ", ".join(f"{n} {s}" for s, n in item["statuses"].items() if n)
        failed = item["statuses"]["failed"] > 0
        tr.write_line(f"{item['severity'].upper():7} {item['hazard']}: {item['count']} on "
                      f"{', '.join(item['backends'])} ({statuses})",
                      red=failed, yellow=not failed, bold=failed)
        places = item["places"]
        more = len(places) - cap + item["more"]
        shown = ", ".join(places[:cap]) + (f" (+{more} more)" if more > 0 else "")
        if shown:
            tr.write_line(f"        in {shown}")
        example = item["example"]
        where = f" {example['where']}" if example["where"] else ""
        tr.write_line(f"        e.g. {example['backend']}{where}: "
                      f"{cut(' '.join(example['message'].split()), 200)}")
        tr.write_line(f"        fix: {item['fix']}")
    for acceptance in stale:
        tr.write_line(f"dbmatrix: stale acceptance {acceptance['line']!r} ({acceptance['source']})"
                      f": it matches no finding of this run; remove it", yellow=True)
