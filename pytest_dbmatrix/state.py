"""The plugin's per-run state, kept in `config.stash`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from pytest_dbmatrix.provision import Provisioner
from pytest_dbmatrix.results import ResultMatrix
from pytest_dbmatrix.run import RunIdentity
from pytest_dbmatrix.settings import Settings

BACKEND_PARAM = "dbmatrix_backend"


@dataclass
class MatrixState:
    settings: Settings
    run: RunIdentity
    provisioner: Provisioner
    matrix: ResultMatrix = field(default_factory=ResultMatrix)
    is_worker: bool = False
    report_sections: dict[str, Callable[[], Any]] = field(default_factory=dict)
    cleanup_problems: list[str] = field(default_factory=list)

    def fail_or_skip(self, message: str) -> None:
        """An unavailable backend: a skip, or an error under --dbmatrix-strict."""
        if self.settings.strict.value:
            pytest.fail(f"{message} (required by {self.settings.strict.source})", pytrace=False)
        pytest.skip(message)


STATE = pytest.StashKey[MatrixState]()


def get_state(config: pytest.Config) -> MatrixState:
    return config.stash[STATE]
