"""What a migration check reports: findings with hints, and the failure that carries them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from pytest_dbmatrix.catalogue import hint_for


@dataclass(frozen=True)
class Finding:
    """One problem of the migration history on one backend."""

    kind: str
    check: str
    backend: str
    message: str
    revision: str | None = None
    dialect: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def hint(self) -> str | None:
        return hint_for(self.kind)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON types only: reports cross process boundaries under xdist."""
        data: dict[str, Any] = json.loads(json.dumps(asdict(self), default=str))
        return data | {"hint": self.hint}

    def line(self) -> str:
        where = f" at {self.revision}" if self.revision else ""
        return f"{self.kind}{where}: {self.message}"


class MigrationFailure(Exception):
    """A check failed: the first line names the finding, sections give revision, SQL, backend."""

    def __init__(self, findings: Sequence[Finding], sections: Sequence[tuple[str, str]] = ()):
        self.findings = list(findings)
        self.sections = list(sections)
        lines = [f.line() for f in self.findings]
        super().__init__("\n".join(lines) or "migration check failed")

    def render(self) -> str:
        parts = [str(self)]
        for finding in self.findings:
            if finding.hint:
                parts.append(f"fix ({finding.kind}): {finding.hint}")
        for title, text in self.sections:
            parts.append(f"--- {title} ---\n{text.rstrip()}")
        return "\n".join(parts)
