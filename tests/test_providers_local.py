"""The local-binary provider on this machine's PostgreSQL 15 and MariaDB binaries.

The machine's own servers keep running: the provider is forced (--dbmatrix-provider
NAME=local), so each run starts throwaway servers on free loopback ports and must remove them.
"""

from __future__ import annotations

import json
import os
import signal
import socket
from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy as sa

from pytest_dbmatrix.backends import FAMILIES
from pytest_dbmatrix.backends.mysql import local as mysql_local
from pytest_dbmatrix.backends.postgresql import local as postgres_local
from pytest_dbmatrix.providers import (
    BackendUnavailable,
    ProvideContext,
    ProviderRun,
    local,
    registry,
)
from pytest_dbmatrix.run_identity import RunIdentity
from pytest_dbmatrix.settings import BackendSpec, Sourced
from tests import providers_support
from tests.providers_support import records_left, server_pids, start_pytest, wait_for_file

state_dir = providers_support.state_dir
out_dir = providers_support.out_dir

LOCAL = ["--dbmatrix=postgresql,mariadb,mysql", "--dbmatrix-provider=postgresql=local",
         "--dbmatrix-provider=mariadb=local", "--dbmatrix-provider=mysql=local",
         "--dbmatrix-strict", "-p", "no:cacheprovider"]
TWO = ["--dbmatrix=postgresql,mariadb", "--dbmatrix-provider=postgresql=local",
       "--dbmatrix-provider=mariadb=local"]
MACHINE_PORTS = {5432, 3306}

SERVED = """
import sqlalchemy as sa
from records import record

def test_served(db_engine, db_url, dbmatrix_backend):
    with db_engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, name VARCHAR(20))")
        conn.exec_driver_sql("INSERT INTO t VALUES (1, 'x')")
        assert conn.exec_driver_sql("SELECT name FROM t").scalar() == "x"
    record(db_url, server=dbmatrix_backend.info.product, provider=dbmatrix_backend.provider)
"""


def _outputs(out: Path) -> list[dict[str, object]]:
    return [json.loads(p.read_text()) for p in sorted(out.glob("*.json"))]


def test_local_servers_serve_each_family_and_are_removed(
        pytester: pytest.Pytester, state_dir: Path, out_dir: Path) -> None:
    pytester.makepyfile(test_served=SERVED)
    result = pytester.runpytest_subprocess(*LOCAL)
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines([
        "*postgresql: PostgreSQL 15.* via local*",
        "*server: PostgreSQL binaries in /usr/lib/postgresql/15/bin on 127.0.0.1:*",
        "*mariadb: MariaDB * via local*",
        "*mysql: MariaDB * via local*mysql dialect against a MariaDB server*",
    ])
    seen = _outputs(out_dir)
    assert {s["provider"] for s in seen} == {"local"}
    assert {s["host"] for s in seen} == {"127.0.0.1"}
    assert not {s["port"] for s in seen} & MACHINE_PORTS
    assert server_pids(state_dir) == []
    assert records_left(state_dir) == []


def test_xdist_workers_share_one_server_each_with_its_database(
        pytester: pytest.Pytester, state_dir: Path, out_dir: Path) -> None:
    pytester.makepyfile(test_shared="""
        import time
        import pytest
        from records import record

        @pytest.mark.parametrize("n", range(4))
        def test_worker(db_url, n):
            time.sleep(0.5)  # keep both workers busy so each provisions
            record(db_url)
    """)
    result = pytester.runpytest_subprocess("-n", "2", "--dist=load", "--dbmatrix=postgresql",
                                           "--dbmatrix-provider=postgresql=local",
                                           "--dbmatrix-strict")
    result.assert_outcomes(passed=4)
    seen = _outputs(out_dir)
    assert {s["worker"] for s in seen} == {"gw0", "gw1"}
    assert len({s["port"] for s in seen}) == 1  # one server for the run
    assert len({s["database"] for s in seen}) == 2  # a database per worker
    assert server_pids(state_dir) == []
    assert records_left(state_dir) == []


SLOW = """
import os, pathlib, time

def test_slow(db_engine, dbmatrix_backend):
    pathlib.Path(os.environ["DBMATRIX_TEST_OUT"], "ready").write_text("")
    time.sleep(300)
"""


