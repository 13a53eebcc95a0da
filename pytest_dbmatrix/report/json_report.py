"""The JSON report: backends, the test x backend matrix, incompatibilities (schema in README)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from pytest_dbmatrix import __version__
from pytest_dbmatrix.redact import scrub
from pytest_dbmatrix.run_state import MatrixState

SCHEMA = "pytest-dbmatrix/report/1"


def build(state: MatrixState) -> dict[str, Any]:
    matrix = state.matrix
    dialects = matrix.dialects()
    data: dict[str, Any] = {
        "schema": SCHEMA,
        "plugin_version": __version__,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "backends": matrix.backends,
        "totals": matrix.totals(),
        "tests": [
            {"test": test, "results": {b: c.as_dict() for b, c in cells.items()}}
            for test, cells in matrix.tests.items()
        ],
        "incompatibilities": [i.as_dict(dialects) for i in matrix.incompatibilities()],
        "lost_backends": matrix.lost(),
    }
    for key, section in state.report_sections.items():
        data[key] = section()
    return data


_ENCODER = json.JSONEncoder(default=str)
"""One encoder for every entry: json.dumps(default=...) builds a new one per call."""


def dumps(data: dict[str, Any]) -> str:
    """JSON with one top-level key per line and one entry of each list per line: readable,
    diffable, and written by the C encoder (json's `indent` takes the pure-Python one)."""
    lines = []
    for key, value in data.items():
        name = _ENCODER.encode(key)
        if isinstance(value, list) and value:
            entries = ",\n    ".join(map(_ENCODER.encode, value))
            lines.append(f"  {name}: [\n    {entries}\n  ]")
        else:
            lines.append(f"  {name}: {_ENCODER.encode(value)}")
    return "{\n" + ",\n".join(lines) + "\n}"


def write(state: MatrixState, path: str) -> None:
    text = dumps(build(state))
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(scrub(text, state.settings.secrets) + "\n", encoding="utf-8")
