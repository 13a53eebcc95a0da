"""The migration findings per revision and backend: where one revision does different things.

A revision that fails on PostgreSQL and silently fills rows on MySQL gives a failed
data_preserved cell on both; this view says what each backend did with that revision."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from pytest_dbmatrix.errors import cut
from pytest_dbmatrix.findings import Finding

SHOWN = 12
"""Revisions printed in the terminal; the JSON report has them all."""


def by_revision(found: Iterable[Finding], backends: Sequence[str]) -> dict[str, Any]:
    """revision -> backend -> its findings there (check, hazard, message); every live backend
    is listed, with [] where that revision found nothing."""
    view: dict[str, dict[str, list[dict[str, str]]]] = {}
    for f in found:
        if f.revision is None or f.status == "note":
            continue
        row = view.setdefault(f.revision, {b: [] for b in backends})
        said = f.details.get("error") or f.message  # the error itself, where one was raised
        row.setdefault(f.backend, []).append(
            {"check": f.check, "hazard": f.hazard, "message": str(said)})
    return view


def differing(view: dict[str, Any]) -> dict[str, list[tuple[list[str], list[dict[str, str]]]]]:
    """The revisions whose backends did not all find the same: backends grouped by what they
    found (by hazard and message), the groups in backend order."""
    result = {}
    for revision, row in view.items():
        groups: dict[tuple[tuple[str, str], ...], list[str]] = {}
        for backend, found in row.items():
            key = tuple(sorted({(f["hazard"], f["message"]) for f in found}))
            groups.setdefault(key, []).append(backend)
        if len(groups) > 1:
            result[revision] = [(names, row[names[0]]) for names in groups.values()]
    return result


def lines(view: dict[str, Any], width: int = 200) -> list[str]:
    """Terminal lines for the revisions where the backends differ."""
    shown = differing(view)
    if not shown:
        return []
    out = [f"dbmatrix migrations by revision: {len(shown)} revision(s) the backends do "
           f"differently"]
    for revision, groups in list(shown.items())[:SHOWN]:
        out.append(f"  {revision}")
        for names, found in groups:
            more = f", +{len(found) - 1} more" if len(found) > 1 else ""
            what = (f"{found[0]['hazard']} ({found[0]['check']}{more}): {found[0]['message']}"
                    if found else "no finding")
            out.append(cut(f"    {', '.join(names)}: {what}", width))
    if len(shown) > SHOWN:
        out.append(f"  ({len(shown) - SHOWN} more revisions in the JSON report)")
    return out
