"""PostgreSQL: transactional DDL, strict types, databases created from the given URL."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine

from pytest_dbmatrix.backends.base import (
    Backend,
    Bounds,
    Capabilities,
    ServerInfo,
    StaticRules,
    checked_identifier,
    driver_connection,
    keepalive,
    numeric_version,
    transport_socket,
)


class PostgreSQLBackend(Backend):
    kind = "postgresql"
    default_driver = "postgresql+psycopg2"
    driver_module = "psycopg2"
    extra = "postgresql"
    default_image = "postgres:16"
    product = "PostgreSQL"
    min_version = (13,)
    async_drivers = ("asyncpg", "psycopg")
    sync_drivers = ("psycopg2", "psycopg")
    deferrable_foreign_keys = True
    reflects_enum_types = True
    static_dialect_class = "sqlalchemy.dialects.postgresql.psycopg2:PGDialect_psycopg2"
    static_server_version = (15,)
    static_rules = StaticRules(identifier_limit=63, native_enum=True, native_boolean=True,
                               native_uuid=True)
    bind_errors = (*Backend.bind_errors, "could not bind")
    capabilities = Capabilities(
        transactional_ddl=True,
        enforces_foreign_keys=True,
        enforces_check=True,
        enforces_length=True,
        case_sensitive_compare=True,
        keeps_timezone=True,
        insert_returning=True,
        update_returning=True,
        max_identifier_length=63,
        notes=("identifiers over 63 characters are truncated",),
    )

    def connect_args(self, url: URL, timeout: float) -> dict[str, Any]:
        if url.get_driver_name() in ("psycopg2", "psycopg"):
            return {"connect_timeout": max(1, round(timeout))}
        if url.get_driver_name() == "asyncpg":
            return {"timeout": timeout}
        return {}

    def server_info(self, conn: Connection) -> ServerInfo:
        text = str(conn.exec_driver_sql("SHOW server_version").scalar())
        return ServerInfo("PostgreSQL", numeric_version(conn), text.split()[0])

    def schema_fingerprint(self, conn: Connection) -> str | None:
        """One catalog query (fingerprint.py): a few ms where a reflection takes 50-90. No
        table_fingerprints: reflecting one table costs as many catalog queries as all."""
        from pytest_dbmatrix.backends.postgresql.fingerprint import statement

        rows = conn.execute(statement(conn)).scalars().all()
        return "\n".join(sorted(str(r) for r in rows))

    def changed_kinds(self, before: str, after: str) -> frozenset[str] | None:
        from pytest_dbmatrix.backends.postgresql.fingerprint import changed_kinds

        return changed_kinds(before, after)

    def changed_tables(self, before: str, after: str) -> frozenset[str] | None:
        from pytest_dbmatrix.backends.postgresql.fingerprint import changed_tables

        return changed_tables(before, after)

    def list_databases(self, conn: Connection) -> list[str]:
        rows = conn.execute(sa.text("SELECT datname FROM pg_database"))
        return [r[0] for r in rows]

    def create_database(self, conn: Connection, name: str) -> None:
        conn.exec_driver_sql(f'CREATE DATABASE "{checked_identifier(name)}"')

    def relax_durability(self, conn: Connection, name: str) -> None:
        """synchronous_commit off for every session of that database (env.py's own engine
        too): a commit no longer waits for the WAL flush, visibility is unchanged."""
        conn.exec_driver_sql(
            f'ALTER DATABASE "{checked_identifier(name)}" SET synchronous_commit = off')

    def drop_database(self, conn: Connection, name: str) -> None:
        name = checked_identifier(name)
        force = " WITH (FORCE)" if (conn.dialect.server_version_info or (0,)) >= (13,) else ""
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"{force}')

    def drop_tables(self, conn: Connection, names: Sequence[str]) -> None:
        """CASCADE: views and foreign keys of tables outside the models do not hold it up."""
        for name in names:
            conn.exec_driver_sql(f"DROP TABLE {name} CASCADE")

    statement_timeout_setting = "statement_timeout"
    LOCKS = sa.text(
        "SELECT DISTINCT c.relname FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE l.pid = :pid AND l.granted "
        "AND c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
        "ORDER BY 1")
    STATE = sa.text("SELECT state FROM pg_stat_activity WHERE pid = :pid")
    END_SESSIONS = sa.text(
        "SELECT pid, state, pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = :database AND pid <> pg_backend_pid()")
    """Filtered on the run's database in the statement itself: never any other session."""

    def bounded_connect_args(self, url: URL, bounds: Bounds) -> dict[str, Any]:
        """libpq (psycopg2, psycopg): keepalives and tcp_user_timeout bound a dead host, and
        statement_timeout in the startup packet costs no round trip. asyncpg: the setting in
        its server_settings, and a client-side command_timeout of the statement timeout plus
        the dead-host bound (as pymysql's read timeout); its keepalives: `bound_engine`."""
        timeout = bounds.statement_timeout
        if url.get_driver_name() == "asyncpg":
            if timeout is None:
                return {}
            return {"server_settings": {"statement_timeout": f"{max(1, round(timeout * 1000))}"},
                    "command_timeout": timeout + bounds.dead_host_timeout}
        if url.get_driver_name() not in ("psycopg2", "psycopg"):
            return {}
        dead = bounds.dead_host_timeout
        args: dict[str, Any] = {
            "keepalives": 1, "keepalives_idle": max(1, round(dead / 2)),
            "keepalives_interval": max(1, round(dead / 8)), "keepalives_count": 4,
            "tcp_user_timeout": max(1, round(dead * 1000)),
        }
        if timeout is not None:
            given = url.query.get("options", "")
            mine = f"-c statement_timeout={max(1, round(timeout * 1000))}"
            args["options"] = f"{given} {mine}".strip()
        return args

    def bound_engine(self, engine: Engine, bounds: Bounds) -> None:
        """asyncpg has no keepalive settings: set them on its socket."""
        if engine.dialect.driver != "asyncpg":
            return

        @sa.event.listens_for(engine, "connect")
        def _bound(dbapi_connection: Any, _record: Any) -> None:
            raw = driver_connection(dbapi_connection)
            keepalive(transport_socket(raw._transport), bounds.dead_host_timeout)

    def bound_locks(self, conn: Connection, seconds: float) -> None:
        conn.exec_driver_sql(f"SET lock_timeout = '{max(1, round(seconds * 1000))}ms'")

    def is_statement_timeout(self, orig: BaseException) -> bool:
        # measured on PostgreSQL 15: QueryCanceled, SQLSTATE 57014, "canceling statement due
        # to statement timeout" (pgcode on psycopg2 and SQLAlchemy's asyncpg adapter, sqlstate
        # on psycopg 3)
        code = getattr(orig, "pgcode", None) or getattr(orig, "sqlstate", None)
        return code == "57014" and "statement timeout" in str(orig)

    reply_timeout_setting = "asyncpg's command_timeout"

    def is_reply_timeout(self, orig: BaseException, driver: str) -> bool:
        # measured through a stalling proxy: asyncpg's command_timeout raises a bare
        # TimeoutError, which SQLAlchemy's adapter does not wrap
        return driver == "asyncpg" and isinstance(orig, TimeoutError)

    def describe_leak(self, dbapi_connection: Any, probe: Callable[[], Engine]) -> str:
        pid = _backend_pid(dbapi_connection)
        if pid is None:
            return ""
        engine = probe()
        try:
            with engine.connect() as conn:
                state = conn.execute(self.STATE, {"pid": pid}).scalar()
                tables = list(conn.execute(self.LOCKS, {"pid": pid}).scalars())
        finally:
            engine.dispose()
        held = f" holding locks on {', '.join(tables)}" if tables else ""
        if state == "idle in transaction":
            return f"in a transaction{held}"
        return f"{state or 'gone'}{held}"

    def cancel(self, dbapi_connection: Any) -> None:
        """psycopg2 waits in libpq, which retries its poll() on EINTR: a statement waiting for
        a lock would keep Ctrl-C waiting as long. PQcancel (psycopg2 and psycopg's `cancel`)
        is made for another thread; on an idle session it does nothing."""
        cancel = getattr(dbapi_connection, "cancel", None)
        if cancel is not None:
            cancel()

    def end_sessions(self, conn: Connection, database: str) -> list[str]:
        rows = conn.execute(self.END_SESSIONS, {"database": database}).all()
        return [f"pid {pid} ({state})" for pid, state, _ended in rows]


def _backend_pid(dbapi_connection: Any) -> int | None:
    """The server process of a psycopg2 or psycopg connection, known client-side."""
    if hasattr(dbapi_connection, "get_backend_pid"):
        return int(dbapi_connection.get_backend_pid())
    info = getattr(dbapi_connection, "info", None)
    return getattr(info, "backend_pid", None)
