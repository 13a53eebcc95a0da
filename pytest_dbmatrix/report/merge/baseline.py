"""The baseline diff for pull requests: each incompatibility new, still present, or fixed.

Compared per test and failing backend: an incompatibility is new when one of its failing
backends did not fail that test in the baseline (a test that now also breaks PostgreSQL is
news); a baseline incompatibility is fixed when none of its backends fails that test now.
Tests the baseline had but this merge did not run are neither: they are `gone`.
"""

from __future__ import annotations

from typing import Any

NEW, STILL, FIXED = "new", "still present", "fixed"


def diff(data: dict[str, Any], baseline: dict[str, Any], source: str) -> dict[str, Any]:
    """Tag each of data's incompatibilities with its group; the `baseline` section."""
    before = {i["test"]: set(i["failed_on"]) for i in baseline.get("incompatibilities", [])}
    now = {i["test"]: set(i["failed_on"]) for i in data["incompatibilities"]}
    run_now = {row["test"] for row in data["tests"]}
    new: list[str] = []
    still: list[str] = []
    for inc in data["incompatibilities"]:
        group = NEW if now[inc["test"]] - before.get(inc["test"], set()) else STILL
        inc["baseline"] = group
        (new if group == NEW else still).append(inc["test"])
    fixed: list[dict[str, Any]] = []
    gone: list[dict[str, Any]] = []
    for inc in baseline.get("incompatibilities", []):
        if inc["test"] in now and before[inc["test"]] & now[inc["test"]]:
            continue
        (fixed if inc["test"] in run_now else gone).append(inc)
    return {"file": source, "label": (baseline.get("run") or {}).get("label"),
            "new": new, "still_present": still, "fixed": fixed, "gone": gone}


def groups(section: dict[str, Any] | None) -> dict[str, str]:
    """test -> its group, for the renderers."""
    if not section:
        return {}
    return {**dict.fromkeys(section["still_present"], STILL), **dict.fromkeys(section["new"], NEW)}
