"""Every test ends clean: connections it took from the plugin's engines and did not return are
reported against it by name and closed; a statement cancelled by the statement timeout says
which test, backend and setting; Ctrl-C cancels the statements running on those engines."""

from __future__ import annotations

import gc
import signal
import socket
import threading
import warnings
import weakref
from collections.abc import Generator
from contextlib import suppress
from typing import Any, NamedTuple

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from pytest_dbmatrix.provision import LiveBackend, run_engine
from pytest_dbmatrix.run_state import MatrixState


class ConnectionLeakWarning(pytest.PytestWarning):
    """A test left a connection of the plugin's engines open (--dbmatrix-leaks=warn)."""


class Checkout(NamedTuple):
    test: str
    backend: LiveBackend
    fairy: Any


class Interrupter:
    """Ctrl-C cancels the statements running on the watched engines' connections.

    A driver that waits in C and retries on signals (psycopg2: libpq's poll loop) hears of
    Ctrl-C only when its statement ends, which a statement waiting for a lock may never do. So
    Python's C signal handler also writes the signal to a wakeup fd; a thread reading it asks
    each checked-out connection's family to cancel its statement; the main thread, back in
    Python, raises KeyboardInterrupt as usual and the run cleans up. Not installed off the
    main thread or when another wakeup fd is set (an asyncio loop's signal handlers)."""

    def __init__(self) -> None:
        self.connections: dict[int, tuple[LiveBackend, Any]] = {}
        """id of a pool record -> its backend and DBAPI connection, while checked out."""
        self._pair: tuple[socket.socket, socket.socket] | None = None

    def start(self) -> None:
        if self._pair is not None or threading.current_thread() is not threading.main_thread():
            return
        reader, writer = socket.socketpair()
        writer.setblocking(False)  # the signal handler must never block
        previous = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
        if previous != -1:  # someone else's: leave it
            signal.set_wakeup_fd(previous)
            reader.close()
            writer.close()
            return
        self._pair = (reader, writer)
        threading.Thread(target=self._listen, args=(reader,), name="dbmatrix-ctrl-c",
                         daemon=True).start()

    def _listen(self, reader: socket.socket) -> None:
        while True:
            try:
                data = reader.recv(64)
            except OSError:
                return
            if not data:  # stop() closed the other end
                return
            if signal.SIGINT in data:
                self.cancel_all()

    def cancel_all(self) -> None:
        for backend, dbapi_connection in list(self.connections.values()):
            with suppress(Exception):  # closed meanwhile, or a driver without cancel
                backend.family.cancel(dbapi_connection)

    def stop(self) -> None:
        if self._pair is None:
            return
        reader, writer = self._pair
        self._pair = None
        if threading.current_thread() is threading.main_thread():
            current = signal.set_wakeup_fd(-1)
            if current not in (-1, writer.fileno()):  # replaced since: not ours to clear
                signal.set_wakeup_fd(current)
        writer.close()
        reader.close()


