"""pytest-xdist support: workers share the controller's run id and get databases of their own."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_dbmatrix.run_identity import RunIdentity
from pytest_dbmatrix.run_state import MatrixState

RUN_ID = "dbmatrix_run_id"


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
