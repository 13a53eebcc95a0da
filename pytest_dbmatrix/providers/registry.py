"""Where started servers are recorded: one directory per server under a stable per-user base.

A record names its owner (the run id, whose pid is the controlling pytest process, or "up"
for servers kept by `dbmatrix up`), how to reach the server and how to remove it. Workers of a
run share a record under a file lock and hold leases on it; the last one out stops the server.
Records whose owner is gone are reaped by the next run.
"""

from __future__ import annotations

import fcntl
import importlib
import json
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Protocol

from pytest_dbmatrix.providers.base import ProviderRun
from pytest_dbmatrix.run_identity import host_tag, pid_alive

KEPT = "up"
"""The run id of servers started by `dbmatrix up`: kept until `dbmatrix down`."""
STATE_DIR_ENV = "DBMATRIX_STATE_DIR"
MODULES = {"docker": "pytest_dbmatrix.providers.docker", "local": "pytest_dbmatrix.providers.local"}


@dataclass
class Record:
    """A server started by a provider, as written to `<base>/servers/<key>/record.json`."""

    key: str
    backend: str
    provider: str
    run_id: str
    host: str = field(default_factory=host_tag)
    state: str = "starting"
    url: str = ""
    reason: str = ""
    description: str = ""
    container_id: str = ""
    server_pid: int = 0
    stop_signal: int = 15
    data_dir: str = ""
    started: float = field(default_factory=time.time)

    @property
    def kept(self) -> bool:
        return self.run_id == KEPT

    @property
    def owner_pid(self) -> int | None:
        """The pid of the run's controlling process; None for kept servers."""
        parts = self.run_id.split("_")
        return int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else None

    def owner_gone(self) -> bool:
        pid = self.owner_pid
        return not self.kept and self.host == host_tag() and pid is not None and not pid_alive(pid)

    def label(self) -> str:
        owner = "kept by 'dbmatrix up'" if self.kept else f"run {self.run_id}"
        return f"{self.provider} {self.backend} server of {owner}: {self.description}"


class ProviderModule(Protocol):
    def is_alive(self, record: Record, run: ProviderRun) -> bool: ...

    def destroy(self, record: Record, run: ProviderRun) -> None: ...


def provider_module(name: str) -> ProviderModule:
    module: ProviderModule = importlib.import_module(MODULES[name])
    return module


def base_dir() -> Path:
    """`<tmp>/pytest-dbmatrix-<uid>`, traversable by servers run as another user, ours only."""
    given = os.environ.get(STATE_DIR_ENV, "").strip()
    base = Path(given) if given else Path(tempfile.gettempdir()) / f"pytest-dbmatrix-{os.getuid()}"
    for path in (base, base / "servers", base / "locks"):
        _private_dir(path)
    return base


def _private_dir(path: Path) -> None:
    with suppress(FileExistsError):
        path.mkdir(mode=0o711)
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise RuntimeError(
            f"{path} is not a directory of user {os.getuid()}; remove it, or set "
            f"{STATE_DIR_ENV} to a directory of your own"
        )
    if stat.S_IMODE(info.st_mode) != 0o711:
        path.chmod(0o711)


def record_dir(key: str) -> Path:
    return base_dir() / "servers" / key


@contextmanager
def locked(key: str) -> Iterator[None]:
    """An exclusive lock on `key` shared by all processes of this user (xdist workers).

    The lock file may be removed by its holder (`unlock_file`): a waiter that then gets the
    lock on the removed file sees that and locks the new one instead.
    """
    path = base_dir() / "locks" / f"{key}.lock"
    while True:
        with path.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                current = path.stat().st_ino
            except FileNotFoundError:
                current = None
            if current != os.fstat(handle.fileno()).st_ino:
                continue
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
            return


def unlock_file(key: str) -> None:
    """Remove the lock file of `key`; call it while holding the lock."""
    (base_dir() / "locks" / f"{key}.lock").unlink(missing_ok=True)


def write(record: Record) -> None:
    directory = record_dir(record.key)
    _private_dir(directory)
    part = directory / "record.json.part"
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(asdict(record), handle)
    part.replace(directory / "record.json")


def read(key: str) -> Record | None:
    try:
        data = json.loads((record_dir(key) / "record.json").read_text())
    except (OSError, ValueError):
        return None
    known = {f.name for f in fields(Record)}
    return Record(**{k: v for k, v in data.items() if k in known})


def all_records() -> list[Record]:
    found = (read(d.name) for d in sorted((base_dir() / "servers").iterdir()) if d.is_dir())
    return [r for r in found if r is not None]


def forget(key: str) -> None:
    """Remove a record's files; its lock file stays (others may wait on it) until reaped."""
    shutil.rmtree(record_dir(key), ignore_errors=True)


def add_lease(key: str, worker: str) -> None:
    leases = record_dir(key) / "leases"
    leases.mkdir(exist_ok=True)
    (leases / worker).write_text(str(os.getpid()))


def release_lease(key: str, worker: str) -> int:
    """Drop this worker's lease; the number of leases still held by live processes."""
    leases = record_dir(key) / "leases"
    (leases / worker).unlink(missing_ok=True)
    alive = 0
    for lease in leases.glob("*") if leases.is_dir() else ():
        with suppress(OSError, ValueError):
            alive += pid_alive(int(lease.read_text()))
    return alive


def destroy(record: Record, run: ProviderRun) -> None:
    """Stop the record's server (if it got that far) and remove every file of it."""
    if record.container_id or record.server_pid or record.data_dir:
        provider_module(record.provider).destroy(record, run)
    forget(record.key)


def reap_stale(run: ProviderRun) -> list[str]:
    """Remove what runs whose owning process is gone left behind; say what was removed."""
    removed = []
    with locked("reap"):
        for record in all_records():
            if not record.owner_gone():
                continue
            had_server = bool(record.container_id or record.server_pid)
            try:
                destroy(record, run)
            except Exception as exc:
                removed.append(f"could not remove {record.label()}: {exc}")
                continue
            if had_server:
                removed.append(f"{record.label()} (pid {record.owner_pid} is gone)")
        _reap_orphan_locks()
    return removed


def _reap_orphan_locks() -> None:
    servers = base_dir() / "servers"
    for lock in (base_dir() / "locks").glob("*.lock"):
        key = lock.name.removesuffix(".lock")
        record = Record(key, "", "", key.split("-")[0])
        if key != "reap" and not (servers / key).exists() and record.owner_gone():
            lock.unlink(missing_ok=True)
