"""pytest-xdist support: workers share the controller's run id and get databases of their own;
their cleanup lines reach the controller's summary."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from pytest_dbmatrix.run_identity import RunIdentity
from pytest_dbmatrix.run_state import MatrixState

RUN_ID = "dbmatrix_run_id"
CLEANUP = "dbmatrix_cleanup"
"""workeroutput key: the worker's cleanup steps and problems, for the controller's summary."""


def run_identity(config: pytest.Config) -> RunIdentity | None:
    """On a worker, the controller's run with this worker's id; None elsewhere."""
    workerinput = getattr(config, "workerinput", None)
    if not workerinput or RUN_ID not in workerinput:
        return None
    return RunIdentity.from_run_id(workerinput[RUN_ID], workerinput["workerid"])


class XdistHooks:
    """Registered only when xdist is installed, so its hooks are known."""

    def __init__(self, state: MatrixState) -> None:
        self.state = state

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput[RUN_ID] = self.state.run.run_id

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> Generator[None]:
        """On a worker, once its databases are dropped (the plugin's trylast sessionfinish,
        inside this wrapper) and before xdist's outer wrapper sends workeroutput."""
        try:
            return (yield)
        finally:
            output = getattr(session.config, "workeroutput", None)
            if output is not None:
                output[CLEANUP] = {"steps": list(self.state.provisioner.steps),
                                   "problems": list(self.state.cleanup_problems)}

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        """On the controller: keep a finished worker's cleanup lines for the summary."""
        cleanup = getattr(node, "workeroutput", {}).get(CLEANUP)
        if cleanup:
            self.state.worker_cleanup_steps += cleanup["steps"]
            self.state.cleanup_problems += cleanup["problems"]
