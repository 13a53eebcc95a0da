"""Failure modes: every broken backend gives one clear message naming it and the option to fix,
within the connect timeout, and leaves the other backends' results alone; interrupted runs leave
nothing behind after the next run; databases the plugin did not create are never touched;
passwords never reach output, the JSON report or JUnit XML.

Servers that the tests break, stop or kill runs against are throwaway PostgreSQL instances of
the test's own (initdb on a free loopback port, password auth): the machine's servers are only
used the way every run uses them.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from pytest_dbmatrix.backends import FAMILIES
from pytest_dbmatrix.run_identity import host_tag as run_host
from tests.conftest import LIVE_URLS

PG_BIN = Path("/usr/lib/postgresql/15/bin")
RUN_TIMEOUT = 120
"""Upper bound of one inner pytest run: a hang fails the test instead of blocking CI."""
CONNECT_TIMEOUT = "1"
PASSWORD = "Qx7-dbmatrix-Leak-4419"
"""A distinctive password, searched for in everything a run writes."""
WRONG_PASSWORD = "Wr0ng-dbmatrix-Pw-8831"


def _unknown_database(url: str) -> str:
    """The URL with a database that does not exist, its password kept."""
    return sa.make_url(url).set(database="dbm_no_such_db").render_as_string(hide_password=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for an inner run: no backend selection or xdist state of the outer run."""
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith(("DBMATRIX_", "PYTEST_")) and not k.startswith("DBMATRIX_TEST_"))}
    env |= {"PYTHONDONTWRITEBYTECODE": "1", "COLUMNS": "1000"}  # summary lines untruncated
    return env | extra


def run_pytest(cwd: Path, *args: str, env: dict[str, str] | None = None,
               timeout: float = RUN_TIMEOUT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly", *args],
        cwd=cwd, env=env or clean_env(), capture_output=True, text=True, timeout=timeout,
    )


class ThrowawayPostgres:
    """A PostgreSQL 15 server of this test's own: password auth, loopback, data in /tmp."""

    def __init__(self, password: str = PASSWORD) -> None:
        self.password = password
        self.port = 0
        self.dir = Path()

    def _as_postgres(self, *cmd: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *cmd], check=True,
                       capture_output=True, text=True, timeout=90)

    def start(self) -> ThrowawayPostgres:
        if os.geteuid() != 0 or not (PG_BIN / "initdb").exists():
            pytest.skip("throwaway PostgreSQL needs root and /usr/lib/postgresql/15/bin")
        self.dir = Path(tempfile.mkdtemp(prefix="dbm-reliability-pg-"))
        user = pwd.getpwnam("postgres")
        os.chown(self.dir, user.pw_uid, user.pw_gid)
        pwfile = self.dir / "pw"
        pwfile.write_text(self.password + "\n")
        os.chown(pwfile, user.pw_uid, user.pw_gid)
        self._as_postgres(str(PG_BIN / "initdb"), "-D", str(self.dir / "data"), "-U", "postgres",
                          "--auth=scram-sha-256", f"--pwfile={pwfile}", "--no-sync")
        self.port = free_port()
        options = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                   f"-c full_page_writes=off")
        self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.dir / "data"), "-w", "-t", "60",
                          "-l", str(self.dir / "log"), "-o", options, "start")
        return self

    @property
    def stop_command(self) -> list[str]:
        return ["runuser", "-u", "postgres", "--", str(PG_BIN / "pg_ctl"), "-D",
                str(self.dir / "data"), "-m", "immediate", "-w", "stop"]

    def stop(self) -> None:
        subprocess.run(self.stop_command, capture_output=True, timeout=60)
        shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, password: str | None = None, database: str = "postgres") -> str:
        return (f"postgresql+psycopg2://postgres:{password or self.password}@127.0.0.1:"
                f"{self.port}/{database}")

    def databases(self) -> set[str]:
        engine = sa.create_engine(self.url(), poolclass=sa.pool.NullPool)
        try:
            with engine.connect() as conn:
                return {r[0] for r in conn.exec_driver_sql("SELECT datname FROM pg_database")}
        finally:
            engine.dispose()


