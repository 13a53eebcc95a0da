"""The local provider: a throwaway server started from binaries installed on this machine.

PostgreSQL comes from initdb + postgres, MariaDB from mariadb-install-db + mariadbd, MySQL from
mysqld --initialize-insecure + mysqld. The data directory lives in the record's directory under
the stable base of `registry` (traversable by the server's user when pytest runs as root, where
the servers refuse to run), with fsync off, on a free loopback port, and is removed with the
server at the end of the run or, after a kill, by the next run.
"""

from __future__ import annotations

import contextlib
import functools
import glob
import importlib.util
import os
import pwd
import re
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from pytest_dbmatrix.providers import registry, shared
from pytest_dbmatrix.providers.base import BackendUnavailable, ProvideContext, Server
from pytest_dbmatrix.providers.ready import NotReady, ensure_database, free_port, wait_until_ready
from pytest_dbmatrix.providers.registry import Record
from pytest_dbmatrix.run_identity import pid_alive
from pytest_dbmatrix.settings import BackendSpec

DATABASE = "test"
ATTEMPTS = 3
SETUP_TIMEOUT = 180.0
STOP_TIMEOUT = 15.0
MAX_SOCKET_PATH = 100
_children: dict[int, subprocess.Popen[bytes]] = {}
User = pwd.struct_passwd | None
"""Who runs the server: None for this process's user."""


@dataclass(frozen=True)
class Binaries:
    """Server and set-up programs found for a family, and what the header says about them."""

    server: str
    setup: tuple[str, ...]
    product: str
    label: str


@dataclass(frozen=True)
class Recipe:
    """How one family's throwaway server is found, initialised, started and reached."""

    users: tuple[str, ...]
    timeout: float
    stop_signal: int
    find: Callable[[str], Binaries]
    initialise: Callable[[Binaries, Path, str, User], list[str]]
    command: Callable[[Binaries, Path, int], list[str]]
    admin_url: Callable[[str, int, str], URL]


def provide(spec: BackendSpec, context: ProvideContext) -> Server:
    recipe = RECIPES.get(spec.family.kind)
    if recipe is None:
        raise BackendUnavailable(
            spec.name, f"no local {spec.family.kind} server can be started from binaries; "
            f"give a URL (--dbmatrix-url {spec.name}=URL) or use --dbmatrix-provider "
            f"{spec.name}=docker")
    if importlib.util.find_spec(spec.family.driver_module) is None:
        raise BackendUnavailable(
            spec.name, f"the driver {spec.family.driver_module} is not installed: pip install "
            f"'pytest-dbmatrix[{spec.family.extra}]'")
    try:
        binaries = recipe.find(spec.family.kind)
        return shared.obtain(spec, context, "local",
                             lambda record: _start(spec, recipe, binaries, record))
    except BackendUnavailable as exc:
        raise BackendUnavailable(spec.name, exc.reason) from None


def _start(spec: BackendSpec, recipe: Recipe, binaries: Binaries, record: Record) -> Record:
    directory = registry.record_dir(record.key)
    data = directory / "data"
    record.data_dir = str(data)
    record.stop_signal = recipe.stop_signal
    record.description = f"{binaries.label}, data in {data}"
    registry.write(record)
    password = secrets.token_hex(12)
    try:
        user = _server_user(recipe.users)
        _prepare(data, user)
        _run_setup(spec, recipe.initialise(binaries, data, password, user), directory, user)
        (directory / "pwfile").unlink(missing_ok=True)
        return _serve(spec, recipe, binaries, record, password, user)
    except BaseException:
        destroy(record)
        raise


