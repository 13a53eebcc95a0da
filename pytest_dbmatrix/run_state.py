"""The plugin's per-run state, kept in `config.stash`."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

from pytest_dbmatrix import triage as triage_
from pytest_dbmatrix.findings import FindingLog
from pytest_dbmatrix.provision import Provisioner
from pytest_dbmatrix.results import ResultMatrix
from pytest_dbmatrix.run_identity import RunIdentity
from pytest_dbmatrix.settings import Settings
from pytest_dbmatrix.triage import Triage

if TYPE_CHECKING:
    pass

BACKEND_PARAM = "dbmatrix_backend"
KEY = pytest.StashKey[str]()
"""The matrix row of a generated item; a parametrized item's row is `test_key` of its id."""
BACKEND = pytest.StashKey[str]()
"""The backend of a generated (non-parametrized) item."""


def backend_of(item: pytest.Item) -> str | None:
    """The backend an item runs on: its parameter, or what a generated item put in its stash."""
    if BACKEND in item.stash:
        return item.stash[BACKEND]
    callspec = getattr(item, "callspec", None)
    return callspec.params.get(BACKEND_PARAM) if callspec else None


def test_key(item: pytest.Item, backend: str) -> str:
    """The node id without the backend part: the row of the matrix."""
    nodeid = item.nodeid
    if "[" not in nodeid:
        return nodeid
    base, ids = nodeid[: nodeid.rindex("[")], nodeid[nodeid.rindex("[") + 1 : -1]
    parts = ids.split("-")
    if backend in parts:
        parts.remove(backend)
    return f"{base}[{'-'.join(parts)}]" if parts else base


@dataclass
class MatrixState:
    settings: Settings
    run: RunIdentity
    provisioner: Provisioner
    matrix: ResultMatrix = field(default_factory=ResultMatrix)
    is_worker: bool = False
    report_sections: dict[str, Callable[[], Any]] = field(default_factory=dict)
    cleanup_problems: list[str] = field(default_factory=list)
    worker_cleanup_steps: list[str] = field(default_factory=list)
    """On an xdist controller, its workers' cleanup steps (the provisioner has this
    process's)."""
    lost_backends: dict[str, str] = field(default_factory=dict)
    watch_backend: Callable[..., None] = lambda backend, engine=None: None
    """Follows a live backend's engine, or another engine of it (an async engine's sync side),
    for leaked connections (connection_watch)."""
    """Backends a test could no longer connect to, with the message their later tests get."""
    started: float = field(default_factory=time.time)
    """When the run started (the JSON report's run.started)."""
    triage: Triage = field(default_factory=Triage)
    """Which findings fail their test (--dbmatrix-fail-on, the accepted findings)."""
    findings: FindingLog = field(default_factory=FindingLog)
    """Every finding of the generated checks the controller received, with its status."""

    def fail_or_skip(self, message: str) -> None:
        """An unavailable backend: a skip, or an error under --dbmatrix-strict.

        Raised `from None`: callers are inside `except BackendUnavailable`, whose message
        pytest would otherwise print a second time as the context."""
        if self.settings.strict.value:
            message = f"{message} (required by {self.settings.strict.source})"
            raise pytest.fail.Exception(message, pytrace=False) from None
        raise pytest.skip.Exception(message) from None


STATE = pytest.StashKey[MatrixState]()


def triage_from(settings: Settings) -> Triage:
    """--dbmatrix-fail-on and the acceptances of the ini, the option and the file."""
    accepted = settings.accept.value
    path = settings.accept_file.value
    if path:
        try:
            accepted += triage_.parse_lines(triage_.read_file(path))
        except triage_.AcceptanceError as exc:
            raise pytest.UsageError(f"{exc} (from {settings.accept_file.source})") from None
    return Triage(settings.fail_on.value, tuple(dict.fromkeys(accepted)))


def get_state(config: pytest.Config) -> MatrixState:
    return config.stash[STATE]