class ConnectionWatch:
    """Pool checkouts of the watched engines, by test; hooks that report and close leaks.

    A checkout while a fixture wider than a function is set up belongs to that fixture (a
    session fixture may keep its connection); any other during a test's set-up, call or
    teardown belongs to the test."""

    def __init__(self, state: MatrixState) -> None:
        self.state = state
        self.test: str | None = None
        self.fixture: str | None = None
        self.out: dict[int, Checkout] = {}
        self.watched: weakref.WeakSet[Engine] = weakref.WeakSet()
        """Engines followed; weak: an async engine per event loop goes with its loop."""
        self.interrupter = Interrupter()

    def watch(self, backend: LiveBackend, engine: Engine | None = None) -> None:
        """Follow the backend's engine, or `engine` (an async engine's sync side), once:
        checkouts, checkins, statement timeouts."""
        engine = engine or backend.engine
        if engine in self.watched:
            return
        self.watched.add(engine)
        self.interrupter.start()
        running = self.interrupter.connections

        def checkout(dbapi: Any, record: Any, fairy: Any) -> None:
            running[id(record)] = (backend, dbapi)
            if self.test is not None and self.fixture is None:
                self.out[id(record)] = Checkout(self.test, backend, fairy)

        def checkin(_dbapi: Any, record: Any) -> None:
            running.pop(id(record), None)
            self.out.pop(id(record), None)

        def handle_error(context: Any) -> None:
            self._note_statement_timeout(context, backend)

        sa.event.listen(engine.pool, "checkout", checkout)
        sa.event.listen(engine.pool, "checkin", checkin)
        sa.event.listen(engine, "handle_error", handle_error)

    def _note_statement_timeout(self, context: Any, backend: LiveBackend) -> None:
        orig = context.original_exception
        setting = self.state.settings.statement_timeout
        if setting.value is None:
            return
        if backend.family.is_reply_timeout(orig, context.engine.dialect.driver):
            dead = self.state.settings.dead_host_timeout
            orig.add_note(
                f"dbmatrix: {self.test or 'a statement'} on {backend.name} had no reply within "
                f"{setting.value + dead.value:g}s ({backend.family.reply_timeout_setting}: the "
                f"statement timeout of {setting.value:g}s, {setting.source}, plus the "
                f"dead-host timeout of {dead.value:g}s, {dead.source}): the server or the "
                f"network stopped answering")
            return
        if not backend.family.is_statement_timeout(orig):
            return
        error = context.sqlalchemy_exception or orig
        error.add_note(
            f"dbmatrix: {self.test or 'a statement'} on {backend.name} ran a statement longer "
            f"than the statement timeout of {setting.value:g}s ({setting.source}; "
            f"{backend.family.statement_timeout_setting} on {backend.dialect}); make it "
            f"faster or raise --dbmatrix-statement-timeout")

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        self.test = item.nodeid

    @pytest.hookimpl
    def pytest_unconfigure(self) -> None:
        self.interrupter.stop()

    @pytest.hookimpl(wrapper=True)
    def pytest_fixture_setup(self, fixturedef: pytest.FixtureDef[Any]) -> Generator[None]:
        if fixturedef.scope == "function" or self.fixture is not None:
            return (yield)
        self.fixture = fixturedef.argname
        try:
            return (yield)
        finally:
            self.fixture = None

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> Generator[None]:
        try:
            return (yield)
        finally:
            self.test = None
            left = self._left(item.nodeid)
            if left:
                self._report(item, left)

    def _left(self, test: str) -> list[Checkout]:
        """The test's checkouts still out once its fixtures are torn down; a garbage
        collection first returns those only a reference cycle kept."""
        if not any(c.test == test for c in self.out.values()):
            return []
        gc.collect()
        return [c for c in self.out.values() if c.test == test]

    def _report(self, item: pytest.Item, left: list[Checkout]) -> None:
        held = [self._describe(c) for c in left]
        for checkout in left:
            _close(checkout)
        backend = left[0].backend.name
        count = f"{len(left)} connection{'s' if len(left) > 1 else ''}"
        message = (f"dbmatrix: {item.name} left {count} open on {backend}, {'; '.join(held)}; "
                   f"the plugin closed it. Close connections taken from db_engine (`with "
                   f"db_engine.connect() as conn:`) or use db_connection")
        setting = self.state.settings.leaks
        if setting.value == "warn":
            warnings.warn(ConnectionLeakWarning(message), stacklevel=1)
            return
        pytest.fail(f"{message} (--dbmatrix-leaks=warn makes this a warning)", pytrace=False)

    def _describe(self, checkout: Checkout) -> str:
        backend = checkout.backend
        dbapi = checkout.fairy.dbapi_connection

        def probe() -> Engine:
            return run_engine(backend.family, backend.url, self.state.settings, admin=True)

        try:
            return backend.family.describe_leak(dbapi, probe) or "state unknown"
        except Exception as exc:  # the description must not hide the leak
            return f"state unknown ({type(exc).__name__})"


def _close(checkout: Checkout) -> None:
    """Invalidate the connection (the server ends its session and frees its locks); the one
    shared connection of an in-memory SQLite database is rolled back and returned instead.
    An async driver's connection outside its loop is terminated where the driver can (asyncpg);
    else its loop's end closes it."""
    if isinstance(checkout.backend.engine.pool, sa.pool.StaticPool):
        checkout.fairy.close()
        return
    try:
        checkout.fairy.invalidate()
    except Exception:  # an async driver that needs its event loop to close
        with suppress(Exception):
            checkout.fairy.dbapi_connection.terminate()
