"""The fixtures users ask for; any test using one runs once per selected backend."""

from __future__ import annotations

import importlib
import re
import types
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.orm import Session

from pytest_dbmatrix.providers import BackendUnavailable
from pytest_dbmatrix.provision import LiveBackend
from pytest_dbmatrix.run_state import MatrixState


def load_metadata(target: str, source: str) -> sa.MetaData:
    """Import `module:attribute`, a MetaData or a declarative Base."""
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise pytest.UsageError(f"dbmatrix: {source} must be module:attribute, got {target!r}")
    try:
        obj: object = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise pytest.UsageError(f"dbmatrix: cannot load {target!r} from {source}: {exc}") from None
    metadata = getattr(obj, "metadata", obj)
    if not isinstance(metadata, sa.MetaData):
        raise pytest.UsageError(
            f"dbmatrix: {target!r} from {source} is neither a MetaData nor a declarative Base"
        )
    return metadata


class DDLLeakWarning(pytest.PytestWarning):
    """A test's DDL was committed implicitly (MySQL, MariaDB) and outlived its transaction."""


DDL = re.compile(r"^\s*(CREATE|ALTER|DROP|RENAME)\s", re.IGNORECASE)


class DDLWatch:
    """Lists the tables just before a connection's first DDL statement; costs nothing otherwise."""

    def __init__(self, connection: Connection, backend: LiveBackend) -> None:
        self.connection = connection
        self.backend = backend
        self.before: set[str] | None = None
        sa.event.listen(connection, "before_cursor_execute", self._on_execute)

    def _on_execute(self, conn: Connection, cursor: Any, statement: str, *args: Any) -> None:
        if self.before is None and DDL.match(statement):
            self.before = self.tables()

    def tables(self) -> set[str]:
        dbapi = self.connection.connection.dbapi_connection
        return self.backend.family.raw_table_names(dbapi)

    def leaked(self) -> set[str]:
        return set() if self.before is None else self.tables() - self.before


def _drop_leaked_tables(backend: LiveBackend, leaked: set[str]) -> None:
    """Drop tables a test created on a non-transactional-DDL backend, and say so."""
    with backend.engine.begin() as conn:
        quote = conn.dialect.identifier_preparer.quote
        backend.family.drop_tables(conn, [quote(table) for table in sorted(leaked)])
    names = ", ".join(sorted(leaked))
    warnings.warn(DDLLeakWarning(
        f"dbmatrix: on {backend.name} ({backend.dialect}) DDL commits implicitly: tables {names} "
        f"created by this test outlived its rollback; the plugin dropped them. Create tables "
        f"through dbmatrix_metadata, not inside tests"), stacklevel=1)


S = TypeVar("S", bound="Shared")


class Shared:
    """Something of the running test used by several fixtures: begun by the first of them and
    ended when the last is torn down, in whichever order pytest tears them down."""

    users = 0

    def join(self: S) -> S:
        self.users += 1
        return self

    def leave(self) -> bool:
        """True when the last user left: time to end it."""
        self.users -= 1
        return not self.users


class TestTransaction(Shared):
    """The connection and outer transaction of one test, shared by the fixtures that use it."""

    __test__ = False  # not a test class, whatever pytest's naming rules say

    def __init__(self, connection: Connection, backend: LiveBackend) -> None:
        self.backend = backend
        self.connection = connection
        self.watch = (None if backend.capabilities.transactional_ddl
                      else DDLWatch(self.connection, backend))
        self.transaction = self.connection.begin()

    def end(self) -> None:
        """Roll back, close, and drop what DDL left behind on non-transactional-DDL servers."""
        try:
            if self.transaction.is_active:
                self.transaction.rollback()
            leaked = self.watch.leaked() if self.watch else set()
        finally:
            self.connection.close()
        if leaked:
            _drop_leaked_tables(self.backend, leaked)


def fail_if_lost(state: MatrixState, backend: LiveBackend) -> None:
    """Once a connection to a backend could not be made, the backend is lost for the rest of
    the session: its later tests fail at once, not each after the connect timeout."""
    lost = state.lost_backends.get(backend.name)
    if lost is not None:
        pytest.fail(f"dbmatrix: backend {backend.name!r} was lost earlier in this session; this "
                    f"test did not try to connect. {lost}", pytrace=False)


def note_lost(state: MatrixState, backend: LiveBackend, exc: BaseException) -> None:
    """Record that a test could not connect, on the error too."""
    lost = state.lost_backends[backend.name] = state.provisioner.lost_reason(backend, exc)
    exc.add_note(f"dbmatrix: backend {backend.name!r} lost mid-session; its later tests fail "
                 f"without trying. {lost}")


def _connect(state: MatrixState, engine: Engine, backend: LiveBackend) -> Connection:
    """A connection for the test, unless its backend is lost."""
    fail_if_lost(state, backend)
    try:
        return engine.connect()
    except sa.exc.DBAPIError as exc:
        note_lost(state, backend, exc)
        raise


class TransactionSlot:
    """The running test's TestTransaction, while db_connection or db_session uses it; one per
    run, held by the run's fixtures."""

    def __init__(self) -> None:
        self.current: TestTransaction | None = None