def _serve(spec: BackendSpec, recipe: Recipe, binaries: Binaries, record: Record,
           password: str, user: User) -> Record:
    directory = registry.record_dir(record.key)
    for attempt in range(1, ATTEMPTS + 1):
        port = free_port()
        proc = _spawn(recipe.command(binaries, Path(record.data_dir), port), directory, user)
        record.server_pid = proc.pid
        registry.write(record)
        url = recipe.admin_url(spec.family.default_driver, port, password)
        try:
            wait_until_ready(spec.family, url, recipe.timeout, functools.partial(_exited, proc),
                             functools.partial(_log_tail, directory), (password,))
        except NotReady as exc:
            _stop(record)
            if exc.port_taken and attempt < ATTEMPTS:
                continue
            what = f"the local {binaries.product} server ({binaries.label})"
            raise BackendUnavailable(spec.name, exc.describe(what)) from None
        ensure_database(spec.family, url, DATABASE)
        record.url = url.set(database=DATABASE).render_as_string(hide_password=False)
        record.description = f"{binaries.label} on 127.0.0.1:{port}, data in {record.data_dir}"
        return record
    raise AssertionError("unreachable")


def _server_user(names: tuple[str, ...]) -> User:
    """Root runs the server as its usual user (or nobody): the servers refuse root."""
    if os.geteuid() != 0:
        return None
    for name in (*names, "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    tried = ", ".join((*names, "nobody"))
    raise BackendUnavailable("local", f"pytest runs as root, which the server refuses, and "
                                      f"there is no unprivileged user to run it as ({tried})")


def _prepare(data: Path, user: User) -> None:
    """The data directory and a temporary one of the server's own (not the shared /tmp,
    where concurrent MariaDB bootstraps clash), owned by the server's user."""
    for directory in (data, data.parent / "tmp"):
        directory.mkdir(mode=0o700)
        if user is not None:
            os.chown(directory, user.pw_uid, user.pw_gid)


def _secret_file(path: Path, text: str, user: User) -> Path:
    """A file only the server's user reads (the password); removed with the directory."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    if user is not None:
        os.chown(path, user.pw_uid, user.pw_gid)
    return path


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "MYSQL", "MARIADB"))}
    return env | {"LC_ALL": "C", "LANG": "C"}


def _run_setup(spec: BackendSpec, argv: list[str], directory: Path, user: User) -> None:
    with (directory / "server.log").open("ab") as log:
        try:
            done = subprocess.run(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                cwd=directory, env=_environment(), timeout=SETUP_TIMEOUT, check=False,
                user=user and user.pw_uid, group=user and user.pw_gid,
                extra_groups=[] if user else None)
        except subprocess.TimeoutExpired:
            raise BackendUnavailable(spec.name, f"{argv[0]} did not finish within "
                                                f"{SETUP_TIMEOUT:g} s") from None
    if done.returncode != 0:
        tail = "\n".join(f"    | {line}" for line in _log_tail(directory).splitlines())
        raise BackendUnavailable(spec.name, f"{Path(argv[0]).name} failed with exit code "
                                            f"{done.returncode}; its output ends with:\n{tail}")


def _spawn(argv: list[str], directory: Path, user: User) -> subprocess.Popen[bytes]:
    with (directory / "server.log").open("ab") as log:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            cwd=directory, env=_environment(), start_new_session=True,
            user=user and user.pw_uid, group=user and user.pw_gid,
            extra_groups=[] if user else None)
    _children[proc.pid] = proc
    return proc


def _exited(proc: subprocess.Popen[bytes]) -> str | None:
    code = proc.poll()
    return None if code is None else f"exited with code {code}"


def _log_tail(directory: Path, lines: int = 25) -> str:
    try:
        text = (directory / "server.log").read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


# -- stopping -------------------------------------------------------------------------------


def _cmdline(pid: int) -> str | None:
    """The command line of a running (not zombie) process, or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return None
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(
            errors="replace")
    except FileNotFoundError:
        if Path("/proc/self").exists() or not pid_alive(pid):
            return None
    except (OSError, IndexError):
        return None
    done = subprocess.run(["ps", "-o", "command=", "-p", str(pid)], capture_output=True,
                          text=True, check=False)
    return done.stdout.strip() or None


def _server_pids(record: Record) -> list[int]:
    """Processes started from the record's data directory: verified, never a reused pid."""
    if not record.data_dir:
        return []
    pids = {record.server_pid} if record.server_pid else set()
    if Path("/proc/self").exists():
        pids |= {int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()}
    return sorted(p for p in pids if record.data_dir in (_cmdline(p) or ""))


def _stop(record: Record) -> None:
    pids = _server_pids(record)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, record.stop_signal)
    deadline = time.monotonic() + STOP_TIMEOUT
    while pids and time.monotonic() < deadline:
        pids = [p for p in pids if _running(p)]
        time.sleep(0.1)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL) if os.getpgid(pid) == pid else os.kill(pid, 9)
    for pid in pids:
        _running(pid, wait=5.0)