@pytest.fixture(scope="module")
def throwaway_pg() -> Iterator[ThrowawayPostgres]:
    server = ThrowawayPostgres().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def silent_port() -> Iterator[int]:
    """A loopback port that accepts TCP connections and never answers: only a timeout ends it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield sock.getsockname()[1]


# --- one run, many broken backends ------------------------------------------------------------

@dataclass(frozen=True)
class Broken:
    """A backend configured wrongly, and what its one message must say."""

    name: str
    url: str
    says: str


def broken_backends(pg: ThrowawayPostgres, silent: int) -> list[Broken]:
    closed = free_port()
    pg_live, maria = LIVE_URLS["postgresql"], LIVE_URLS["mariadb"]
    return [
        Broken("postgresql_wronghost", "postgresql+psycopg2://postgres@dbmatrix-test.invalid/test",
               'could not translate host name "dbmatrix-test.invalid"'),
        Broken("mariadb_wronghost", "mariadb+pymysql://root@dbmatrix-test.invalid/test",
               "Can't connect to MySQL server on 'dbmatrix-test.invalid'"),
        Broken("postgresql_wrongport", f"postgresql+psycopg2://postgres@127.0.0.1:{closed}/test",
               "Connection refused"),
        Broken("mariadb_wrongport", f"mariadb+pymysql://root@127.0.0.1:{closed}/test",
               "Can't connect to MySQL server on '127.0.0.1'"),
        Broken("postgresql_silent", f"postgresql+psycopg2://postgres@127.0.0.1:{silent}/test",
               "timeout expired"),
        Broken("mariadb_silent", f"mariadb+pymysql://root@127.0.0.1:{silent}/test",
               "timed out"),
        Broken("postgresql_wrongpassword", pg.url(WRONG_PASSWORD),
               'password authentication failed for user "postgres"'),
        Broken("postgresql_unknowndb", _unknown_database(pg_live),
               'database "dbm_no_such_db" does not exist'),
        Broken("mariadb_unknowndb", _unknown_database(maria),
               "Unknown database 'dbm_no_such_db'"),
        Broken("postgresql_nodriver", "postgresql+pg8000://postgres@127.0.0.1/test",
               "the driver for postgresql+pg8000 cannot be loaded (import of pg8000 halted; None "
               "in sys.modules); pip install pg8000, or use postgresql+psycopg2:// in the URL"),
    ]


BROKEN_NAMES = [
    "postgresql_wronghost", "mariadb_wronghost", "postgresql_wrongport", "mariadb_wrongport",
    "postgresql_silent", "mariadb_silent", "postgresql_wrongpassword", "postgresql_unknowndb",
    "mariadb_unknowndb", "postgresql_nodriver",
]

SURVIVOR_TESTS = """
import sqlalchemy as sa

def test_write_and_read(db_connection):
    db_connection.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    db_connection.exec_driver_sql("INSERT INTO t VALUES (1)")
    assert db_connection.scalar(sa.text("SELECT count(*) FROM t")) == 1

def test_leaky(dbmatrix_backend):
    url = dbmatrix_backend.url.render_as_string(hide_password=False)
    print("the URL is", url)
    if dbmatrix_backend.name == "postgresql_secret":
        assert url == "", f"failing with {url}"
