"""SQLite: the embedded default, a file per session and worker."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from pytest_dbmatrix.backends.base import (
    Backend,
    Bounds,
    Capabilities,
    ServerInfo,
    driver_connection,
)


class SQLiteBackend(Backend):
    kind = "sqlite"
    default_driver = "sqlite+pysqlite"
    driver_module = "sqlite3"
    extra = ""
    server_backed = False
    product = "SQLite"
    min_version = (3, 25)
    async_drivers = ("aiosqlite",)
    sync_drivers = ("pysqlite",)
    atomic_statements = True
    deferrable_foreign_keys = True
    optional_foreign_keys = True
    alters_in_batch_only = True
    static_dialect_class = "sqlalchemy.dialects.sqlite.pysqlite:SQLiteDialect_pysqlite"
    capabilities = Capabilities(
        transactional_ddl=True,
        enforces_foreign_keys=False,
        enforces_check=True,
        enforces_length=False,
        case_sensitive_compare=True,
        keeps_timezone=False,
        insert_returning=sqlite3.sqlite_version_info >= (3, 35),
        update_returning=sqlite3.sqlite_version_info >= (3, 35),
        max_identifier_length=10_000,
        notes=("foreign keys need PRAGMA foreign_keys=ON per connection",),
    )

    def prepare_engine(self, engine: Engine, *, foreign_keys: bool, durable: bool = False) -> None:
        """Make SAVEPOINTs really roll back and set the foreign key pragma on each connection.

        Unless `durable`, the throwaway file journals in memory without fsync: the same
        locking and rollback, without a journal file created and deleted per transaction."""
        pragmas = [f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}"]
        if not durable:
            pragmas += ["PRAGMA journal_mode=MEMORY", "PRAGMA synchronous=OFF"]

        @sa.event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            for pragma in pragmas:
                cursor.execute(pragma)
            cursor.close()

        @sa.event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN")

    def schema_fingerprint(self, conn: Connection) -> str | None:
        """sqlite_master holds every object's CREATE statement."""
        rows = conn.exec_driver_sql("SELECT type, name, tbl_name, sql FROM sqlite_master")
        return "\n".join(sorted(repr(tuple(r)) for r in rows.fetchall()))

    def server_info(self, conn: Connection) -> ServerInfo:
        version = sqlite3.sqlite_version
        return ServerInfo("SQLite", sqlite3.sqlite_version_info, version)

    statement_timeout_setting = "a progress handler"
    PROGRESS_STEPS = 10_000
    """SQLite VM instructions between two looks at the clock."""

    def bound_engine(self, engine: Engine, bounds: Bounds) -> None:
        """A progress handler interrupts a statement that runs past its deadline, set before
        each statement (SQLite has no server-side statement timeout)."""
        seconds = bounds.statement_timeout
        if seconds is None:
            return

        @sa.event.listens_for(engine, "connect")
        def _install(dbapi_connection: Any, record: Any) -> None:
            info = record.info
            info["dbmatrix_deadline"] = float("inf")
            _set_progress_handler(dbapi_connection,
                                  lambda: time.monotonic() > info["dbmatrix_deadline"],
                                  self.PROGRESS_STEPS)

        @sa.event.listens_for(engine, "before_cursor_execute")
        def _deadline(conn: Connection, *_args: Any) -> None:
            conn.connection.info["dbmatrix_deadline"] = time.monotonic() + seconds

    def bound_locks(self, conn: Connection, seconds: float) -> None:
        conn.exec_driver_sql(f"PRAGMA busy_timeout = {max(1, round(seconds * 1000))}")

    def is_statement_timeout(self, orig: BaseException) -> bool:
        # measured on SQLite 3.40: the progress handler's interruption is
        # sqlite3.OperationalError('interrupted')
        return isinstance(orig, sqlite3.OperationalError) and str(orig) == "interrupted"

    def describe_leak(self, dbapi_connection: Any, probe: Any) -> str:
        return "in a transaction" if dbapi_connection.in_transaction else "idle"


def _set_progress_handler(dbapi_connection: Any, handler: Callable[[], bool], steps: int) -> None:
    """On sqlite3's connection; under aiosqlite in the thread that owns that connection (sqlite3
    refuses a call from another thread), through aiosqlite's queue, awaited on the greenlet
    SQLAlchemy runs this event on."""
    raw = driver_connection(dbapi_connection)
    if isinstance(raw, sqlite3.Connection):
        raw.set_progress_handler(handler, steps)
        return
    from sqlalchemy.util import await_only  # only under the asyncio extension

    await_only(raw._execute(raw._conn.set_progress_handler, handler, steps))
