"""Waiting for a started server: a real query until it answers, the process exits, or time is up."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from pytest_dbmatrix.backends.base import Backend
from pytest_dbmatrix.errors import normalise
from pytest_dbmatrix.providers.base import ProviderRun
from pytest_dbmatrix.redact import scrub

POLL = 0.5
ATTEMPT_TIMEOUT = 3.0
LOG_LINES = 25


class NotReady(Exception):
    """The server did not answer: `reason` in one line, `log` the tail of its output, and
    `bind_errors` what its family's servers log when their port is taken (lower case)."""

    def __init__(self, reason: str, log: str, exited: bool,
                 bind_errors: tuple[str, ...]) -> None:
        super().__init__(reason)
        self.reason = reason
        self.log = log
        self.exited = exited
        self.bind_errors = bind_errors

    @property
    def port_taken(self) -> bool:
        """It exited because another process took its port first: worth another port."""
        return self.exited and any(e in self.log.lower() for e in self.bind_errors)

    def describe(self, what: str) -> str:
        tail = "\n".join(f"    | {line}" for line in self.log.splitlines()[-LOG_LINES:])
        return f"{what} {self.reason}" + (f"; its log ends with:\n{tail}" if tail else "")


def free_port(run: ProviderRun) -> int:
    """A loopback port nobody listens on, never handed out twice in `run`."""
    with run.ports_lock:
        for _ in range(50):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.bind(("127.0.0.1", 0))
                port = int(sock.getsockname()[1])
            if port not in run.given_ports:
                run.given_ports.add(port)
                return port
    raise RuntimeError("no free loopback port")


def wait_until_ready(family: Backend, url: URL, timeout: float,
                     exited: Callable[[], str | None], log: Callable[[], str],
                     secrets: tuple[str, ...] = ()) -> None:
    """Run `SELECT 1` on `url` until it works; NotReady when `exited` says so or time is up."""
    options = {"poolclass": NullPool,
               "connect_args": family.connect_args(url, min(ATTEMPT_TIMEOUT, timeout))}
    engine = sa.create_engine(url, **options)
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    try:
        while True:
            ended = exited()
            if ended:
                raise NotReady(f"{ended} before it answered", scrub(log(), secrets), True,
                               family.bind_errors)
            try:
                with engine.connect() as conn:
                    conn.exec_driver_sql("SELECT 1").scalar()
                return
            except sa_exc.DBAPIError as exc:
                last = normalise(exc, secrets).line
            if time.monotonic() >= deadline:
                raise NotReady(f"did not answer a query within {timeout:g} s (last error: "
                               f"{last})", scrub(log(), secrets), False, family.bind_errors)
            time.sleep(POLL)
    finally:
        engine.dispose()


def ensure_database(family: Backend, url: URL, name: str) -> None:
    """Create database `name` on the server of `url` unless it exists (users export its URL)."""
    engine = sa.create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            if name not in family.list_databases(conn):
                family.create_database(conn, name)
    finally:
        engine.dispose()