def test_next_run_removes_what_a_killed_run_left(
        pytester: pytest.Pytester, state_dir: Path, out_dir: Path) -> None:
    pytester.makepyfile(test_slow=SLOW)
    proc = start_pytest(pytester, "test_slow.py", *TWO)
    wait_for_file(out_dir / "ready", proc)
    left = server_pids(state_dir)
    assert len(left) == 2  # postgres and mariadbd, as the run left them
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert sorted(server_pids(state_dir)) == sorted(left)  # servers outlive the killed run
    killed = f"pid {proc.pid} is gone"

    pytester.makepyfile(test_served=SERVED)
    result = pytester.runpytest_subprocess("test_served.py", "--dbmatrix=postgresql",
                                           "--dbmatrix-provider=postgresql=local",
                                           "--dbmatrix-strict")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([
        "*removed, left by killed runs: *",
    ])
    removed = next(line for line in result.outlines if "left by killed runs" in line)
    assert removed.count(killed) == 2
    assert "local postgresql server" in removed and "local mariadb server" in removed
    assert server_pids(state_dir) == []
    assert records_left(state_dir) == []


def test_interrupt_stops_the_servers(pytester: pytest.Pytester, state_dir: Path,
                                     out_dir: Path) -> None:
    pytester.makepyfile(test_slow=SLOW)
    proc = start_pytest(pytester, "test_slow.py", *TWO)
    wait_for_file(out_dir / "ready", proc)
    assert len(server_pids(state_dir)) == 2
    os.kill(proc.pid, signal.SIGINT)  # Ctrl-C
    output = proc.communicate(timeout=120)[0].decode()
    assert "KeyboardInterrupt" in output
    assert server_pids(state_dir) == []
    assert records_left(state_dir) == []


# -- in-process: port conflicts and start failures --------------------------------------------


def _spec(name: str) -> BackendSpec:
    return BackendSpec(name, FAMILIES[name], provider=Sourced("local", "test"))


def _context(tmp_path: Path) -> ProvideContext:
    return ProvideContext(RunIdentity.new().run_id, "main", tmp_path, 10.0, ProviderRun())


def test_a_port_taken_before_the_server_binds_it_is_retried(
        state_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        ports = iter([busy, local.free_port(ProviderRun())])
        monkeypatch.setattr(local, "free_port", lambda run: next(ports))
        server = local.provide(_spec("postgresql"), _context(tmp_path))
    try:
        assert server.url.port != busy
        engine = sa.create_engine(server.url)
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT current_database()").scalar() == "test"
        engine.dispose()
        assert "Address already in use" in (state_dir / "servers").joinpath(
            records_left(state_dir)[0], "server.log").read_text()
    finally:
        assert server.stop is not None
        server.stop()
    assert server_pids(state_dir) == []
    assert records_left(state_dir) == []


def test_a_server_that_exits_fails_at_once_with_its_log(
        state_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = replace(postgres_local.RECIPE, command=lambda b, d, p: [
        *postgres_local.postgres_command(b, d, p), "-c", "no_such_setting=1"])
    monkeypatch.setattr(postgres_local, "RECIPE", broken)
    with pytest.raises(BackendUnavailable) as failed:
        local.provide(_spec("postgresql"), _context(tmp_path))
    reason = failed.value.reason
    assert "the local PostgreSQL server" in reason
    assert "exited with code 1 before it answered" in reason
    assert '| ' in reason and 'no_such_setting' in reason  # the server's log, attached
    assert server_pids(state_dir) == []
    assert records_left(state_dir) == []


def test_missing_binaries_say_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postgres_local, "_postgres_dirs", lambda: [])
    with pytest.raises(BackendUnavailable, match=r"no PostgreSQL binaries .*install"):
        postgres_local.find_postgres("postgresql")
    monkeypatch.setattr(mysql_local, "_mysql_servers", lambda: [("/usr/sbin/mysqld", "MySQL")])
    with pytest.raises(BackendUnavailable, match="no MariaDB"):
        mysql_local.find_mysql("mariadb")
    assert mysql_local.find_mysql("mysql").setup[1:] == ("--initialize-insecure",)


def test_root_runs_servers_as_an_unprivileged_user() -> None:
    user = local._server_user(("postgres",))
    if os.geteuid() == 0:
        assert user is not None and user.pw_uid != 0
    else:
        assert user is None


def test_records_of_live_owners_are_never_reaped(state_dir: Path) -> None:
    mine = registry.Record("a", "postgresql", "local", RunIdentity.new().run_id)
    kept = registry.Record("b", "postgresql", "local", registry.KEPT)
    gone = registry.Record("c", "postgresql", "local", "0000_999999999_abcd", host=mine.host)
    other_host = registry.Record("d", "postgresql", "local", "0000_999999999_abcd", host="ffff")
    for record in (mine, kept, gone, other_host):
        registry.write(record)
    assert registry.reap_stale(ProviderRun()) == []  # `gone` had no server yet: removed silently
    assert records_left(state_dir) == ["a", "b", "d"]
