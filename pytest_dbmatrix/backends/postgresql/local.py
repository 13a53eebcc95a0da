"""PostgreSQL from local binaries: initdb with a password file, then postgres, fsync off."""

from __future__ import annotations

import glob
import os
import re
import shutil
import signal
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from pytest_dbmatrix.backends.base import BackendUnavailable
from pytest_dbmatrix.backends.recipes import Binaries, LocalRecipe, User, secret_file


def _version_key(path: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", path)) or (0,)


def _postgres_dirs() -> list[str]:
    found = map(shutil.which, ("initdb", "postgres"))
    dirs = [os.path.dirname(os.path.realpath(p)) for p in found if p]
    patterns = ("/usr/lib/postgresql/*/bin", "/usr/pgsql-*/bin", "/usr/local/pgsql/bin",
                "/opt/homebrew/opt/postgresql*/bin", "/usr/local/opt/postgresql*/bin")
    for pattern in patterns:
        dirs += sorted(glob.glob(pattern), key=_version_key, reverse=True)
    return list(dict.fromkeys(dirs))


def find_postgres(kind: str) -> Binaries:
    for bindir in _postgres_dirs():
        initdb, server = Path(bindir, "initdb"), Path(bindir, "postgres")
        if os.access(initdb, os.X_OK) and os.access(server, os.X_OK):
            return Binaries(str(server), (str(initdb),), "PostgreSQL",
                            f"PostgreSQL binaries in {bindir}")
    raise BackendUnavailable(kind, "no PostgreSQL binaries (initdb, postgres) on PATH or in "
                                   "/usr/lib/postgresql/*/bin: install the PostgreSQL server "
                                   "package, give a URL, or start Docker")


def postgres_setup(binaries: Binaries, data: Path, password: str, user: User) -> list[str]:
    pwfile = secret_file(data.parent / "pwfile", password + "\n", user)
    return [binaries.setup[0], "-D", str(data), "-U", "postgres", f"--pwfile={pwfile}",
            "--auth=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync"]


def postgres_command(binaries: Binaries, data: Path, port: int) -> list[str]:
    settings = {"listen_addresses": "127.0.0.1", "unix_socket_directories": "", "fsync": "off",
                "synchronous_commit": "off", "full_page_writes": "off"}
    options = [arg for k, v in settings.items() for arg in ("-c", f"{k}={v}")]
    return [binaries.server, "-D", str(data), "-p", str(port), *options]


def postgres_url(driver: str, port: int, password: str) -> URL:
    return make_url(f"{driver}://postgres@127.0.0.1:{port}/postgres").set(password=password)


RECIPE = LocalRecipe(("postgres",), 60.0, signal.SIGINT, find_postgres, postgres_setup,
                     postgres_command, postgres_url)
