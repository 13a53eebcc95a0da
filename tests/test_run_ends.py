"""Every run ends (issue 19): a leaked connection is named and closed, the run's database goes
even when sessions still hold it (only its own sessions are ended), a statement over the
statement timeout fails saying so, and a server that stops answering mid-query fails the query
within the dead-host bound, on the sync and the async engines. Inner runs are subprocesses
bounded by RUN_TIMEOUT."""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import pytest
import sqlalchemy as sa

from pytest_dbmatrix.backends import FAMILIES
from tests.conftest import LIVE_URLS
from tests.test_reliability import clean_env, run_owners, run_pytest, wait_for

BACKENDS = ["sqlite", "postgresql", "mariadb"]
RUN_TIMEOUT = 90

MODELS = """
import sqlalchemy as sa
metadata = sa.MetaData()
sa.Table("customers", metadata, sa.Column("id", sa.Integer, primary_key=True))
"""

LEAKING_TESTS = """
import sqlalchemy as sa

def test_a_leaks(db_engine):
    conn = db_engine.connect()
    conn.exec_driver_sql("INSERT INTO customers (id) VALUES (1)")
    globals()["kept"] = conn  # forgotten: open, in a transaction holding locks

def test_b_next(db_connection):
    db_connection.exec_driver_sql("ALTER TABLE customers ADD COLUMN note VARCHAR(20)")
    assert db_connection.scalar(sa.text("SELECT count(*) FROM customers")) == 0
"""


def _env(**extra: str) -> dict[str, str]:
    return clean_env(DBMATRIX_POSTGRESQL_URL=LIVE_URLS["postgresql"],
                     DBMATRIX_MARIADB_URL=LIVE_URLS["mariadb"], **extra)


