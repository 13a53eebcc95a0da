"""The JSON report: who ran, backends, the test x backend matrix, incompatibilities (schema in
README).

`data_of` is the one builder of report data: the plugin's run and `dbmatrix merge` both call
it with a ResultMatrix, so both classify and render alike. A run writes its report when the
session starts, again every REFRESH_SECONDS (less often when writing takes long: WRITE_SHARE),
and at the end: a run that crashes or is killed leaves a report marked partial, with the tests
it had not run yet.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from pytest_dbmatrix import __version__
from pytest_dbmatrix.redact import scrub
from pytest_dbmatrix.report import digest, identity
from pytest_dbmatrix.results import ResultMatrix
from pytest_dbmatrix.run_state import KEY, MatrixState, backend_of, test_key

SCHEMA = "pytest-dbmatrix/report/1"
REFRESH_SECONDS = 10.0
WRITE_SHARE = 0.02
"""At most this share of the run goes into partial writes: a report that takes longer to
write than REFRESH_SECONDS * WRITE_SHARE (a large suite, a slow machine) is written less often."""


def data_of(matrix: ResultMatrix, run: dict[str, Any],
            sections: dict[str, Any] | None = None) -> dict[str, Any]:
    """The report data of a matrix: what the JSON file holds and the HTML page renders."""
    dialects = matrix.dialects()
    data: dict[str, Any] = {
        "schema": SCHEMA,
        "plugin_version": __version__,
        "created": identity.now(),
        "run": run,
        "backends": matrix.backends,
        "totals": matrix.totals(),
        "tests": [
            {"test": test, "results": {b: c.as_dict() for b, c in cells.items()}}
            for test, cells in matrix.tests.items()
        ],
        "incompatibilities": [i.as_dict(dialects) for i in matrix.incompatibilities()],
        "lost_backends": matrix.lost(),
    }
    data.update(sections or {})
    return data


def build(state: MatrixState, status: tuple[str, str | None] = ("finished", None),
          session: pytest.Session | None = None, ended: bool = True) -> dict[str, Any]:
    """The report data of this run; a partial one also lists the collected tests not run."""
    settings = state.settings
    label = ((settings.label.value, settings.label.source) if settings.label.value
             else identity.default_label())
    started = dt.datetime.fromtimestamp(state.started, dt.timezone.utc)
    run = identity.run_block(label, started.isoformat(timespec="seconds"),
                             identity.now() if ended else None,
                             *status)
    if status[0] == "partial":
        run["not_run"] = _not_run(state, session)
    sections = digest.sections(state.findings, state.triage)
    return data_of(state.matrix, run,
                   sections | {k: s() for k, s in state.report_sections.items()})


def _not_run(state: MatrixState, session: pytest.Session | None) -> dict[str, list[str]] | None:
    """backend -> collected tests with no result yet; None when this process did not collect
    (the xdist controller)."""
    items = session.items if session is not None else []
    if not items:
        return None
    missing: dict[str, list[str]] = {}
    for item in items:
        backend = backend_of(item)
        if backend is None:
            continue
        key = item.stash.get(KEY, None) or test_key(item, backend)
        if backend not in state.matrix.tests.get(key, {}):
            missing.setdefault(backend, []).append(key)
    return missing


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


def write_data(data: dict[str, Any], path: str | Path, secrets: tuple[str, ...] = ()) -> None:
    """Write atomically: a reader (or a crash) never sees half a report."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    temporary.write_text(scrub(dumps(data), secrets) + "\n", encoding="utf-8")
    os.replace(temporary, target)


def write(state: MatrixState, path: str, status: tuple[str, str | None] = ("finished", None),
          session: pytest.Session | None = None, ended: bool = True) -> None:
    write_data(build(state, status, session, ended), path, state.settings.secrets)


class JsonReport:
    """Writes --dbmatrix-report on the controller: partial at the start and every
    REFRESH_SECONDS, final at the end."""

    def __init__(self, state: MatrixState) -> None:
        self.state = state
        self.session: pytest.Session | None = None
        self.next_write = 0.0

    def _partial(self) -> None:
        path = self.state.settings.report.value
        if path and not self.state.is_worker:
            started = time.monotonic()
            write(self.state, path, identity.end_status(None, None), self.session, ended=False)
            now = time.monotonic()
            self.next_write = now + max(REFRESH_SECONDS, (now - started) / WRITE_SHARE)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.session = session
        self._partial()

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "teardown" and time.monotonic() >= self.next_write:
            self._partial()

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        path = self.state.settings.report.value
        if path and not self.state.is_worker:
            write(self.state, path, identity.end_status(session, exitstatus), session)


def plugin(state: MatrixState) -> JsonReport:
    return JsonReport(state)
