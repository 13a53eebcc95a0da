"""Who owns a run: host, owning pid and a random tag, so databases are named per run and worker."""

from __future__ import annotations

import hashlib
import os
import re
import socket
from typing import NamedTuple

PREFIX = "dbmatrix"
_NAME = re.compile(
    rf"^{PREFIX}_(?P<host>[0-9a-f]{{4}})_(?P<pid>\d+)_(?P<tag>[0-9a-f]{{4}})_"
    r"(?P<worker>main|gw\d+)_(?P<backend>[a-z0-9_]+)$"
)


def host_tag() -> str:
    return hashlib.sha1(socket.gethostname().encode()).hexdigest()[:4]


class RunIdentity(NamedTuple):
    host: str
    pid: int
    tag: str
    worker: str = "main"

    @classmethod
    def new(cls) -> RunIdentity:
        return cls(host_tag(), os.getpid(), os.urandom(2).hex())

    @property
    def run_id(self) -> str:
        return f"{self.host}_{self.pid}_{self.tag}"

    @classmethod
    def from_run_id(cls, run_id: str, worker: str) -> RunIdentity:
        host, pid, tag = run_id.split("_")
        return cls(host, int(pid), tag, worker)

    def database_name(self, backend: str) -> str:
        safe = re.sub(r"[^a-z0-9_]", "_", backend.lower())[:20]
        return f"{PREFIX}_{self.run_id}_{self.worker}_{safe}"


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stale_databases(names: list[str], current: RunIdentity) -> list[str]:
    """Databases this plugin made on this host for runs whose owning process is gone."""
    stale = []
    for name in names:
        m = _NAME.match(name)
        if not m or m["host"] != current.host:
            continue
        pid = int(m["pid"])
        if pid != current.pid and not pid_alive(pid):
            stale.append(name)
    return stale


def is_plugin_database(name: str) -> bool:
    return _NAME.match(name) is not None