"""

MISSING_DRIVER_CONFTEST = """
import sys
sys.modules["pg8000"] = None  # a driver that cannot be imported, whatever is installed
"""


@dataclass(frozen=True)
class BrokenRun:
    result: subprocess.CompletedProcess[str]
    cases: dict[str, Broken]
    path: Path

    @property
    def output(self) -> str:
        return self.result.stdout + self.result.stderr


@pytest.fixture(scope="module")
def broken_run(tmp_path_factory: pytest.TempPathFactory, throwaway_pg: ThrowawayPostgres,
               silent_port: int) -> BrokenRun:
    """One strict run: sqlite, the live PostgreSQL and MariaDB, a password-protected server, and
    ten backends that cannot work, each for its own reason, given through env variables."""
    path = tmp_path_factory.mktemp("broken")
    (path / "test_inner.py").write_text(SURVIVOR_TESTS)
    (path / "conftest.py").write_text(MISSING_DRIVER_CONFTEST)
    cases = {b.name: b for b in broken_backends(throwaway_pg, silent_port)}
    env = clean_env(**{f"DBMATRIX_{b.name.upper()}_URL": b.url for b in cases.values()})
    env |= {"DBMATRIX_POSTGRESQL_URL": LIVE_URLS["postgresql"],
            "DBMATRIX_MARIADB_URL": LIVE_URLS["mariadb"]}
    names = ["sqlite", "postgresql", "mariadb", "postgresql_secret", *cases]
    result = run_pytest(path, f"--dbmatrix={','.join(names)}", "--dbmatrix-strict",
                        f"--dbmatrix-connect-timeout={CONNECT_TIMEOUT}",
                        f"--dbmatrix-url=postgresql_secret={throwaway_pg.url()}",
                        "--dbmatrix-report=report.json", "--junitxml=junit.xml",
                        "-o", "junit_logging=all", "-rA", "-v", "--dbmatrix-summary=full",
                        env=env)
    return BrokenRun(result, cases, path)


@pytest.mark.parametrize("name", BROKEN_NAMES)
def test_broken_backend_gives_one_clear_message(broken_run: BrokenRun, name: str) -> None:
    case = broken_run.cases[name]
    env_var = f"DBMATRIX_{name.upper()}_URL"
    header = [line for line in broken_run.output.splitlines()
              if line.startswith(f"  {name}: ERROR: ")]
    assert len(header) == 1, broken_run.output
    line = header[0]
    assert f"dbmatrix: backend '{name}' unavailable" not in line  # the header says it shorter
    assert case.says in line
    assert env_var in line, "the message names the setting to fix"
    errors = re.findall(rf"ERROR test_inner.py::\S+\[{name}\] - (.*)", broken_run.output)
    assert len(errors) == 2
    assert all(e.startswith(f"Failed: dbmatrix: backend '{name}' unavailable") for e in errors)


def test_broken_backends_leave_the_others_alone(broken_run: BrokenRun) -> None:
    summary = broken_run.result.stdout.splitlines()[-1]
    assert re.search(r"\b7 passed\b", summary) and "1 failed" in summary, summary
    assert f"{2 * len(BROKEN_NAMES)} errors" in summary
    report = json.loads((broken_run.path / "report.json").read_text())
    assert report["totals"]["sqlite"] == {"passed": 2}
    assert report["totals"]["postgresql"] == {"passed": 2}
    assert report["totals"]["mariadb"] == {"passed": 2}
    assert report["totals"]["postgresql_secret"] == {"failed": 1, "passed": 1}
    for name in BROKEN_NAMES:
        assert report["backends"][name]["status"] == "unavailable"
        assert report["totals"][name] == {"error": 2}


def test_connect_timeout_bounds_a_silent_server(broken_run: BrokenRun) -> None:
    """The run ends although two servers accept connections and never answer."""
    assert broken_run.result.returncode == 1
    for name in ("postgresql_silent", "mariadb_silent"):
        assert broken_run.cases[name].says in broken_run.output


def test_password_never_printed_or_written(broken_run: BrokenRun) -> None:
    outputs = {
        "terminal": broken_run.output,
        "json": (broken_run.path / "report.json").read_text(),
        "junit": (broken_run.path / "junit.xml").read_text(),
    }
    assert "the URL is postgresql+psycopg2://postgres:***@127.0.0.1" in outputs["terminal"]
    assert "failing with postgresql+psycopg2://postgres:***@" in outputs["junit"]
    for where, text in outputs.items():
        assert PASSWORD not in text, f"password in the {where} output"
        assert WRONG_PASSWORD not in text, f"wrong password in the {where} output"


def test_malformed_url_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_db(db_connection):\n    pass\n")
    result = pytester.runpytest("--dbmatrix=sqlite,postgresql",
                                f"--dbmatrix-url=postgresql=postgresql://postgres:{PASSWORD}@"
                                "127.0.0.1:notaport/test")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([
        "ERROR: dbmatrix: cannot parse the URL of backend 'postgresql' from option "
        "--dbmatrix-url: *Expected dialect+driver://user:password@host:port/database",
    ])
    assert PASSWORD not in result.stdout.str() + result.stderr.str()


def test_unknown_backend_name_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_db(db_connection):\n    pass\n")
    result = pytester.runpytest("--dbmatrix=sqlite,postgersql")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([
        "ERROR: dbmatrix: unknown backend 'postgersql': known are sqlite, postgresql, mysql, "
        "mariadb, mssql*--dbmatrix-url postgersql=URL or DBMATRIX_POSTGERSQL_URL*",
    ])


# --- a server that stops in the middle of the session -----------------------------------------

STOPPING_TESTS = """
import os
import subprocess
import sqlalchemy as sa

