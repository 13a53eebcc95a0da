"""Which findings fail their test: severity against the fail-on level, and accepted findings.

A team that has decided to live with a finding accepts it with a line (ini `dbmatrix_accept`,
`--dbmatrix-accept`, or a file written by `dbmatrix accept REPORT.json`):

    HAZARD:WHERE[:BACKENDS]  [# reason]

WHERE is `table.column`, `table`, a revision, or a glob of them (`runs.*`, `*`); BACKENDS a
comma list (any backend when left out). An accepted finding is reported as accepted, neither
failed nor hidden; an acceptance that matches nothing in a run is reported as stale, so the list
shrinks as the code is fixed.
"""

from __future__ import annotations

import configparser
import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pytest_dbmatrix.catalogue import ENTRIES, SEVERITIES, Severity
from pytest_dbmatrix.findings import Finding

INI_KEY = "dbmatrix_accept"


class AcceptanceError(ValueError):
    """A malformed acceptance line; the message names the line and where it came from."""


@dataclass(frozen=True)
class Acceptance:
    line: str
    hazard: str
    where: str
    backends: tuple[str, ...]
    reason: str | None
    source: str

    def matches(self, finding: Finding) -> bool:
        if finding.hazard != self.hazard:
            return False
        if self.backends and not set(self.backends) & set(backends_of(finding)):
            return False
        return any(fnmatch.fnmatchcase(place, self.where) for place in places_of(finding))

    def as_dict(self, matched: int) -> dict[str, Any]:
        return {"line": self.line, "hazard": self.hazard, "where": self.where,
                "backends": list(self.backends), "reason": self.reason, "source": self.source,
                "matched": matched, "stale": not matched}


def places_of(finding: Finding) -> list[str]:
    """What WHERE may name: the column, the table, the revision."""
    places = []
    if finding.table:
        places.append(f"{finding.table}.{finding.column}" if finding.column else finding.table)
        if finding.column:
            places.append(finding.table)
    if finding.revision:
        places.append(finding.revision)
    return places or ["*"]


def backends_of(finding: Finding) -> list[str]:
    """The backends a finding is on; a divergence names both sides ("mariadb,mysql | sqlite")."""
    return [b.strip() for side in finding.backend.split("|") for b in side.split(",")
            if b.strip()]


def parse_line(line: str, source: str) -> Acceptance:
    text, _, reason = line.partition("#")
    parts = [p.strip() for p in text.strip().split(":")]
    where = f"{source}: {line.strip()!r}"
    if len(parts) not in (2, 3) or not all(parts):
        raise AcceptanceError(
            f"dbmatrix: acceptance {where} is not HAZARD:WHERE[:BACKENDS] [# reason] "
            f"(e.g. 'reserved-word:experiment_tags.key' or 'float-precision:*:mysql')")
    hazard = parts[0].lower()
    if hazard not in ENTRIES:
        raise AcceptanceError(f"dbmatrix: acceptance {where} names an unknown hazard "
                              f"{hazard!r} (the hazards are the catalogue's ids, as in the "
                              f"report's findings)")
    backends = tuple(b.strip().lower() for b in parts[2].split(",")) if len(parts) == 3 else ()
    return Acceptance(text.strip(), hazard, parts[1], backends, reason.strip() or None, source)


def parse_lines(entries: Iterable[tuple[str, str]]) -> tuple[Acceptance, ...]:
    """(line, source) pairs: blank lines and comments are skipped, duplicates kept once."""
    found: dict[str, Acceptance] = {}
    for line, source in entries:
        if line.strip() and not line.strip().startswith(("#", ";")):
            acceptance = parse_line(line, source)
            found.setdefault(acceptance.line, acceptance)
    return tuple(found.values())


def read_file(path: str) -> list[tuple[str, str]]:
    """The lines of an acceptance file: the `dbmatrix_accept` of its [pytest] section (what
    `dbmatrix accept` writes), else every line."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise AcceptanceError(f"dbmatrix: cannot read the acceptance file {path!r}: "
                              f"{exc.strerror}") from None
    parser = configparser.ConfigParser(interpolation=None, comment_prefixes=("#", ";"),
                                       inline_comment_prefixes=None)
    try:
        parser.read_string(text)
    except configparser.Error:
        parser = configparser.ConfigParser()
    for section in ("pytest", "tool:pytest"):
        if parser.has_option(section, INI_KEY):
            lines = parser.get(section, INI_KEY).splitlines()
            return [(line, f"{path} [{section}] {INI_KEY}") for line in lines]
    return [(line, path) for line in text.splitlines() if not line.startswith("[")]


@dataclass(frozen=True)
class Triage:
    """The run's policy: applied where a check ends, so the item passes or fails by it."""

    fail_on: Severity = "error"
    acceptances: tuple[Acceptance, ...] = ()

    def judge(self, findings: Sequence[Finding]) -> list[Finding]:
        """Each finding with its status: failed, reported (below fail-on) or accepted. Notes
        (static findings a live run disproved) stay notes."""
        return [self._judged(f) for f in findings]

    def _judged(self, finding: Finding) -> Finding:
        if finding.status == "note":
            return finding
        accepted = next((a for a in self.acceptances if a.matches(finding)), None)
        if accepted is not None:
            return replace(finding, status="accepted", accepted_by=accepted.line,
                           reason=accepted.reason)
        failing = SEVERITIES.index(finding.severity) >= SEVERITIES.index(self.fail_on)
        return replace(finding, status="failed" if failing else "reported")

    def report(self, findings: Iterable[Finding]) -> list[dict[str, Any]]:
        """Every acceptance with how many of the run's findings it matched (0: stale)."""
        found = list(findings)
        return [a.as_dict(sum(a.matches(f) for f in found)) for a in self.acceptances]


def failing(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.status == "failed"]
