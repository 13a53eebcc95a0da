"""Shared by the provider tests: an isolated state directory and what is left in it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_dbmatrix.providers.registry import STATE_DIR_ENV

RECORDS = """
import json, os, pathlib

def record(db_url, **extra):
    out = pathlib.Path(os.environ["DBMATRIX_TEST_OUT"])
    out.mkdir(exist_ok=True)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    info = {"port": db_url.port, "host": db_url.host, "database": db_url.database,
            "worker": worker, "pid": os.getpid(), **extra}
    (out / f"{db_url.database}.json").write_text(json.dumps(info))
"""


@pytest.fixture
def state_dir(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A short private state directory (socket paths must stay short), removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix="dbm-", dir="/tmp"))
    monkeypatch.setenv(STATE_DIR_ENV, str(path))
    yield path
    for pid in server_pids(path):  # a failed test must not leave servers running
        os.kill(pid, 9)
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def out_dir(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = pytester.path / "out"
    path.mkdir()
    monkeypatch.setenv("DBMATRIX_TEST_OUT", str(path))
    pytester.makepyfile(records=RECORDS)
    return path


def server_pids(state: Path) -> list[int]:
    """Processes whose command line names the state directory: the servers started in it."""
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if str(state) in cmdline and int(proc.name) != os.getpid():
                pids.append(int(proc.name))
    return pids


def records_left(state: Path) -> list[str]:
    servers = state / "servers"
    return sorted(p.name for p in servers.iterdir()) if servers.exists() else []


def start_pytest(pytester: pytest.Pytester, *args: str) -> subprocess.Popen[bytes]:
    """An inner pytest run in the background, to be killed or interrupted."""
    return subprocess.Popen([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
                            cwd=pytester.path, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)


def wait_for_file(path: Path, proc: subprocess.Popen[bytes], limit: float = 240.0) -> None:
    """Wait until the inner run wrote `path` (its servers are up); fail if the run ended."""
    deadline = time.monotonic() + limit
    while not path.exists():
        if proc.poll() is not None:
            output = proc.stdout.read().decode() if proc.stdout else ""
            pytest.fail(f"the inner run ended early:\n{output}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the inner run did not reach its test within {limit} s")
        time.sleep(0.2)
