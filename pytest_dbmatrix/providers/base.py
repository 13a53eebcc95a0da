"""The provider contract: turn a backend spec into a server URL, or say why not."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy.engine import URL

from pytest_dbmatrix.backends.base import BackendUnavailable

if TYPE_CHECKING:
    import subprocess

__all__ = ["BackendUnavailable", "ProvideContext", "ProviderRun", "Server"]


@dataclass
class Server:
    """A reachable server: an admin URL on an existing database, and how to stop it."""

    url: URL
    provider: str
    source: str
    stop: Callable[[], None] | None = None
    details: dict[str, str] = field(default_factory=dict)


class ProviderRun:
    """What the providers keep for one run, never in module globals: one per pytest process
    (its Provisioner's, in `config.stash`) and one per `dbmatrix up/down/status` invocation.

    The Docker engine client (or why there is none), whether what killed runs left was already
    reaped (records, then unrecorded containers: once each per run), the loopback ports handed
    out (never twice), and the local servers this process spawned (to reap their exit)."""

    def __init__(self) -> None:
        self.engine_lock = threading.Lock()
        self.docker_engine: tuple[Any, str] | None = None
        self.reap_lock = threading.Lock()
        self.records_reaped = False
        self.orphans_lock = threading.Lock()
        self.orphans_reaped = False
        self.ports_lock = threading.Lock()
        self.given_ports: set[int] = set()
        self.children: dict[int, subprocess.Popen[bytes]] = {}


class ProvideContext(NamedTuple):
    """What providers may use: where to put files, how long to wait, who owns the run, and
    the run's provider state."""

    run_id: str
    worker: str
    tmp_dir: Path
    connect_timeout: float
    provider_run: ProviderRun
    docker_network: str = "ports"
