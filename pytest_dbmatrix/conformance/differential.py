"""Cross-backend comparison: the same generated operations, their results side by side."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from pytest_dbmatrix.findings import Finding


def divergence_label(sides: Iterable[Iterable[str]]) -> str:
    """Backends grouped by result, each group sorted, groups sorted: stable across runs."""
    groups = sorted(",".join(sorted(side)) for side in sides)
    return " | ".join(groups)


def compare(table: str, observed: dict[str, dict[str, Any]],
            dialects: dict[str, str]) -> list[Finding]:
    """A finding per observation on which the backends disagree, naming each side.

    `observed` maps backend -> {"category:column:what": result}."""
    keys = sorted({key for results in observed.values() for key in results})
    merged: dict[tuple[str, str, str], Finding] = {}
    for key in keys:
        groups: dict[str, list[str]] = {}
        for backend, results in observed.items():
            if key in results:
                value = json.dumps(results[key], sort_keys=True, default=str)
                groups.setdefault(value, []).append(backend)
        if len(groups) < 2:
            continue
        category, column, what = [*key.split(":", 2), "", ""][:3]
        label = divergence_label(groups.values())
        sides = "; ".join(f"{', '.join(backends)}: {value}"
                          for value, backends in sorted(groups.items(), key=lambda g: g[1]))
        detail = f"{what + ' ' if what else ''}differs: {sides}"
        sides_dialects = divergence_label(
            [{dialects.get(b, b) for b in backends} for backends in groups.values()])
        merged.setdefault((category, column, label), Finding(
            category, "differential", label, detail, sides_dialects, table, column or None))
    return list(merged.values())