def _running(pid: int, wait: float = 0.0) -> bool:
    child = _children.get(pid)
    if child is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(wait)
        if child.returncode is not None:
            _children.pop(pid, None)
            return False
        return True
    return _cmdline(pid) is not None


def is_alive(record: Record) -> bool:
    return bool(record.server_pid) and record.server_pid in _server_pids(record)


def destroy(record: Record) -> None:
    """Stop the server (fast shutdown, then kill) and remove its data directory."""
    _stop(record)
    if record.data_dir:
        shutil.rmtree(record.data_dir, ignore_errors=True)


# -- PostgreSQL -----------------------------------------------------------------------------


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
    pwfile = _secret_file(data.parent / "pwfile", password + "\n", user)
    return [binaries.setup[0], "-D", str(data), "-U", "postgres", f"--pwfile={pwfile}",
            "--auth=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync"]


def postgres_command(binaries: Binaries, data: Path, port: int) -> list[str]:
    settings = {"listen_addresses": "127.0.0.1", "unix_socket_directories": "", "fsync": "off",
                "synchronous_commit": "off", "full_page_writes": "off"}
    options = [arg for k, v in settings.items() for arg in ("-c", f"{k}={v}")]
    return [binaries.server, "-D", str(data), "-p", str(port), *options]


def postgres_url(driver: str, port: int, password: str) -> URL:
    return make_url(f"{driver}://postgres@127.0.0.1:{port}/postgres").set(password=password)


# -- MariaDB and MySQL ----------------------------------------------------------------------


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
        servers.append((path, "MariaDB" if "mariadb" in done.stdout.lower() else "MySQL"))
    return servers


def find_mysql(kind: str) -> Binaries:
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


def mysql_setup(binaries: Binaries, data: Path, password: str, user: User) -> list[str]:
    _secret_file(data.parent / "init.sql",
                 f"CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '{password}';\n"
                 f"ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY '{password}';\n"
                 "GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;\n", user)
    socket = data / "mysqld.sock"
    if len(str(socket)) > MAX_SOCKET_PATH:
        raise BackendUnavailable("local", f"the socket path {socket} is too long; set "
                                          f"{registry.STATE_DIR_ENV} to a shorter directory")
    tmpdir = f"--tmpdir={data.parent / 'tmp'}"
    if binaries.product == "MySQL":
        return [binaries.setup[0], "--no-defaults", *binaries.setup[1:], f"--datadir={data}",
                tmpdir]
    return [binaries.setup[0], "--no-defaults", f"--datadir={data}", tmpdir, "--skip-test-db",
            "--auth-root-authentication-method=normal", "--skip-name-resolve"]


def mysql_command(binaries: Binaries, data: Path, port: int) -> list[str]:
    return [binaries.server, "--no-defaults", f"--datadir={data}", f"--port={port}",
            f"--tmpdir={data.parent / 'tmp'}",
            "--bind-address=127.0.0.1", f"--socket={data / 'mysqld.sock'}",
            f"--pid-file={data / 'mysqld.pid'}", f"--init-file={data.parent / 'init.sql'}",
            "--skip-name-resolve", "--innodb-flush-log-at-trx-commit=0", "--skip-log-bin",
            "--loose-mysqlx=OFF", "--innodb-buffer-pool-size=64M"]


def mysql_url(driver: str, port: int, password: str) -> URL:
    return make_url(f"{driver}://root@127.0.0.1:{port}").set(password=password)


POSTGRES = Recipe(("postgres",), 60.0, signal.SIGINT, find_postgres, postgres_setup,
                  postgres_command, postgres_url)
MYSQL = Recipe(("mysql",), 90.0, signal.SIGTERM, find_mysql, mysql_setup, mysql_command,
               mysql_url)
RECIPES = {"postgresql": POSTGRES, "mysql": MYSQL, "mariadb": MYSQL}