def test_1_before(db_connection):
    assert db_connection.scalar(sa.text("SELECT 1")) == 1

def test_2_server_stops(dbmatrix_backend):
    if dbmatrix_backend.name == "postgresql":
        subprocess.run(os.environ["STOP_SERVER"].split("|"), check=True, timeout=60)

def test_3_after(db_connection):
    assert db_connection.scalar(sa.text("SELECT 1")) == 1

def test_4_after(db_session):
    assert db_session.scalar(sa.text("SELECT 1")) == 1

def test_5_after(db_connection):
    assert db_connection.scalar(sa.text("SELECT 1")) == 1
"""


def test_server_stopping_mid_session(tmp_path: Path) -> None:
    """The lost backend's next test fails with the driver's error and the backend is lost: the
    tests after it fail at once without connecting (not each after the connect timeout). The
    other backends' results are untouched; the database that could not be dropped is reported."""
    server = ThrowawayPostgres().start()
    try:
        (tmp_path / "test_inner.py").write_text(STOPPING_TESTS)
        result = run_pytest(tmp_path, "--dbmatrix=sqlite,postgresql,mariadb", "--dbmatrix-strict",
                            f"--dbmatrix-connect-timeout={CONNECT_TIMEOUT}",
                            "--dbmatrix-report=report.json", "--dbmatrix-html=report.html",
                            env=clean_env(DBMATRIX_POSTGRESQL_URL=server.url(),
                                          DBMATRIX_MARIADB_URL=LIVE_URLS["mariadb"],
                                          STOP_SERVER="|".join(server.stop_command)))
    finally:
        server.stop()
    output = result.stdout + result.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["totals"]["sqlite"] == {"passed": 5}
    assert report["totals"]["mariadb"] == {"passed": 5}
    assert report["totals"]["postgresql"] == {"passed": 2, "failed": 1, "error": 2}
    assert [i["test"] for i in report["incompatibilities"]] == ["test_inner.py::test_3_after"]
    failed = report["incompatibilities"][0]["failed_on"]["postgresql"]["error"]
    assert failed["exception"] == "OperationalError" and "lost" not in failed
    errors = {row["test"]: row["results"]["postgresql"]["error"] for row in report["tests"]}
    assert errors["test_inner.py::test_4_after"]["exception"] == "OperationalError"
    assert "Connection refused" in errors["test_inner.py::test_4_after"]["message"]
    assert errors["test_inner.py::test_4_after"]["lost"] is True
    assert errors["test_inner.py::test_5_after"]["exception"] == "Failed"
    assert errors["test_inner.py::test_5_after"]["lost"] is True
    assert re.match(r"dbmatrix: backend 'postgresql' was lost earlier in this session; this "
                    r"test did not try to connect\. Cannot connect to postgresql\+psycopg2://"
                    r"postgres:\*\*\*@127\.0\.0\.1:\d+/dbmatrix_\w+ \(from env "
                    r"DBMATRIX_POSTGRESQL_URL\) any more: .*Connection refused",
                    errors["test_inner.py::test_5_after"]["message"])
    assert report["lost_backends"] == {"postgresql": {
        "first": "test_inner.py::test_4_after", "tests": 2,
        "error": errors["test_inner.py::test_4_after"]}}
    assert re.search(r"dbmatrix: postgresql was lost mid-session at test_inner\.py::test_4_after: "
                     r"OperationalError: .*Connection refused; 2 test\(s\) from there on could "
                     r"not run on it \(not counted as incompatibilities\)", output), output
    page = (tmp_path / "report.html").read_text()
    assert "<b>postgresql was lost mid-session</b> at test_inner.py::test_4_after" in page
    assert re.search(r"dbmatrix: backend 'postgresql' lost mid-session; its later tests fail "
                     r"without trying\. Cannot connect to", output), output  # test_4's note
    assert "Check that the server still runs, or change env DBMATRIX_POSTGRESQL_URL" in output
    assert re.search(r"dbmatrix cleanup problem: postgresql: dropping the run's database "
                     r"dbmatrix_\w+ on postgresql\+psycopg2://postgres:\*\*\*@127\.0\.0\.1:\d+/"
                     r"postgres \(a later run from this host drops it if this one cannot\): "
                     r"OperationalError: .*Connection refused", output), output
    assert PASSWORD not in output


