"""Shared test set-up: the live servers of this machine, given to pytester runs through env.

The servers are PostgreSQL on 127.0.0.1:5432 and MariaDB on 127.0.0.1:3306, or the URLs of
`DBMATRIX_TEST_<NAME>_URL`. When neither answers (services stopped), the run starts its own from
local binaries with `dbmatrix up` in a state directory of its own, and stops them at the end.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

# Alembic is imported lazily by the plugin. Import it here, before any pytester run: an inline
# run removes the modules first imported during it, and a second import of Alembic would leave
# the migration modules that survived holding the first one's `alembic.context`.
import pytest_dbmatrix.migrations.plugin  # noqa: F401

# The async drivers and greenlet are C extensions: import them once, here, for the same reason.
# Importing such an extension a second time (in a later inline run, after the first removed the
# modules) crashes the interpreter: asyncpg's Protocol segfaults in connect.
for _extension in ("aiomysql", "aiosqlite", "asyncmy", "asyncpg", "greenlet", "psycopg",
                   "sqlalchemy.ext.asyncio"):
    with contextlib.suppress(ImportError):  # its tests skip or fail on their own
        importlib.import_module(_extension)

LIVE_URLS = {
    "postgresql": os.environ.get("DBMATRIX_TEST_POSTGRESQL_URL",
                                 "postgresql+psycopg2://postgres@127.0.0.1:5432/test"),
    "mysql": os.environ.get("DBMATRIX_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test"),
    "mariadb": os.environ.get("DBMATRIX_TEST_MARIADB_URL",
                              "mariadb+pymysql://root@127.0.0.1:3306/test"),
}
LIVE = ",".join(["sqlite", *LIVE_URLS])


@pytest.fixture
def live_urls(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Point DBMATRIX_<NAME>_URL at this machine's servers for pytester runs."""
    for name, url in LIVE_URLS.items():
        monkeypatch.setenv(f"DBMATRIX_{name.upper()}_URL", url)
    return dict(LIVE_URLS)


@pytest.fixture(autouse=True)
def _clean_dbmatrix_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """pytester runs must not inherit the outer run's backend selection."""
    for key in list(os.environ):
        if key.startswith("DBMATRIX_") and not key.startswith("DBMATRIX_TEST_"):
            monkeypatch.delenv(key)


FIXTURE_SERVERS = {"postgresql": ("127.0.0.1", 5432), "mariadb": ("127.0.0.1", 3306)}


def pytest_configure(config: pytest.Config) -> None:
    """Without this machine's servers, start the pytester runs' servers from local binaries."""
    if hasattr(config, "workerinput") or os.environ.get("DBMATRIX_TEST_SERVERS_DIR"):
        return  # xdist workers inherit the controller's environment
    missing = [name for name, address in FIXTURE_SERVERS.items()
               if f"DBMATRIX_TEST_{name.upper()}_URL" not in os.environ and not _answers(address)]
    if not missing:
        return
    state = Path(tempfile.mkdtemp(prefix="dbmatrix-test-servers-"))
    os.environ["DBMATRIX_TEST_SERVERS_DIR"] = str(state)
    providers = [f"--dbmatrix-provider={name}=local" for name in missing]
    _dbmatrix(state, "up", f"--dbmatrix={','.join(missing)}", *providers)
    for line in (state / "up.env").read_text().splitlines():
        variable, url = shlex.split(line.removeprefix("export "))[0].split("=", 1)
        name = variable.removeprefix("DBMATRIX_").removesuffix("_URL").lower()
        urls = {name: url} if name == "postgresql" else {
            "mariadb": url, "mysql": url.replace("mariadb+", "mysql+", 1)}
        for key, value in urls.items():
            os.environ[f"DBMATRIX_TEST_{key.upper()}_URL"] = LIVE_URLS[key] = value
    config.add_cleanup(lambda: _stop(state))


def _stop(state: Path) -> None:
    _dbmatrix(state, "down")
    shutil.rmtree(state, ignore_errors=True)


def _answers(address: tuple[str, int]) -> bool:
    try:
        socket.create_connection(address, timeout=2).close()
    except OSError:
        return False
    return True


def _dbmatrix(state: Path, *args: str) -> None:
    env = {**os.environ, "DBMATRIX_STATE_DIR": str(state), "PYTEST_ADDOPTS": ""}
    done = subprocess.run([sys.executable, "-m", "pytest_dbmatrix", *args], env=env, text=True,
                          capture_output=True, timeout=300)
    sys.stderr.write(f"tests/conftest.py: dbmatrix {args[0]}:\n{done.stdout}{done.stderr}")
    if done.returncode:
        raise pytest.UsageError(f"dbmatrix {args[0]} failed for the test servers "
                                f"(exit {done.returncode}); start PostgreSQL and MariaDB here, "
                                "or set DBMATRIX_TEST_<NAME>_URL")
