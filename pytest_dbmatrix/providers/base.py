"""The provider contract: turn a backend spec into a server URL, or say why not."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from sqlalchemy.engine import URL

from pytest_dbmatrix.backends.base import BackendUnavailable

__all__ = ["BackendUnavailable", "ProvideContext", "Server"]


@dataclass
class Server:
    """A reachable server: an admin URL on an existing database, and how to stop it."""

    url: URL
    provider: str
    source: str
    stop: Callable[[], None] | None = None
    details: dict[str, str] = field(default_factory=dict)


class ProvideContext(NamedTuple):
    """What providers may use: where to put files, how long to wait, who owns the run."""

    run_id: str
    worker: str
    tmp_dir: Path
    connect_timeout: float
    docker_network: str = "ports"