# --- kill -9 and Ctrl-C in the middle of a run ------------------------------------------------

HOLDING_TESTS = """
import os
import time
from pathlib import Path
import pytest

@pytest.mark.parametrize("n", range(3))
def test_hold(db_connection, dbmatrix_backend, n):
    db_connection.exec_driver_sql("CREATE TABLE held (x INTEGER)")
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    Path(os.environ["READY_DIR"], f"{dbmatrix_backend.name}-{worker}-{n}").touch()
    if dbmatrix_backend.name == "postgresql":
        time.sleep(90)
"""

QUICK_TEST = "def test_quick(db_connection):\n    pass\n"


def run_owners(marker: str) -> list[int]:
    """Processes still alive that were started for the run whose environment holds `marker`."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if marker.encode() in (proc / "environ").read_bytes():
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


def wait_for(condition, seconds: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {seconds}s waiting for {what}")
        time.sleep(0.2)


@pytest.mark.parametrize("workers", [0, 2], ids=["plain", "xdist"])
@pytest.mark.parametrize("how", ["kill-9", "ctrl-c"])
def test_interrupted_run_leaves_nothing_after_the_next(
        tmp_path: Path, throwaway_pg: ThrowawayPostgres, how: str, workers: int) -> None:
    """Ctrl-C cleans up at once; after kill -9 the next run reaps the databases and pytest's
    --basetemp the files. (xdist workers see their controller die and clean up themselves.)"""
    ready = tmp_path / "ready"
    ready.mkdir()
    basetemp = tmp_path / "basetemp"
    (tmp_path / "test_held.py").write_text(HOLDING_TESTS)
    marker = f"dbm-interrupt-{secrets.token_hex(4)}"
    env = clean_env(DBMATRIX_POSTGRESQL_URL=throwaway_pg.url(), READY_DIR=str(ready),
                    DBM_MARKER=marker)
    xdist = ["-n", str(workers)] if workers else []
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--dbmatrix=sqlite,postgresql",
         "--dbmatrix-strict", f"--basetemp={basetemp}", *xdist, "test_held.py"],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    try:
        wait_for(lambda: any(ready.glob("postgresql-*")), 60, "the run to reach a postgresql test")
        if how == "kill-9":
            os.kill(proc.pid, signal.SIGKILL)
        else:
            os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    wait_for(lambda: not run_owners(marker), 60, "the run's processes to end")
    left = {d for d in throwaway_pg.databases() if d.startswith("dbmatrix_")}
    assert all(f"_{proc.pid}_" in d for d in left)
    if how == "kill-9" and not workers:
        assert left, "a killed run cannot drop its database: the next run must"
        assert list(basetemp.rglob("*.db")), "the killed run's SQLite file is still there"
    elif how == "ctrl-c":
        assert not left, "Ctrl-C runs the clean-up at once"
        assert proc.returncode == pytest.ExitCode.INTERRUPTED

    (tmp_path / "test_held.py").write_text(QUICK_TEST)
    result = run_pytest(tmp_path, "--dbmatrix=sqlite,postgresql", "--dbmatrix-strict",
                        f"--basetemp={basetemp}", "test_held.py",
                        env=clean_env(DBMATRIX_POSTGRESQL_URL=throwaway_pg.url()))
    assert result.returncode == 0, result.stdout
    reaped = re.findall(r"removed (\d+) database\(s\) left by killed runs: (.*)", result.stdout)
    if left:
        assert reaped and int(reaped[0][0]) == len(left), result.stdout
        assert set(reaped[0][1].split(", ")) == left
    else:
        assert not reaped
    assert not {d for d in throwaway_pg.databases() if d.startswith("dbmatrix_")}
    assert not list(basetemp.rglob("*.db"))


# --- databases the plugin did not create ------------------------------------------------------

PREEXISTING_TESTS = """
import sqlalchemy as sa

