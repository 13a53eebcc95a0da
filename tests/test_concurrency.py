"""Two pytest runs at once against the same servers, each also with xdist -n 2: no run or
worker ever sees another's rows, and both leave nothing behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import LIVE, LIVE_URLS

OVERLAPPING_TESTS = """
import os
import time
from pathlib import Path
import pytest
import sqlalchemy as sa

TOKEN, OTHER = os.environ["RUN_TOKEN"], os.environ["OTHER_TOKEN"]
SYNC = Path(os.environ["SYNC_DIR"])
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")


def wait_for_other_run():
    deadline = time.monotonic() + 60
    while not any(SYNC.glob(OTHER + "-*")) and time.monotonic() < deadline:
        time.sleep(0.1)
    if any(SYNC.glob(OTHER + "-*")):
        (SYNC / f"overlap-{TOKEN}").touch()


@pytest.mark.parametrize("n", range(4))
def test_committed_rows_stay_in_the_runs_database(db_engine, dbmatrix_backend, n):
    with db_engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS seen (token VARCHAR(40), worker "
                             "VARCHAR(10))")
        conn.exec_driver_sql(f"INSERT INTO seen VALUES ('{TOKEN}', '{WORKER}')")
    (SYNC / f"{TOKEN}-{dbmatrix_backend.name}-{WORKER}-{n}").touch()
    wait_for_other_run()
    with db_engine.connect() as conn:
        owners = set(map(tuple, conn.exec_driver_sql("SELECT DISTINCT token, worker FROM seen")))
    assert owners == {(TOKEN, WORKER)}


@pytest.mark.parametrize("n", range(4))
def test_session_commits_are_private(db_engine, db_session, n):
    with db_engine.begin() as conn:  # DDL apart: it would commit the session on MySQL
        conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS notes (token VARCHAR(40))")
    db_session.execute(sa.text("INSERT INTO notes VALUES (:t)"), {"t": TOKEN})
    db_session.commit()
    tokens = db_session.scalars(sa.text("SELECT token FROM notes")).all()
    assert tokens == [TOKEN]
"""


def plugin_databases() -> set[str]:
    found: set[str] = set()
    for backend, query in (("postgresql", "SELECT datname FROM pg_database"),
                           ("mariadb", "SHOW DATABASES")):
        engine = sa.create_engine(LIVE_URLS[backend], poolclass=sa.pool.NullPool)
        with engine.connect() as conn:
            found |= {r[0] for r in conn.exec_driver_sql(query)}
        engine.dispose()
    return found


def inner_env(token: str, other: str, sync: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith(("DBMATRIX_", "PYTEST_")) and not k.startswith("DBMATRIX_TEST_"))}
    env |= {f"DBMATRIX_{name.upper()}_URL": url for name, url in LIVE_URLS.items()}
    return env | {"RUN_TOKEN": token, "OTHER_TOKEN": other, "SYNC_DIR": str(sync),
                  "PYTHONDONTWRITEBYTECODE": "1"}


@pytest.mark.parametrize("workers", [0, 2], ids=["plain", "xdist"])
def test_two_runs_at_once_never_see_each_others_rows(tmp_path: Path, workers: int) -> None:
    sync = tmp_path / "sync"
    sync.mkdir()
    runs = {}
    for token, other in (("runA", "runB"), ("runB", "runA")):
        path = tmp_path / token
        path.mkdir()
        (path / "test_overlap.py").write_text(OVERLAPPING_TESTS)
        xdist = ["-n", str(workers)] if workers else []
        runs[token] = subprocess.Popen(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly",
             f"--dbmatrix={LIVE}", "--dbmatrix-strict", *xdist, "-q"],
            cwd=path, env=inner_env(token, other, sync), stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True)
    outputs = {token: proc.communicate(timeout=300)[0] for token, proc in runs.items()}
    for token, proc in runs.items():
        assert proc.returncode == 0, outputs[token]
        assert "32 passed" in outputs[token], outputs[token]
        assert (sync / f"overlap-{token}").exists(), "the two runs did not overlap"
    workers_seen = {p.name.split("-")[2] for p in sync.glob("run*-*-*-*")}
    assert workers_seen and workers_seen <= ({"gw0", "gw1"} if workers else {"main"})
    pids = {f"_{proc.pid}_" for proc in runs.values()}
    left = {d for d in plugin_databases() if any(pid in d for pid in pids)}
    assert not left