def _databases(backend: str) -> set[str]:
    engine = sa.create_engine(LIVE_URLS[backend], poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return set(FAMILIES[backend].list_databases(conn))
    finally:
        engine.dispose()


def _run_database(path: Path, backend: str) -> str | None:
    report = json.loads((path / "report.json").read_text())
    database: str | None = report["backends"][backend]["database"]
    return database


@pytest.mark.parametrize("backend", BACKENDS)
def test_leaked_connection_is_named_closed_and_the_run_ends(tmp_path: Path, backend: str) -> None:
    (tmp_path / "models.py").write_text(MODELS)
    (tmp_path / "test_inner.py").write_text(LEAKING_TESTS)
    result = run_pytest(tmp_path, f"--dbmatrix={backend}", "--dbmatrix-strict",
                        "--dbmatrix-metadata=models:metadata", "--dbmatrix-lock-timeout=2",
                        "--dbmatrix-report=report.json", "-rA", env=_env(),
                        timeout=RUN_TIMEOUT)
    output = result.stdout + result.stderr
    held = {"sqlite": "in a transaction",
            "postgresql": "in a transaction holding locks on customers",
            "mariadb": "in a transaction holding locks (0 row(s) locked, 1 table(s))"}[backend]
    assert (f"ERROR test_inner.py::test_a_leaks[{backend}] - Failed: dbmatrix: "
            f"test_a_leaks[{backend}] left 1 connection open on {backend}, {held}; the plugin "
            f"closed it.") in output, output
    assert f"PASSED test_inner.py::test_b_next[{backend}]" in output, output
    assert "2 passed, 1 error" in result.stdout.splitlines()[-1], output
    assert "dbmatrix cleanup problem" not in output
    database = _run_database(tmp_path, backend)
    if backend != "sqlite":
        assert database not in _databases(backend)
    else:
        assert database is not None and not Path(database).exists()


def test_leak_can_be_a_warning(tmp_path: Path) -> None:
    (tmp_path / "models.py").write_text(MODELS)
    (tmp_path / "test_inner.py").write_text(LEAKING_TESTS)
    result = run_pytest(tmp_path, "--dbmatrix=sqlite", "--dbmatrix-metadata=models:metadata",
                        "-o", "dbmatrix_leaks=warn", env=_env(),
                        timeout=RUN_TIMEOUT)
    assert result.returncode == 0, result.stdout
    assert "ConnectionLeakWarning: dbmatrix: test_a_leaks[sqlite] left 1 connection open" \
        in result.stdout


# --- the run's database still has sessions at the end ---------------------------------------

HOLDING_FIXTURE_TESTS = """
import pytest
import sqlalchemy as sa

@pytest.fixture(scope="session")
def outsider(db_url):
    # a session of its own engine, not the plugin's: the leak watch cannot see it
    engine = sa.create_engine(db_url.render_as_string(hide_password=False))
    conn = engine.connect()
    conn.exec_driver_sql("CREATE TABLE held (x INTEGER)")
    conn.commit()
    conn.exec_driver_sql("INSERT INTO held VALUES (1)")
    yield conn  # never closed

def test_holds(outsider):
    pass
"""


@pytest.fixture
def scratch_session(request: pytest.FixtureRequest) -> Iterator[sa.Connection]:
    """A session that is not the run's, on a scratch database of this test's own, in a
    transaction holding a lock: it must survive the inner run's cleanup."""
    backend: str = request.param
    name = f"dbm_scratch_{secrets.token_hex(4)}"
    quote = '"' if backend == "postgresql" else "`"
    admin = sa.create_engine(LIVE_URLS[backend], isolation_level="AUTOCOMMIT",
                             poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {quote}{name}{quote}")
    engine = sa.create_engine(sa.make_url(LIVE_URLS[backend]).set(database=name),
                              poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as session:
            session.exec_driver_sql("CREATE TABLE kept (x INTEGER)")
            session.commit()
            session.exec_driver_sql("INSERT INTO kept VALUES (1)")
            yield session
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {quote}{name}{quote}")
        admin.dispose()


@pytest.mark.parametrize("scratch_session", ["postgresql", "mariadb"], indirect=True)
def test_only_the_runs_own_sessions_are_ended(tmp_path: Path,
                                              scratch_session: sa.Connection) -> None:
    backend = scratch_session.engine.dialect.name
    backend = "mariadb" if backend in ("mysql", "mariadb") else backend
    (tmp_path / "test_inner.py").write_text(HOLDING_FIXTURE_TESTS)
    result = run_pytest(tmp_path, f"--dbmatrix={backend}", "--dbmatrix-strict",
                        "--dbmatrix-lock-timeout=2", "--dbmatrix-report=report.json",
                        env=_env(), timeout=RUN_TIMEOUT)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    database = _run_database(tmp_path, backend)
    assert f"dbmatrix cleanup: {backend}: ended 1 session(s) still connected to the run's " \
           f"database {database} (" in output, output
    assert database not in _databases(backend)
    # the other database's session is alive, its transaction and row still there
    assert scratch_session.scalar(sa.text("SELECT count(*) FROM kept")) == 1
    assert scratch_session.in_transaction()


def test_workers_cleanup_lines_reach_the_controllers_summary(tmp_path: Path) -> None:
    """Under xdist the worker that ran the holding test ends that session; its line is in
    the controller's summary, which it sends through workeroutput."""
    (tmp_path / "test_inner.py").write_text(HOLDING_FIXTURE_TESTS)
    result = run_pytest(tmp_path, "--dbmatrix=postgresql", "--dbmatrix-strict", "-n", "2",
                        "--dbmatrix-lock-timeout=2", env=_env(), timeout=RUN_TIMEOUT)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    ended = re.findall(r"^dbmatrix cleanup: postgresql: ended 1 session\(s\) still connected to "
                       r"the run's database (dbmatrix_\w+_gw[01]_postgresql) \(pid \d+ \(idle in "
                       r"transaction\)\), then dropped it$", result.stdout, re.MULTILINE)
    assert len(ended) == 1, output
    assert ended[0] not in _databases("postgresql")
    assert "dbmatrix cleanup problem" not in output


# --- statement timeout ------------------------------------------------------------------------

SLOW_TEST = """
import sqlalchemy as sa

SLOW = {
    "sqlite": "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) "
              "SELECT count(*) FROM r",
    "postgresql": "SELECT pg_sleep(30)",
    "mariadb": "SELECT SLEEP(30)",
}

def test_slow(db_connection, dbmatrix_backend):
    db_connection.exec_driver_sql(SLOW[dbmatrix_backend.name]).all()

def test_after(db_connection):
    assert db_connection.scalar(sa.text("SELECT 1")) == 1
"""


def test_statement_over_the_timeout_fails_saying_so(tmp_path: Path) -> None:
    (tmp_path / "test_inner.py").write_text(SLOW_TEST)
    result = run_pytest(tmp_path, f"--dbmatrix={','.join(BACKENDS)}", "--dbmatrix-strict",
                        "--dbmatrix-statement-timeout=0.5", "--durations=0",
                        "--durations-min=0", env=_env(), timeout=RUN_TIMEOUT)
    output = result.stdout + result.stderr
    for backend in BACKENDS:  # cancelled after 0.5 s, not after the statement's 30 s
        assert _call_seconds(output, f"test_inner.py::test_slow[{backend}]") < 10, output
    assert "3 failed, 3 passed" in result.stdout.splitlines()[-1], output
    # the driver errors measured on the servers, then the plugin's note
    assert "canceling statement due to statement timeout" in output
    assert "Query execution was interrupted (max_statement_time exceeded)" in output
    assert "sqlite3.OperationalError: interrupted" in output
    for backend, setting in (("sqlite", "a progress handler on sqlite"),
                             ("postgresql", "statement_timeout on postgresql"),
                             ("mariadb", "max_statement_time (MariaDB) / MAX_EXECUTION_TIME "
                                         "(MySQL) on mariadb")):
        assert (f"dbmatrix: test_inner.py::test_slow[{backend}] on {backend} ran a statement "
                f"longer than the statement timeout of 0.5s (option "
                f"--dbmatrix-statement-timeout; {setting}); make it faster or raise "
                f"--dbmatrix-statement-timeout") in output, output


# --- a server that stops answering mid-query --------------------------------------------------

STALL = b"dbmatrix_stall_now"


class StallingProxy:
    """A loopback TCP proxy to a real server that, on a connection whose client sends STALL,
    forwards nothing more without closing: the query never arrives and no reply comes. With
    `unread`, it also stops reading, so that (with a small receive buffer) a large query's bytes
    stay unacknowledged, as with a blackholed host. Bounded: its threads end when the test
    stops it."""

    def __init__(self, target: tuple[str, int], unread: bool) -> None:
        self.target = target
        self.unread = unread
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port: int = self.listener.getsockname()[1]
        self.stopped = threading.Event()
        self.stalled = threading.Event()
        self.sockets: list[socket.socket] = []
        self.swallowing: set[int] = set()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            server = socket.create_connection(self.target, timeout=5)
            self.sockets += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        source.settimeout(0.2)
        while not self.stopped.is_set():
            try:
                data = source.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            if not data:
                sink.close()
                return
            if STALL in data:
                self.stalled.set()
                if self.unread:
                    return  # reads no more: nothing goes through, nothing is closed
                self.swallowing.add(id(source))
            if id(source) not in self.swallowing:
                sink.sendall(data)

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(5)
        self.listener.close()
        for sock in self.sockets:
            sock.close()


STALLING_TEST = f"""
import sqlalchemy as sa

def test_stalls(db_connection, dbmatrix_backend):
    padding = "x" * (20 * 1024 * 1024 if dbmatrix_backend.name == "postgresql" else 1)
    db_connection.exec_driver_sql(f"SELECT '{STALL.decode()}{{padding}}'").all()

def test_after(db_connection):
    assert db_connection.scalar(sa.text("SELECT 1")) == 1
"""

STALLED = {
    # measured through this proxy: pymysql 1.2 on MariaDB 10.11 (read timeout) and psycopg2
    # 2.9 on PostgreSQL 15 (tcp_user_timeout aborting the unacknowledged query)
    "mariadb": "(pymysql.err.OperationalError) (2013, 'Lost connection to MySQL server during "
               "query (timed out)')",
    "postgresql": "(psycopg2.OperationalError) server closed the connection unexpectedly",
}


@pytest.mark.parametrize("backend", ["postgresql", "mariadb"])
def test_stalling_server_fails_the_query_within_the_bound(tmp_path: Path, backend: str) -> None:
    """pymysql: read timeout = statement timeout + dead-host timeout; psycopg2: libpq's
    tcp_user_timeout = the dead-host timeout (keepalives cover a silent reply, which a proxy
    on loopback cannot simulate: its kernel answers the probes)."""
    (tmp_path / "test_inner.py").write_text(STALLING_TEST)
    output = _run_through_stalling_proxy(tmp_path, backend, unread=backend == "postgresql")
    assert (f"FAILED test_inner.py::test_stalls[{backend}] - sqlalchemy.exc.OperationalError: "
            f"{STALLED[backend]}") in output, output
    assert f"PASSED test_inner.py::test_after[{backend}]" in output
    # the bound (1 s, plus the statement timeout on pymysql; TCP's probe back-off on libpq),
    # and slack for a busy machine
    assert _call_seconds(output, f"test_inner.py::test_stalls[{backend}]") < 8, output


def _run_through_stalling_proxy(tmp_path: Path, column: str, unread: bool, *args: str) -> str:
    """The inner run's output, its backend reached through a StallingProxy that stalled."""
    backend = column.partition("+")[0]
    url = sa.make_url(LIVE_URLS[backend])
    proxy = StallingProxy((url.host or "127.0.0.1", url.port or 0), unread=unread)
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    try:
        result = run_pytest(tmp_path, f"--dbmatrix={column}", "--dbmatrix-strict",
                            "--dbmatrix-statement-timeout=1", "--dbmatrix-dead-host-timeout=1",
                            "--durations=0", "--durations-min=0", "-rA", "--tb=short", *args,
                            env=clean_env(**{f"DBMATRIX_{backend.upper()}_URL": proxied}),
                            timeout=RUN_TIMEOUT)
    finally:
        proxy.stop()
    assert proxy.stalled.is_set()
    return result.stdout + result.stderr


def _call_seconds(output: str, test: str) -> float:
    """The duration of a test's call phase from pytest's --durations table."""
    took = [float(line.split("s", 1)[0]) for line in output.splitlines()
            if line.endswith(f"call     {test}")]
    assert took, output
    return took[0]


# --- Ctrl-C during one of the waits -----------------------------------------------------------

LOCK_TIMEOUT = 3
"""The inner runs' --dbmatrix-lock-timeout: a run interrupted in a wait ends within it and a
few seconds more."""

WAITING_TEST = """
import os
from pathlib import Path
import pytest
import sqlalchemy as sa

KEPT = []

@pytest.fixture(scope="session")
def holder(db_url):
    # a session of its own engine on the run's database, holding a row lock until the end
    engine = sa.create_engine(db_url.render_as_string(hide_password=False))
    conn = engine.connect()
    conn.exec_driver_sql("CREATE TABLE held (x INTEGER)")
    conn.exec_driver_sql("INSERT INTO held VALUES (1)")
    conn.commit()
    conn.exec_driver_sql("UPDATE held SET x = 2")
    KEPT.append(conn)  # never closed, nor collected
    yield conn

def test_waits(request, db_connection, dbmatrix_backend):
    Path(os.environ["READY"]).write_text(dbmatrix_backend.database)
    if os.environ["HOLDER"] == "outsider":  # the outer test's session on its scratch database
        db_connection.exec_driver_sql(f"UPDATE {os.environ['SCRATCH']}.kept SET x = 3")
    else:
        request.getfixturevalue("holder")
        db_connection.exec_driver_sql("UPDATE held SET x = 3")
"""

TEARDOWN_WAITING_TEST = """
import os
import time
from pathlib import Path
import pytest
import sqlalchemy as sa

KEPT = []

@pytest.fixture(scope="session")
def holder(db_engine, db_url):
    # set up after db_engine, so torn down before db_engine drops the models: a session of
    # its own engine on the run's database, in a transaction that read customers
    engine = sa.create_engine(db_url.render_as_string(hide_password=False))
    conn = engine.connect()
    conn.exec_driver_sql("SELECT count(*) FROM customers").all()
    KEPT.append(conn)  # never closed, nor collected
    yield conn

def test_done(request, db_engine, dbmatrix_backend):
    ready, go = Path(os.environ["READY"]), Path(os.environ["READY"] + ".go")
    if os.environ["HOLDER"] != "outsider":
        request.getfixturevalue("holder")
    ready.write_text(dbmatrix_backend.database)
    deadline = time.monotonic() + 30  # the outer test's outsider takes its lock meanwhile
    while os.environ["HOLDER"] == "outsider" and not go.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
"""

WAITING_SESSIONS = {
    "postgresql": "SELECT count(*) FROM pg_stat_activity WHERE datname = :database "
                  "AND wait_event_type = 'Lock'",
    "mariadb": "SELECT count(*) FROM information_schema.processlist p LEFT JOIN "
               "information_schema.innodb_trx t ON t.trx_mysql_thread_id = p.id "
               "WHERE p.db = :database AND (t.trx_state = 'LOCK WAIT' "
               "OR p.state LIKE 'Waiting for%lock')",
}
"""Sessions on the run's database waiting for a lock: row lock, table lock or metadata lock."""


def _waiting(backend: str, database: str) -> bool:
    engine = sa.create_engine(LIVE_URLS[backend], poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            count = conn.execute(sa.text(WAITING_SESSIONS[backend]), {"database": database})
            return bool(count.scalar())
    finally:
        engine.dispose()


def _family(conn: sa.Connection) -> str:
    return "postgresql" if conn.engine.dialect.name == "postgresql" else "mariadb"


def _interrupt_in_wait(tmp_path: Path, backend: str, tests: str, holder: str,
                       scratch: sa.Connection, *args: str) -> tuple[int, float, str, str, int]:
    """Start a run, wait until one of its sessions waits for a lock, press Ctrl-C (SIGINT to
    the process group, as a terminal does); the exit code, the seconds from Ctrl-C to the
    end, the output, the run's database and the run's pid."""
    (tmp_path / "test_inner.py").write_text(tests)
    ready = tmp_path / "ready"
    marker = f"dbm-ctrlc-{secrets.token_hex(4)}"
    env = _env(READY=str(ready), HOLDER=holder, SCRATCH=scratch.engine.url.database or "",
               DBM_MARKER=marker)
    out = (tmp_path / "output").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly",
         f"--dbmatrix={backend}", "--dbmatrix-strict", f"--dbmatrix-lock-timeout={LOCK_TIMEOUT}",
         *args, "test_inner.py"],
        cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(ready.exists, 60, "the run to reach its test")
        database = ready.read_text()
        if holder == "outsider" and "--dbmatrix-metadata=models:metadata" in args:
            # MariaDB: a session on another database reads the run's table, in a transaction
            scratch.exec_driver_sql(f"SELECT count(*) FROM `{database}`.customers").all()
            (tmp_path / "ready.go").touch()
        wait_for(lambda: _waiting(backend, database), 30, "a session to wait for a lock")
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
        pressed = time.monotonic()
        with suppress(subprocess.TimeoutExpired):  # a run that does not end fails below
            proc.wait(timeout=LOCK_TIMEOUT + 60)
        took = time.monotonic() - pressed
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        out.close()
    wait_for(lambda: not run_owners(marker), 60, "the run's processes to end")
    return proc.returncode, took, (tmp_path / "output").read_text(), database, proc.pid


def _assert_cleaned_up_or_reaped(tmp_path: Path, backend: str, output: str,
                                 database: str) -> None:
    """The run's database is gone, or one line says it was left for a later run, which
    drops it."""
    left = [line for line in output.splitlines()
            if line.startswith(f"dbmatrix cleanup problem: {backend}: dropping the run's "
                               f"database {database} ") and "(a later run from this host "
                              "drops it if this one cannot)" in line]
    if not left:
        assert database not in _databases(backend), output
        return
    assert len(left) == 1, output
    result = _later_run(tmp_path, backend)
    # gone after it: it says "removed 1 database(s) left by killed runs: <database>", unless
    # another run from this host (the machine is shared) reaped it a moment before
    assert database not in _databases(backend), result.stdout


def _later_run(tmp_path: Path, backend: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_inner.py").write_text("def test_quick(db_connection):\n    pass\n")
    result = run_pytest(tmp_path, f"--dbmatrix={backend}", "--dbmatrix-strict",
                        f"--dbmatrix-lock-timeout={LOCK_TIMEOUT}", "test_inner.py", env=_env(),
                        timeout=RUN_TIMEOUT)
    assert result.returncode == 0, result.stdout
    return result


def _assert_untouched(scratch: sa.Connection) -> None:
    """The outer test's session on its own database: alive, in its transaction, its row
    there."""
    assert scratch.in_transaction()
    assert scratch.scalar(sa.text("SELECT count(*) FROM kept")) == 1


WAIT_CASES = [("postgresql", "fixture"), ("mariadb", "fixture"), ("mariadb", "outsider")]
"""Who holds the lock: a session fixture's connection of its own engine on the run's database
(ended at the cleanup), or the outer test's session on its scratch database (MariaDB only:
PostgreSQL's locks do not reach across databases), which no cleanup may touch."""


@pytest.mark.parametrize(("scratch_session", "holder"), WAIT_CASES, indirect=["scratch_session"],
                         ids=[f"{b}-{h}" for b, h in WAIT_CASES])
def test_ctrl_c_while_a_test_waits_for_a_lock(tmp_path: Path, scratch_session: sa.Connection,
                                              holder: str) -> None:
    """Wait (a): the test's statement waits for a row lock another session holds."""
    backend = _family(scratch_session)
    code, took, output, database, _pid = _interrupt_in_wait(
        tmp_path, backend, WAITING_TEST, holder, scratch_session)
    assert code == pytest.ExitCode.INTERRUPTED, output
    assert took < LOCK_TIMEOUT + 10, output
    _assert_untouched(scratch_session)
    _assert_cleaned_up_or_reaped(tmp_path, backend, output, database)


@pytest.mark.parametrize(("scratch_session", "holder"), WAIT_CASES, indirect=["scratch_session"],
                         ids=[f"{b}-{h}" for b, h in WAIT_CASES])
def test_ctrl_c_while_the_teardown_waits_for_a_lock(tmp_path: Path,
                                                    scratch_session: sa.Connection,
                                                    holder: str) -> None:
    """Wait (b): the session teardown's drop of the dbmatrix_metadata tables waits for a
    lock another session holds on them (and then the drop of the run's database)."""
    backend = _family(scratch_session)
    (tmp_path / "models.py").write_text(MODELS)
    code, took, output, database, _pid = _interrupt_in_wait(
        tmp_path, backend, TEARDOWN_WAITING_TEST, holder, scratch_session,
        "--dbmatrix-metadata=models:metadata")
    assert code == pytest.ExitCode.INTERRUPTED, output
    assert took < 2 * LOCK_TIMEOUT + 10, output  # the tables' drop, then the database's
    _assert_untouched(scratch_session)
    if holder == "outsider":  # MariaDB cannot drop a database a session holds a table of
        assert database in _databases(backend), output
        # a later run while the outsider still holds the run's table is not held up by it
        result = _later_run(tmp_path, backend)
        assert (f"dbmatrix cleanup: {backend}: could not drop {database}, left by a killed "
                f"run, within the lock timeout (") in result.stdout, result.stdout
    scratch_session.rollback()  # the outsider lets go of the run's table: a later run drops it
    _assert_cleaned_up_or_reaped(tmp_path, backend, output, database)


ASYNC_LEAKING_TESTS = """
import pytest
import sqlalchemy as sa

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_a_leaks(db_async_engine):
    conn = await db_async_engine.connect()
    await conn.exec_driver_sql("INSERT INTO customers (id) VALUES (1)")
    globals()["kept"] = conn  # forgotten: open, in a transaction holding locks


async def test_b_next(db_async_connection):
    assert await db_async_connection.scalar(sa.text("SELECT count(*) FROM customers")) == 0
"""


@pytest.mark.parametrize("column", ["sqlite+aiosqlite", "postgresql+asyncpg",
                                    "mariadb+aiomysql"])
def test_a_connection_leaked_from_the_async_engine_is_named_too(tmp_path: Path,
                                                                column: str) -> None:
    (tmp_path / "models.py").write_text(MODELS)
    (tmp_path / "test_inner.py").write_text(ASYNC_LEAKING_TESTS)
    result = run_pytest(tmp_path, f"--dbmatrix={column}", "--dbmatrix-strict",
                        "--dbmatrix-metadata=models:metadata", "--dbmatrix-lock-timeout=2",
                        "--dbmatrix-report=report.json", "-rA", "-p", "asyncio", env=_env(),
                        timeout=RUN_TIMEOUT)
    output = result.stdout + result.stderr
    assert (f"ERROR test_inner.py::test_a_leaks[{column}] - Failed: dbmatrix: "
            f"test_a_leaks[{column}] left 1 connection open on {column}, ") in output, output
    assert f"PASSED test_inner.py::test_b_next[{column}]" in output, output
    assert "dbmatrix cleanup problem" not in output
    backend = column.partition("+")[0]
    if backend != "sqlite":
        assert _run_database(tmp_path, column) not in _databases(backend)


# --- the same bounds on the async engines -----------------------------------------------------

ASYNC_COLUMNS = ["sqlite+aiosqlite", "postgresql+asyncpg", "postgresql+psycopg",
                 "mariadb+aiomysql", "mariadb+asyncmy"]

ASYNC_SLOW_TEST = """
import pytest
import sqlalchemy as sa

pytestmark = pytest.mark.asyncio(loop_scope="session")

SLOW = {
    "sqlite": "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) "
              "SELECT count(*) FROM r",
    "postgresql": "SELECT pg_sleep(30)",
    "mariadb": "SELECT SLEEP(30)",
}


async def test_slow(db_async_connection, dbmatrix_backend):
    await db_async_connection.exec_driver_sql(SLOW[dbmatrix_backend.family.kind])


async def test_after(db_async_connection):
    assert await db_async_connection.scalar(sa.text("SELECT 1")) == 1
"""

ASYNC_TIMED_OUT = {
    # measured on these servers through each async driver
    "sqlite+aiosqlite": "(sqlite3.OperationalError) interrupted",
    "postgresql+asyncpg": "(sqlalchemy.dialects.postgresql.asyncpg.Error) canceling statement "
                          "due to statement timeout",
    "postgresql+psycopg": "(psycopg.errors.QueryCanceled) canceling statement due to statement "
                          "timeout",
    "mariadb+aiomysql": "(pymysql.err.OperationalError) (1969, 'Query execution was interrupted "
                        "(max_statement_time exceeded)')",
    "mariadb+asyncmy": "(asyncmy.errors.OperationalError) (1969, 'Query execution was "
                       "interrupted (max_statement_time exceeded)')",
}


def test_async_statement_over_the_timeout_fails_saying_so(tmp_path: Path) -> None:
    """Each async driver gets the statement timeout: asyncpg in its server_settings, psycopg in
    libpq's options, aiomysql and asyncmy a SET SESSION, aiosqlite the progress handler."""
    (tmp_path / "test_inner.py").write_text(ASYNC_SLOW_TEST)
    result = run_pytest(tmp_path, f"--dbmatrix={','.join(ASYNC_COLUMNS)}", "--dbmatrix-strict",
                        "--dbmatrix-statement-timeout=0.5", "--durations=0",
                        "--durations-min=0", "-p", "asyncio", env=_env(),
                        timeout=RUN_TIMEOUT)
    output = result.stdout + result.stderr
    assert "5 failed, 5 passed" in result.stdout.splitlines()[-1], output
    for column, error in ASYNC_TIMED_OUT.items():
        assert _call_seconds(output, f"test_inner.py::test_slow[{column}]") < 10, output
        assert error in output, (column, output)
        assert (f"dbmatrix: test_inner.py::test_slow[{column}] on {column} ran a statement "
                f"longer than the statement timeout of 0.5s (option "
                f"--dbmatrix-statement-timeout; ") in output, (column, output)


ASYNC_STALLING_TEST = f"""
import pytest
import sqlalchemy as sa

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_stalls(db_async_connection, dbmatrix_backend, request):
    padding = "x" * (20 * 1024 * 1024 if request.config.getoption("--large") else 1)
    await db_async_connection.exec_driver_sql(f"SELECT '{STALL.decode()}{{padding}}'")


async def test_after(db_async_connection):
    assert await db_async_connection.scalar(sa.text("SELECT 1")) == 1
"""

ASYNC_STALLED = {
    # measured through StallingProxy on these servers: (column, the proxy stops reading)
    ("postgresql+asyncpg", False): "TimeoutError",
    ("postgresql+asyncpg", True): "sqlalchemy.exc.DBAPIError: (sqlalchemy.dialects.postgresql."
                                  "asyncpg.Error) connection was closed in the middle of "
                                  "operation",
    ("postgresql+psycopg", True): "sqlalchemy.exc.OperationalError: (psycopg.OperationalError) "
                                  "consuming input failed: server closed the connection "
                                  "unexpectedly",
    ("mariadb+aiomysql", True): "sqlalchemy.exc.OperationalError: (pymysql.err."
                                "OperationalError) (2013, 'Lost connection to MySQL server "
                                "during query ([Errno 110] Connection timed out)')",
    ("mariadb+aiomysql", False): "sqlalchemy.exc.OperationalError: (pymysql.err."
                                 "OperationalError) (2013, 'Lost connection to MySQL server "
                                 "during query ([Errno 110] no reply within 2s)')",
    ("mariadb+asyncmy", True): "sqlalchemy.exc.OperationalError: (asyncmy.errors."
                               "OperationalError) (2013, 'Lost connection to MySQL server "
                               "during query ([Errno 110] Connection timed out)')",
}


@pytest.mark.parametrize(("column", "unread"), list(ASYNC_STALLED))
def test_stalling_server_fails_an_async_query_within_the_bound(tmp_path: Path, column: str,
                                                               unread: bool) -> None:
    """TCP_USER_TIMEOUT on every async driver's socket (libpq's setting on psycopg) fails a
    query whose bytes stay unacknowledged; asyncpg's command_timeout and the plugin's read
    timeout on aiomysql (statement timeout plus dead-host timeout) one whose reply never
    comes. asyncmy has no read timeout: that case is not bounded there (README)."""
    (tmp_path / "test_inner.py").write_text(ASYNC_STALLING_TEST)
    (tmp_path / "conftest.py").write_text(
        f"def pytest_addoption(parser):\n"
        f"    parser.addoption('--large', action='store_true', default={unread})\n")
    output = _run_through_stalling_proxy(tmp_path, column, unread, "-p", "asyncio")
    assert (f"FAILED test_inner.py::test_stalls[{column}] - "
            f"{ASYNC_STALLED[(column, unread)]}") in output, output
    assert f"PASSED test_inner.py::test_after[{column}]" in output
    if column == "postgresql+asyncpg" and not unread:
        assert (f"dbmatrix: test_inner.py::test_stalls[{column}] on {column} had no reply "
                f"within 2s (asyncpg's command_timeout") in output, output
    assert _call_seconds(output, f"test_inner.py::test_stalls[{column}]") < 10, output