def test_uses_the_runs_database(db_connection, db_engine, dbmatrix_backend):
    assert db_connection.engine.url.database.startswith("dbmatrix_")
    db_connection.exec_driver_sql("CREATE TABLE keep (id INTEGER, note VARCHAR(20))")
    with db_engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS committed (x INTEGER)")
        conn.exec_driver_sql("INSERT INTO committed VALUES (1)")
"""


@pytest.mark.parametrize("backend", ["postgresql", "mariadb"])
def test_never_touches_a_database_it_did_not_create(tmp_path: Path, backend: str) -> None:
    """The URL's own database keeps its rows and tables; look-alike names of other hosts or of
    live processes survive the stale-database reaper."""
    tag = secrets.token_hex(3)
    own = f"dbm_preexisting_{tag}"
    elsewhere = "ffff" if run_host() != "ffff" else "eeee"
    other_host = f"dbmatrix_{elsewhere}_{os.getpid()}_{tag[:4]}_main_{backend}"
    live_pid = f"dbmatrix_{run_host()}_1_{tag[:4]}_main_{backend}"
    admin = sa.create_engine(LIVE_URLS[backend], isolation_level="AUTOCOMMIT",
                             poolclass=sa.pool.NullPool)
    quote = '"' if backend == "postgresql" else "`"
    names = (own, other_host, live_pid)
    with admin.connect() as conn:
        for name in names:
            conn.exec_driver_sql(f"CREATE DATABASE {quote}{name}{quote}")
    url = sa.make_url(LIVE_URLS[backend]).set(database=own)
    data = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with data.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE keep (id INTEGER, note VARCHAR(20))")
            conn.exec_driver_sql("INSERT INTO keep VALUES (1, 'precious'), (2, 'data')")
        (tmp_path / "test_inner.py").write_text(PREEXISTING_TESTS)
        result = run_pytest(tmp_path, f"--dbmatrix={backend}", "--dbmatrix-strict",
                            env=clean_env(**{f"DBMATRIX_{backend.upper()}_URL":
                                             url.render_as_string(hide_password=False)}))
        assert result.returncode == 0, result.stdout
        with data.connect() as conn:
            rows = conn.exec_driver_sql("SELECT id, note FROM keep ORDER BY id").all()
            tables = set(sa.inspect(conn).get_table_names())
        assert [tuple(r) for r in rows] == [(1, "precious"), (2, "data")]
        assert tables == {"keep"}
        with admin.connect() as conn:
            existing = set(FAMILIES[backend].list_databases(conn))
        assert set(names) <= existing
    finally:
        data.dispose()
        with admin.connect() as conn:
            for name in names:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {quote}{name}{quote}")
        admin.dispose()
