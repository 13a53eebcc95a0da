"""One findings model for every check: what breaks, where, on which backend, and the fix.

The conformance suite and the migration checks report the same `Finding`, fail their item with
the same `FindingsFailure`, and hand findings to the report the same way (`attach` on the test
report, `received` in the controller), so every output reads them with one set of names.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from pytest_dbmatrix.catalogue import Hazard, Severity, entry

REPORT_ATTRIBUTE = "dbmatrix_findings"
"""The test report attribute carrying an item's findings (as dicts: they cross xdist)."""


@dataclass(frozen=True)
class Finding:
    """One problem on one backend; `backend` of a divergence names both sides
    ("mariadb,mysql | postgresql,sqlite")."""

    hazard: str
    """The catalogue entry (catalogue.py) that explains it and gives the fix."""
    check: str
    """What found it: a conformance tier (static, live, constraint, differential) or a
    migration check (upgrade, data_preserved, ...)."""
    backend: str
    message: str
    dialect: str | None = None
    table: str | None = None
    column: str | None = None
    revision: str | None = None
    before: str | None = None
    after: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False)
    status: str = field(default="failed", compare=False)
    """failed (fails its test), reported (below --dbmatrix-fail-on), accepted (a
    dbmatrix_accept line matched), or note (a static finding a live run disproved)."""
    accepted_by: str | None = field(default=None, compare=False)
    reason: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        catalogued(self.hazard)

    @property
    def hint(self) -> str:
        return catalogued(self.hazard).hint

    @property
    def severity(self) -> Severity:
        return catalogued(self.hazard).severity

    @property
    def key(self) -> tuple[str, ...]:
        """What identifies a finding across runs: the report lists a hazard found by one check
        at one place on one backend once (the failed test's own text lists every occurrence,
        e.g. the INSERT and the UPDATE that both lost microseconds)."""
        return (self.hazard, self.check, self.table or "", self.column or "",
                self.revision or "", self.backend)

    @property
    def where(self) -> str:
        place = f"{self.table}.{self.column}" if self.column else (self.table or "")
        revision = f"at {self.revision}" if self.revision else ""
        return " ".join(part for part in (place, revision) if part)

    def line(self) -> str:
        where = f"{self.where} " if self.where else ""
        return f"[{self.hazard}] {where}on {self.backend}: {self.detail()}"

    def detail(self) -> str:
        """The message with the values written and read, when the check has them."""
        shown = [f"{word} {value}" for word, value in (("wrote", self.before),
                                                       ("read", self.after)) if value is not None]
        return self.message + (f" ({', '.join(shown)})" if shown else "")

    def labelled(self) -> str:
        """The line with its severity, and its status when it does not fail."""
        status = "" if self.status == "failed" else f", {self.status}"
        return f"{self.severity}{status} {self.line()}"

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON types only: findings cross process boundaries under xdist."""
        data: dict[str, Any] = json.loads(json.dumps(asdict(self), default=str))
        return data | {"hint": self.hint, "severity": self.severity}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Finding:
        return cls(**{k: v for k, v in data.items() if k not in ("hint", "severity")})


def catalogued(hazard: str) -> Hazard:
    """A check may only report hazards the catalogue explains (fix and severity)."""
    known = entry(hazard)
    if known is None:
        raise ValueError(f"finding hazard {hazard!r} has no entry in catalogue.py")
    return known


class FindingsFailure(AssertionError):
    """A check found problems: one line per finding, the fixes, then context sections."""

    def __init__(self, findings: Sequence[Finding], sections: Sequence[tuple[str, str]] = ()):
        self.findings = list(findings)
        self.sections = list(sections)
        super().__init__("\n".join(f.labelled() for f in self.findings) or "check failed")

    def render(self) -> str:
        fixes = dict.fromkeys(f"fix ({f.hazard}): {f.hint}" for f in self.findings)
        parts = [str(self), *fixes]
        parts += [f"--- {title} ---\n{text.rstrip()}" for title, text in self.sections]
        return "\n".join(parts)


def error_fields(exc: BaseException) -> dict[str, Any]:
    """What a matrix cell's error says of the findings that failed it: the hazard of the first
    (and every hazard), so an incompatibility names it without matching its message."""
    if not isinstance(exc, FindingsFailure) or not exc.findings:
        return {}
    first = exc.findings[0]
    return {"hazard": first.hazard, "severity": first.severity,
            "hazards": list(dict.fromkeys(f.hazard for f in exc.findings))}


def attach(report: Any, findings: Iterable[Finding]) -> None:
    """Put an item's findings on its call report, for the controller's `received`."""
    setattr(report, REPORT_ATTRIBUTE, [f.as_dict() for f in findings])


def received(report: Any) -> list[Finding]:
    """The findings a (possibly remote) call report carries."""
    return [Finding.from_dict(data) for data in getattr(report, REPORT_ATTRIBUTE, None) or ()]


class FindingLog:
    """Every finding of the run, once per key, in the order found."""

    def __init__(self) -> None:
        self.findings: dict[tuple[str, ...], Finding] = {}

    def add(self, findings: Iterable[Finding]) -> None:
        for finding in findings:
            self.findings.setdefault(finding.key, finding)

    def __len__(self) -> int:
        return len(self.findings)

    def sorted(self) -> list[Finding]:
        return sorted(self.findings.values(), key=lambda f: (f.table or "", f.column or "",
                                                             f.hazard, f.backend))

    def as_json(self, which: Callable[[Finding], bool] = lambda f: True) -> dict[str, Any]:
        chosen = [f for f in self.sorted() if which(f)]
        counts: dict[str, int] = {}
        for finding in chosen:
            counts[finding.hazard] = counts.get(finding.hazard, 0) + 1
        return {"count": len(chosen), "by_hazard": dict(sorted(counts.items())),
                "findings": [f.as_dict() for f in chosen]}
