"""The async fixtures: `db_async_engine`, `db_async_connection`, `db_async_session`.

They give async tests the isolation of the sync fixtures, by running the same TestTransaction
on the sync side of an AsyncConnection. They run in the event loop of the test that uses them,
whichever plugin runs it: pytest-asyncio (strict or auto mode, any `loop_scope`) or anyio's
`@pytest.mark.anyio`. An async engine belongs to one loop, so there is one per backend per
loop, disposed while that loop shuts down.

Importing this module imports neither SQLAlchemy's asyncio extension nor pytest-asyncio, anyio
or any async driver: the fixtures do, when a test uses them."""

from __future__ import annotations

import asyncio
import types
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa

from pytest_dbmatrix.fixtures import Shared, TestTransaction, fail_if_lost, note_lost
from pytest_dbmatrix.provision import AsyncUnusable, LiveBackend, live_async_engine
from pytest_dbmatrix.run_state import MatrixState

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

ASYNC_FIXTURES = frozenset({"db_async_engine", "db_async_connection", "db_async_session"})
NOT_ASYNC = (
    "{name} is an async fixture: use it from an `async def` test run by pytest-asyncio "
    "(@pytest.mark.asyncio, or asyncio_mode = auto) or by anyio (@pytest.mark.anyio); "
    "install them with pip install 'pytest-dbmatrix[async]'"
)


class AsyncTestTransaction(Shared):
    """The async connection of one test and its TestTransaction, shared by the async
    fixtures of that test."""

    __test__ = False

    def __init__(self, connection: AsyncConnection, test: TestTransaction) -> None:
        self.connection = connection
        self.test = test

    async def end(self) -> None:
        await self.connection.run_sync(lambda _sync: self.test.end())


async def _dispose_at_loop_shutdown(engine: AsyncEngine) -> AsyncGenerator[None, None]:
    """Started inside a loop, closed by that loop's `shutdown_asyncgens()`, which
    `asyncio.Runner.close()` (pytest-asyncio's and anyio's runners) awaits before closing
    the loop: the engine's connections are closed by their own loop, still running."""
    try:
        yield
    finally:
        await engine.dispose()


class AsyncRun:
    """The async side of one run: engines per loop and the running test's transaction."""

    def __init__(self, state: MatrixState) -> None:
        self.state = state
        self.current: AsyncTestTransaction | None = None
        self._by_loop: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[str, tuple[AsyncEngine, AsyncGenerator[None, None]]]
        ] = weakref.WeakKeyDictionary()
        self._unusable: dict[str, str] = {}
        """backend -> why it has no async engine (driver missing), said once per test."""

    async def engine(self, backend: LiveBackend) -> AsyncEngine:
        """The backend's engine for the running loop, made on the loop's first use."""
        engines = self._by_loop.setdefault(_running_loop(), {})
        held = engines.get(backend.name)
        if held is None:
            engine = self._make(backend)
            keeper = _dispose_at_loop_shutdown(engine)
            await keeper.__anext__()
            held = engines[backend.name] = (engine, keeper)
        return held[0]

    def _make(self, backend: LiveBackend) -> AsyncEngine:
        if backend.name in self._unusable:
            self.state.fail_or_skip(self._unusable[backend.name])
        unserved = backend.spec.unserved("async")
        if unserved:
            pytest.skip(unserved)
        try:
            engine = live_async_engine(backend, self.state.settings)
        except AsyncUnusable as exc:
            self._unusable[backend.name] = str(exc)
            self.state.fail_or_skip(str(exc))
            raise
        self.state.watch_backend(backend, engine.sync_engine)
        return engine

    @asynccontextmanager
    async def transaction(self, engine: AsyncEngine,
                          backend: LiveBackend) -> AsyncIterator[AsyncTestTransaction]:
        """The running test's transaction, shared by the async fixtures that use it."""
        test = self.current or await _begin(self.state, engine, backend)
        self.current = test.join()
        try:
            yield test
        finally:
            if test.leave():
                self.current = None
                await test.end()


def _running_loop() -> asyncio.AbstractEventLoop:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        pytest.fail("dbmatrix: the db_async_* fixtures need an asyncio event loop (SQLAlchemy's "
                    "asyncio extension); with anyio use anyio_backend = 'asyncio'", pytrace=False)


