"""MySQL and MariaDB from local binaries: mysqld --initialize-insecure or mariadb-install-db,
then the server on its own socket, with a root password set by an init file."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from pytest_dbmatrix.backends.base import BackendUnavailable
from pytest_dbmatrix.backends.mysql import product_of
from pytest_dbmatrix.backends.recipes import Binaries, LocalRecipe, User, secret_file


def _mysql_servers() -> list[tuple[str, str]]:
    """(path, product) of the mysqld-like servers found, MariaDB first."""
    found = []
    for name in ("mariadbd", "mysqld"):
        for path in (shutil.which(name), f"/usr/sbin/{name}", f"/usr/local/mysql/bin/{name}"):
            if path and os.access(path, os.X_OK):
                found.append(os.path.realpath(path))
    servers = []
    for path in dict.fromkeys(found):
        done = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30,
                              check=False)
        servers.append((path, product_of(done.stdout)))
    return servers


def find_mysql(kind: str) -> Binaries:
    """MySQL's server for the mysql family (MariaDB's when there is none); MariaDB's only for
    the mariadb family."""
    servers = _mysql_servers()
    wanted = "MariaDB" if kind == "mariadb" else "MySQL"
    servers.sort(key=lambda s: s[1] != wanted)
    for path, product in servers:
        if kind == "mariadb" and product != "MariaDB":
            continue
        if product == "MySQL":
            return Binaries(path, (path, "--initialize-insecure"), product,
                            f"MySQL binaries ({path})")
        install = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
        if install:
            return Binaries(path, (install,), product, f"MariaDB binaries ({path})")
    need = "MariaDB (mariadbd, mariadb-install-db)" if kind == "mariadb" else \
        "MySQL or MariaDB (mysqld, or mariadbd and mariadb-install-db)"
    raise BackendUnavailable(kind, f"no {need} server binaries found: install the server "
                                   f"package, give a URL, or start Docker")


def mysql_socket(data: Path) -> Path:
    return data / "mysqld.sock"


def mysql_setup(binaries: Binaries, data: Path, password: str, user: User) -> list[str]:
    secret_file(data.parent / "init.sql",
                f"CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '{password}';\n"
                f"ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY '{password}';\n"
                "GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;\n", user)
    tmpdir = f"--tmpdir={data.parent / 'tmp'}"
    if binaries.product == "MySQL":
        return [binaries.setup[0], "--no-defaults", *binaries.setup[1:], f"--datadir={data}",
                tmpdir]
    return [binaries.setup[0], "--no-defaults", f"--datadir={data}", tmpdir, "--skip-test-db",
            "--auth-root-authentication-method=normal", "--skip-name-resolve"]


def mysql_command(binaries: Binaries, data: Path, port: int) -> list[str]:
    return [binaries.server, "--no-defaults", f"--datadir={data}", f"--port={port}",
            f"--tmpdir={data.parent / 'tmp'}",
            "--bind-address=127.0.0.1", f"--socket={mysql_socket(data)}",
            f"--pid-file={data / 'mysqld.pid'}", f"--init-file={data.parent / 'init.sql'}",
            "--skip-name-resolve", "--innodb-flush-log-at-trx-commit=0", "--skip-log-bin",
            "--loose-mysqlx=OFF", "--innodb-buffer-pool-size=64M"]


def mysql_url(driver: str, port: int, password: str) -> URL:
    return make_url(f"{driver}://root@127.0.0.1:{port}").set(password=password)


RECIPE = LocalRecipe(("mysql",), 90.0, signal.SIGTERM, find_mysql, mysql_setup, mysql_command,
                     mysql_url, mysql_socket)
