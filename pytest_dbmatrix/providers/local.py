"""The local provider: a throwaway server started from binaries installed on this machine.

How a family's server is found, initialised and started is its `local.RECIPE` (PostgreSQL:
initdb + postgres; MariaDB: mariadb-install-db + mariadbd; MySQL: mysqld --initialize-insecure +
mysqld). The data directory lives in the record's directory under
the stable base of `registry` (traversable by the server's user when pytest runs as root, where
the servers refuse to run), with fsync off, on a free loopback port, and is removed with the
server at the end of the run or, after a kill, by the next run.
"""

from __future__ import annotations

import contextlib
import functools
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import time
from pathlib import Path

from pytest_dbmatrix.backends.recipes import DATABASE, Binaries, LocalRecipe, User
from pytest_dbmatrix.providers import registry, shared
from pytest_dbmatrix.providers.base import BackendUnavailable, ProvideContext, ProviderRun, Server
from pytest_dbmatrix.providers.ready import NotReady, ensure_database, free_port, wait_until_ready
from pytest_dbmatrix.providers.registry import Record
from pytest_dbmatrix.run_identity import pid_alive
from pytest_dbmatrix.settings import BackendSpec

ATTEMPTS = 3
SETUP_TIMEOUT = 180.0
STOP_TIMEOUT = 15.0
MAX_SOCKET_PATH = 100


def provide(spec: BackendSpec, context: ProvideContext) -> Server:
    recipe = spec.family.local_recipe()
    if recipe is None:
        raise BackendUnavailable(
            spec.name, f"no local {spec.family.kind} server can be started from binaries; "
            f"give a URL (--dbmatrix-url {spec.name}=URL) or use --dbmatrix-provider "
            f"{spec.name}=docker")
    spec.family.server_driver(spec.name)  # installed, or why not
    try:
        binaries = recipe.find(spec.family.kind)
        return shared.obtain(spec, context, "local",
                             lambda record: _start(spec, recipe, binaries, record,
                                                   context.provider_run))
    except BackendUnavailable as exc:
        raise BackendUnavailable(spec.name, exc.reason) from None


def _start(spec: BackendSpec, recipe: LocalRecipe, binaries: Binaries, record: Record,
           run: ProviderRun) -> Record:
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
        _check_socket(recipe, data)
        _run_setup(spec, recipe.initialise(binaries, data, password, user), directory, user)
        (directory / "pwfile").unlink(missing_ok=True)
        return _serve(spec, recipe, binaries, record, password, user, run)
    except BaseException:
        destroy(record, run)
        raise


def _serve(spec: BackendSpec, recipe: LocalRecipe, binaries: Binaries, record: Record,
           password: str, user: User, run: ProviderRun) -> Record:
    directory = registry.record_dir(record.key)
    for attempt in range(1, ATTEMPTS + 1):
        port = free_port(run)
        proc = _spawn(recipe.command(binaries, Path(record.data_dir), port), directory, user, run)
        record.server_pid = proc.pid
        registry.write(record)
        url = recipe.admin_url(spec.family.default_driver, port, password)
        try:
            wait_until_ready(spec.family, url, recipe.timeout, functools.partial(_exited, proc),
                             functools.partial(_log_tail, directory), (password,))
        except NotReady as exc:
            _stop(record, run)
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


def _check_socket(recipe: LocalRecipe, data: Path) -> None:
    """Unix socket paths are short (about 100 bytes): say so before the server fails on it."""
    socket = recipe.socket(data) if recipe.socket else None
    if socket is not None and len(str(socket)) > MAX_SOCKET_PATH:
        raise BackendUnavailable("local", f"the socket path {socket} is too long; set "
                                          f"{registry.STATE_DIR_ENV} to a shorter directory")


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


def _spawn(argv: list[str], directory: Path, user: User,
           run: ProviderRun) -> subprocess.Popen[bytes]:
    with (directory / "server.log").open("ab") as log:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            cwd=directory, env=_environment(), start_new_session=True,
            user=user and user.pw_uid, group=user and user.pw_gid,
            extra_groups=[] if user else None)
    run.children[proc.pid] = proc
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


def _stop(record: Record, run: ProviderRun) -> None:
    pids = _server_pids(record)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, record.stop_signal)
    deadline = time.monotonic() + STOP_TIMEOUT
    while pids and time.monotonic() < deadline:
        pids = [p for p in pids if _running(p, run)]
        time.sleep(0.1)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL) if os.getpgid(pid) == pid else os.kill(pid, 9)
    for pid in pids:
        _running(pid, run, wait=5.0)


def _running(pid: int, run: ProviderRun, wait: float = 0.0) -> bool:
    """Whether the process runs; a child of this run is waited for (no zombie left)."""
    child = run.children.get(pid)
    if child is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(wait)
        if child.returncode is not None:
            run.children.pop(pid, None)
            return False
        return True
    return _cmdline(pid) is not None


def is_alive(record: Record, run: ProviderRun) -> bool:
    return bool(record.server_pid) and record.server_pid in _server_pids(record)


def destroy(record: Record, run: ProviderRun) -> None:
    """Stop the server (fast shutdown, then kill) and remove its data directory."""
    _stop(record, run)
    if record.data_dir:
        shutil.rmtree(record.data_dir, ignore_errors=True)