async def _begin(state: MatrixState, engine: AsyncEngine,
                 backend: LiveBackend) -> AsyncTestTransaction:
    """Connect (unless the backend is lost) and begin the sync TestTransaction on the sync side
    of the connection, where SQLAlchemy runs it with the async driver."""
    fail_if_lost(state, backend)
    try:
        connection = await engine.connect()
    except (sa.exc.DBAPIError, OSError) as exc:  # asyncpg raises OSError unwrapped
        note_lost(state, backend, exc)
        raise
    try:
        test = await connection.run_sync(TestTransaction, backend)
    except BaseException:
        await connection.close()
        raise
    return AsyncTestTransaction(connection, test)


def asyncio_loop_scope(item: pytest.Item) -> str | None:
    """The scope of the loop pytest-asyncio runs `item` in (None: it does not run it), as it
    decides: the asyncio marker's loop_scope, else ini asyncio_default_test_loop_scope."""
    if not item.config.pluginmanager.hasplugin("asyncio"):
        return None
    marker = item.get_closest_marker("asyncio")
    if marker is None:
        return None
    scope = marker.kwargs.get("loop_scope") or marker.kwargs.get("scope")
    return str(scope or item.config.getini("asyncio_default_test_loop_scope") or "function")


def async_matrix_plugin(state: MatrixState) -> types.ModuleType:
    """The async fixtures as a plugin module object, closures over the run's state, with the
    hook that makes pytest-asyncio run them in each test's own loop."""
    run = AsyncRun(state)

    async def db_async_engine(dbmatrix_schema: sa.MetaData | None,
                              dbmatrix_backend: LiveBackend) -> AsyncEngine:
        """The backend's async engine for the test's event loop, on the run's database with
        the models' tables; the driver is the family's default, the one of
        --dbmatrix-async-driver, or the one its name gives (`postgresql+psycopg`)."""
        return await run.engine(dbmatrix_backend)

    async def db_async_connection(db_async_engine: AsyncEngine, dbmatrix_backend: LiveBackend,
                                  ) -> AsyncIterator[AsyncConnection]:
        """An AsyncConnection inside a transaction that is rolled back after the test."""
        async with run.transaction(db_async_engine, dbmatrix_backend) as test:
            yield test.connection

    async def db_async_session(db_async_engine: AsyncEngine, dbmatrix_backend: LiveBackend,
                               ) -> AsyncIterator[AsyncSession]:
        """An AsyncSession whose commits become SAVEPOINTs; on the connection and transaction
        of db_async_connection when a test asks for both."""
        from sqlalchemy.ext.asyncio import AsyncSession

        async with (run.transaction(db_async_engine, dbmatrix_backend) as test,
                    AsyncSession(bind=test.connection,
                                 join_transaction_mode="create_savepoint") as session):
            yield session

    functions: tuple[Callable[..., Any], ...] = (db_async_engine, db_async_connection,
                                                 db_async_session)

    @pytest.hookimpl
    def pytest_runtest_setup(item: pytest.Item) -> None:
        """Before any fixture of an item using the async fixtures: tell pytest-asyncio to run
        them in the item's loop (the attributes its `fixture(loop_scope=...)` decorator sets,
        set per item since the loop scope is the test's); let anyio run them for its tests;
        refuse a test that neither runs. Not tryfirst: after the session's own setup hook
        has noted the item's backend, before pytest's sets up the fixtures."""
        names = getattr(item, "fixturenames", ())
        if ASYNC_FIXTURES.isdisjoint(names):
            return
        scope = asyncio_loop_scope(item)
        for function in functions:
            function._force_asyncio_fixture = scope is not None  # type: ignore[attr-defined]
            function._loop_scope = scope  # type: ignore[attr-defined]
        if scope is None and "anyio_backend" not in names:
            used = sorted(ASYNC_FIXTURES.intersection(names))
            pytest.fail(NOT_ASYNC.format(name=", ".join(used)), pytrace=False)

    module = types.ModuleType(f"{__name__}.run")
    for function in functions:
        setattr(module, function.__name__, pytest.fixture(function))
    module.pytest_runtest_setup = pytest_runtest_setup  # type: ignore[attr-defined]
    return module
