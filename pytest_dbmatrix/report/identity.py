"""Who wrote a report: the run's label, when it started and ended, and whether it finished.

`dbmatrix merge` joins reports of several CI jobs; it needs each one named (the label), and
must know a report cut short (interrupted, stopped by -x, crashed) from a finished one.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
from typing import Any

import pytest

MATRIX_ENV = "DBMATRIX_GITHUB_MATRIX"
"""GitHub Actions does not export a job's matrix values: the workflow passes
`${{ toJSON(matrix) }}` in this variable (README, CI example)."""
FINISHED_EXITS = (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED,
                  pytest.ExitCode.NO_TESTS_COLLECTED)


def default_label(environ: dict[str, str] | None = None) -> tuple[str, str]:
    """(label, where it came from): TOX_ENV_NAME, else GITHUB_JOB with the matrix values as
    GitHub shows them (`test (postgresql, 3.12)`), else the host name."""
    env = os.environ if environ is None else environ
    if env.get("TOX_ENV_NAME"):
        return env["TOX_ENV_NAME"], "env TOX_ENV_NAME"
    if env.get("GITHUB_JOB"):
        values = _matrix_values(env.get(MATRIX_ENV, ""))
        if values:
            return f"{env['GITHUB_JOB']} ({', '.join(values)})", f"env GITHUB_JOB, {MATRIX_ENV}"
        return env["GITHUB_JOB"], "env GITHUB_JOB"
    return socket.gethostname(), "host name"


def _matrix_values(text: str) -> list[str]:
    try:
        matrix = json.loads(text) if text.strip() else None
    except ValueError:
        return [text.strip()]
    if isinstance(matrix, dict):
        return [v if isinstance(v, str) else json.dumps(v) for v in matrix.values()]
    return []


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def run_block(label: tuple[str, str], started: str, ended: str | None,
              status: str, reason: str | None = None) -> dict[str, Any]:
    """The `run` object of a JSON report. status: finished, or partial with the reason."""
    return {"label": label[0], "label_source": label[1], "host": socket.gethostname(),
            "started": started, "ended": ended, "status": status, "reason": reason}


def end_status(session: pytest.Session | None, exitstatus: int | None) -> tuple[str, str | None]:
    """finished, or partial and why: interrupted, stopped early (-x, --maxfail), an internal
    error, or (no session end yet) still running: the run crashed if nothing comes after."""
    if session is None or exitstatus is None:
        return "partial", "the run did not end (still running, or it crashed or was killed)"
    stopped = session.shouldfail or session.shouldstop
    if exitstatus == pytest.ExitCode.INTERRUPTED:
        return "partial", f"interrupted{': ' + str(stopped) if stopped else ''}"
    if exitstatus not in FINISHED_EXITS:
        name = pytest.ExitCode(exitstatus).name
        return "partial", f"pytest exit status {int(exitstatus)} ({name})"
    if stopped:
        return "partial", f"stopped early: {stopped}"
    return "finished", None