@contextmanager
def _test_transaction(state: MatrixState, slot: TransactionSlot, engine: Engine,
                      backend: LiveBackend) -> Iterator[TestTransaction]:
    """The running test's transaction, shared by the fixtures that use it."""
    test = slot.current or TestTransaction(_connect(state, engine, backend), backend)
    slot.current = test.join()
    try:
        yield test
    finally:
        if test.leave():
            slot.current = None
            test.end()


def _drop_models(state: MatrixState, backend: LiveBackend, metadata: sa.MetaData) -> None:
    """drop_all of the session's models, its lock waits bounded by the lock timeout."""
    setting = state.settings.lock_timeout
    try:
        with backend.engine.begin() as conn:
            backend.family.bound_locks(conn, setting.value)
            metadata.drop_all(conn)
    except sa.exc.DBAPIError as exc:
        exc.add_note(f"dbmatrix: dropping the tables of dbmatrix_metadata on {backend.name} "
                     f"failed within the lock timeout of {setting.value:g}s ({setting.source}): "
                     f"a session still holds locks on them; the run's database goes at the end")
        raise


def matrix_fixtures(state: MatrixState) -> types.ModuleType:
    """The public fixtures, closures over the run's state, in a module object that pytest
    reads fixtures from as from a plugin module.

    `dbmatrix_backend` reads its backend from `request.param`, the session-scoped parameter
    `pytest_generate_tests` gives it: pytest runs it once per backend and tears it down when the
    parameter changes, so the per-test fixtures (which do not ask for `request`) pay nothing.
    Closures, not methods of a plugin object: pytest 9.2 deprecates session-scoped fixtures
    bound to an instance."""
    slot = TransactionSlot()

    @pytest.fixture(scope="session")
    def dbmatrix_backend(request: pytest.FixtureRequest) -> LiveBackend:
        """The live backend of this test: name, dialect, server version, masked URL,
        capabilities."""
        name: str | None = getattr(request, "param", None)
        if name is None:
            pytest.fail("dbmatrix_backend is parametrized by pytest-dbmatrix: request it as a "
                        "test argument (or through a fixture), not with getfixturevalue() from "
                        "a test that does not use it", pytrace=False)
        try:
            backend = state.provisioner.get(name)
        except BackendUnavailable as exc:
            state.fail_or_skip(str(exc))
            raise
        state.watch_backend(backend)
        return backend

    @pytest.fixture(scope="session")
    def dbmatrix_metadata() -> sa.MetaData | None:
        """The models every backend gets for the session; override this fixture to choose."""
        setting = state.settings.metadata
        if setting.value is None:
            return None
        try:
            return load_metadata(setting.value, setting.source)
        except pytest.UsageError as exc:
            pytest.fail(str(exc), pytrace=False)

    @pytest.fixture(scope="session")
    def dbmatrix_schema(dbmatrix_backend: LiveBackend,
                        dbmatrix_metadata: sa.MetaData | None) -> Iterator[sa.MetaData | None]:
        """The models' tables, created once per backend and session by the plugin's own sync
        engine (dropped at its end), for the sync and the async fixtures alike."""
        if dbmatrix_metadata is None:
            yield None
            return
        dbmatrix_metadata.create_all(dbmatrix_backend.engine)
        yield dbmatrix_metadata
        _drop_models(state, dbmatrix_backend, dbmatrix_metadata)

    @pytest.fixture(scope="session")
    def db_engine(dbmatrix_backend: LiveBackend,
                  dbmatrix_schema: sa.MetaData | None) -> Engine:
        """One engine per backend per session, with the models' tables created once per
        backend and session (dropped at its end)."""
        unserved = dbmatrix_backend.spec.unserved("sync")
        if unserved:
            pytest.skip(unserved)
        return dbmatrix_backend.engine

    @pytest.fixture(scope="session")
    def db_url(dbmatrix_backend: LiveBackend) -> URL:
        """The URL of this backend's database for the run (str() of it hides the password)."""
        return dbmatrix_backend.url

    @pytest.fixture
    def db_connection(db_engine: Engine, dbmatrix_backend: LiveBackend) -> Iterator[Connection]:
        """A connection inside a transaction that is rolled back after the test."""
        with _test_transaction(state, slot, db_engine, dbmatrix_backend) as test:
            yield test.connection

    @pytest.fixture
    def db_session(db_engine: Engine, dbmatrix_backend: LiveBackend) -> Iterator[Session]:
        """An ORM Session whose commits become SAVEPOINTs: the test may commit, nothing
        stays. On the same connection and transaction as db_connection when a test asks for
        both; it does not depend on that fixture, one fixture less to set up per test."""
        with (_test_transaction(state, slot, db_engine, dbmatrix_backend) as test,
              Session(bind=test.connection, join_transaction_mode="create_savepoint") as session):
            yield session

    module = types.ModuleType(f"{__name__}.run")
    for fixture in (dbmatrix_backend, dbmatrix_metadata, dbmatrix_schema, db_engine, db_url,
                    db_connection, db_session):
        setattr(module, fixture.__name__, fixture)
    return module
