"""A compact GitHub-flavoured Markdown summary of report data, for $GITHUB_STEP_SUMMARY: totals
per backend, then the incompatibilities (dialect, normalised error, fix), capped with a line
saying how many more there are."""

from __future__ import annotations

from typing import Any

MAX_INCOMPATIBILITIES = 25
MAX_CELL = 300
OUTCOMES = ("passed", "failed", "error", "skipped", "xfailed", "xpassed", "missing")


def _cell(value: Any) -> str:
    """Table-safe: one line, pipes escaped, shortened."""
    text = " ".join(str("" if value is None else value).split())
    if len(text) > MAX_CELL:
        text = text[:MAX_CELL - 1] + "…"
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;")


def _code(value: Any) -> str:
    text = _cell(value)
    return f"`{text}`" if text and "`" not in text else text


def render(data: dict[str, Any], limit: int = MAX_INCOMPATIBILITIES) -> str:
    incs = data["incompatibilities"]
    baseline = data.get("baseline")
    title = f"## dbmatrix: {len(incs)} incompatibilit{'y' if len(incs) == 1 else 'ies'}"
    if baseline:
        title += (f" ({len(baseline['new'])} new, {len(baseline['still_present'])} still "
                  f"present, {len(baseline['fixed'])} fixed)")
    lines = [title, "", _totals(data), ""]
    partial = [m for m in data.get("merged_from", []) if m.get("status") == "partial"]
    lines += [f"> **Partial report** {_cell(m['label'])}: {_cell(m.get('reason'))}"
              for m in partial]
    if partial:
        lines.append("")
    if incs:
        lines += ["| test | passes on | fails on | dialect | error | fix |",
                  "|---|---|---|---|---|---|"]
        for inc in incs[:limit]:
            lines += _rows(inc)
        if len(incs) > limit:
            lines += ["", f"… and {len(incs) - limit} more incompatibilities (see the HTML or "
                          f"JSON report)"]
    else:
        lines.append("No incompatibilities: every test has the same outcome on every backend "
                     "where it passed.")
    lines += _digest(data.get("digest") or [], limit)
    if baseline and baseline["fixed"]:
        fixed = baseline["fixed"]
        lines += ["", f"**Fixed since the baseline ({len(fixed)}):** "
                  + ", ".join(_code(i["test"]) for i in fixed[:limit])
                  + (f", … and {len(fixed) - limit} more" if len(fixed) > limit else "")]
    return "\n".join(lines) + "\n"


def _totals(data: dict[str, Any]) -> str:
    shown = [o for o in OUTCOMES if any(o in t for t in data["totals"].values())]
    head = ["backend", "server", *shown]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for backend, totals in data["totals"].items():
        info = data["backends"].get(backend, {})
        server = info.get("server") or info.get("status") or ""
        rows.append("| " + " | ".join([_cell(backend), _cell(server),
                                       *(str(totals.get(o, 0)) for o in shown)]) + " |")
    return "\n".join(rows)


def _rows(inc: dict[str, Any]) -> list[str]:
    rows = []
    group = inc.get("baseline")
    test = _code(inc["test"]) + (f" **{group}**" if group else "")
    for n, (backend, failure) in enumerate(inc["failed_on"].items()):
        error = (failure.get("error") or {}).get("line") or failure.get("outcome")
        rows.append("| " + " | ".join([
            test if n == 0 else "", _cell(", ".join(inc["passed_on"])) if n == 0 else "",
            _cell(backend), _cell(failure.get("dialect")), _code(error),
            _cell(_fix(failure))]) + " |")
    return rows


def _fix(failure: dict[str, Any]) -> str:
    if not failure.get("hint"):
        return ""
    label = f"**{failure.get('severity') or 'error'}** {failure.get('hazard')}: "
    return label + str(failure["hint"])


def _digest(entries: list[dict[str, Any]], limit: int) -> list[str]:
    """The findings by hazard, errors first, as the terminal and the HTML page give them."""
    if not entries:
        return []
    lines = ["", f"### Findings by hazard ({sum(e['count'] for e in entries)})", "",
             "| severity | hazard | count | backends | statuses | fix |",
             "|---|---|---|---|---|---|"]
    for entry in entries[:limit]:
        statuses = ", ".join(f"{n} {s}" for s, n in entry["statuses"].items() if n)
        lines.append("| " + " | ".join([
            _cell(entry["severity"]), _code(entry["hazard"]), str(entry["count"]),
            _cell(", ".join(entry["backends"])), _cell(statuses), _cell(entry["fix"])]) + " |")
    if len(entries) > limit:
        lines.append(f"… and {len(entries) - limit} more hazards (see the HTML or JSON report)")
    return lines
