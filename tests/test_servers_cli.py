"""`dbmatrix up / status / down` with throwaway local servers (the machine's own keep running)."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests import providers_support
from tests.providers_support import records_left, server_pids

state_dir = providers_support.state_dir


def dbmatrix(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest_dbmatrix", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300, check=False)


def _exported(env_file: Path) -> dict[str, str]:
    """The `export NAME='URL'` lines of the env file."""
    pairs = (line.removeprefix("export ").split("=", 1) for line in env_file.read_text().split("\n")
             if line)
    return {name: value.strip("'") for name, value in pairs}


def test_up_status_down(pytester: pytest.Pytester, state_dir: Path) -> None:
    up = dbmatrix("up", "--dbmatrix=postgresql,mariadb,sqlite",
                  "--dbmatrix-provider=postgresql=local", "--dbmatrix-provider=mariadb=local")
    assert up.returncode == 0, up.stdout + up.stderr
    env_file = state_dir / "up.env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    urls = _exported(env_file)
    assert set(urls) == {"DBMATRIX_POSTGRESQL_URL", "DBMATRIX_MARIADB_URL"}
    for url in urls.values():
        password = sa.make_url(url).password
        assert password and password not in up.stdout  # never printed
        assert sa.make_url(url).port not in (5432, 3306)
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT 1").scalar() == 1
        engine.dispose()
    assert "postgresql: started, postgresql+psycopg2://postgres:***@127.0.0.1:" in up.stdout
    assert f". {env_file}" in up.stdout
    servers = server_pids(state_dir)
    assert len(servers) == 2

    again = dbmatrix("up", "--dbmatrix=postgresql", "--dbmatrix-provider=postgresql=local")
    assert "postgresql: already running" in again.stdout
    assert sorted(server_pids(state_dir)) == sorted(servers)

    pytester.makepyfile(test_kept="""
        def test_kept(db_url, dbmatrix_backend):
            assert dbmatrix_backend.provider == "local"
            assert dbmatrix_backend.server.source == "local server kept by 'dbmatrix up'"
    """)
    run = pytester.runpytest_subprocess("--dbmatrix=postgresql,mariadb", "--dbmatrix-strict")
    run.assert_outcomes(passed=2)
    run.stdout.fnmatch_lines(["*server: PostgreSQL binaries * (kept by 'dbmatrix up')"])
    assert sorted(server_pids(state_dir)) == sorted(servers)  # the run stopped none of them

    status = dbmatrix("status")
    assert status.returncode == 0
    assert status.stdout.count("running, kept by 'dbmatrix up'") == 2
    assert "***@127.0.0.1" in status.stdout
    assert all(sa.make_url(u).password not in status.stdout for u in urls.values())

    down = dbmatrix("down")
    assert down.returncode == 0
    assert down.stdout.count("stopped ") == 2
    assert server_pids(state_dir) == []
    assert records_left(state_dir) == []
    assert not env_file.exists()
    assert dbmatrix("down").stdout.strip() == "dbmatrix down: nothing to stop"


def test_up_reads_the_project_ini_file(pytester: pytest.Pytester, state_dir: Path) -> None:
    pytester.makeini("""
        [pytest]
        dbmatrix_backends = postgresql
        dbmatrix_providers = postgresql=local
    """)
    up = dbmatrix("up", cwd=pytester.path)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        assert "PostgreSQL binaries" in up.stdout
        assert "mariadb" not in up.stdout
    finally:
        dbmatrix("down")
    assert server_pids(state_dir) == []


def test_up_with_a_url_starts_nothing(state_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DBMATRIX_POSTGRESQL_URL", "postgresql://u:secret@127.0.0.1:1/x")
    up = dbmatrix("up", "--dbmatrix=postgresql")
    assert up.returncode == 0
    assert up.stdout.strip() == "postgresql: given by env DBMATRIX_POSTGRESQL_URL; nothing to start"
    assert records_left(state_dir) == []


@pytest.mark.parametrize(("args", "message"), [
    (["--dbmatrix=sqlite"], "dbmatrix up: no server backend selected: pass "
                            "--dbmatrix=postgresql,mariadb"),
    (["--dbmatrix=postgresql", "--dbmatrix-provider=postgresql=cloud"],
     "provider 'cloud' for 'postgresql'; choose one of url, docker, local"),
])
def test_up_usage_errors(state_dir: Path, args: list[str], message: str) -> None:
    up = dbmatrix("up", *args)
    assert up.returncode == 2
    assert message in up.stderr


def test_status_reports_servers_of_killed_runs(state_dir: Path) -> None:
    from pytest_dbmatrix.providers import registry

    registry.write(registry.Record("k", "postgresql", "local", "0000_999999999_abcd",
                                   state="ready", url="postgresql://p:secret@127.0.0.1:9/test",
                                   description="a server"))
    status = dbmatrix("status")
    assert "left by run 0000_999999999_abcd whose process is gone" in status.stdout
    assert "secret" not in status.stdout
    assert "postgresql: not running" in status.stdout
