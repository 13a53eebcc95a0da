"""A finding: what breaks, where (table, column, backend), the evidence and the fix."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from pytest_dbmatrix.catalogue import hint_for as hazard_hint

TIERS = ("static", "live", "constraint", "differential")


def hint_for(category: str) -> str:
    """The fix of a category, from the one table in catalogue.py; every category must have one."""
    hint = hazard_hint(category)
    if hint is None:
        raise ValueError(f"finding category {category!r} has no entry in catalogue.py")
    return hint


@dataclass(frozen=True)
class Finding:
    """One problem of one table (and column) on one backend; `backend` of a divergence names
    both sides ("mariadb,mysql | postgresql,sqlite")."""

    category: str
    table: str
    column: str | None
    backend: str
    dialect: str
    tier: str
    detail: str
    before: str | None = None
    after: str | None = None

    def __post_init__(self) -> None:
        hint_for(self.category)
        if self.tier not in TIERS:
            raise ValueError(f"unknown tier {self.tier!r}")

    @property
    def hint(self) -> str:
        return hint_for(self.category)

    @property
    def key(self) -> tuple[str, str, str, str]:
        """What identifies a finding across runs: category, table, column, backend."""
        return (self.category, self.table, self.column or "", self.backend)

    @property
    def where(self) -> str:
        return f"{self.table}.{self.column}" if self.column else self.table

    def line(self) -> str:
        shown = [f"{word} {value}" for word, value in (("wrote", self.before),
                                                       ("read", self.after)) if value is not None]
        values = f" ({', '.join(shown)})" if shown else ""
        return f"[{self.category}] {self.where} on {self.backend}: {self.detail}{values}"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"hint": self.hint}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        return cls(**{k: v for k, v in data.items() if k != "hint"})


def divergence_label(sides: Iterable[Iterable[str]]) -> str:
    """Backends grouped by result, each group sorted, groups sorted: stable across runs."""
    groups = sorted(",".join(sorted(side)) for side in sides)
    return " | ".join(groups)


class FindingLog:
    """Every finding of the run, once per key, in the order found."""

    def __init__(self) -> None:
        self.findings: dict[tuple[str, str, str, str], Finding] = {}

    def add(self, findings: Iterable[Finding]) -> None:
        for finding in findings:
            self.findings.setdefault(finding.key, finding)

    def __len__(self) -> int:
        return len(self.findings)

    def sorted(self) -> list[Finding]:
        return sorted(self.findings.values(), key=lambda f: (f.table, f.column or "", f.category,
                                                             f.backend))

    def as_json(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for finding in self.findings.values():
            counts[finding.category] = counts.get(finding.category, 0) + 1
        return {"count": len(self), "by_category": dict(sorted(counts.items())),
                "findings": [f.as_dict() for f in self.sorted()]}


def failure_message(findings: list[Finding]) -> str:
    """The text of a failing conformance item: one line per finding, then the fixes."""
    lines = [f.line() for f in findings]
    fixes = dict.fromkeys(f"fix ({f.category}): {f.hint}" for f in findings)
    return "\n".join([*lines, *fixes])
