"""MySQL: non-transactional DDL, lengths required on VARCHAR; also served by MariaDB."""

from __future__ import annotations

import errno
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar

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


def product_of(version_text: str) -> str:
    """MariaDB or MySQL, from what a server or its binary says of its version."""
    return "MariaDB" if "mariadb" in version_text.lower() else "MySQL"


class MySQLBackend(Backend):
    kind = "mysql"
    default_driver = "mysql+pymysql"
    driver_module = "pymysql"
    extra = "mysql"
    default_image = "mysql:8.4"
    product = "MySQL"
    min_version = (8, 0)
    bind_errors = (*Backend.bind_errors, "bind on tcp/ip port")
    server_kinds = frozenset({"mysql", "mariadb"})
    async_drivers = ("aiomysql", "asyncmy")
    sync_drivers = ("pymysql",)
    atomic_statements = True
    alter_needs_existing_type = ("nullable", "new_column_name", "comment")
    alter_type_resets_nullable = True
    model_match_noise = (("modify_type", "LONGTEXT", "JSON"),)  # JSON is reflected as LONGTEXT
    static_dialect_class = "sqlalchemy.dialects.mysql.pymysql:MySQLDialect_pymysql"
    static_server_version: ClassVar[tuple[int, ...]] = (8, 0, 36)
    static_rules = StaticRules(identifier_limit=64, key_bytes=3072, primary_key_bytes=3072,
                               char_bytes=4, unicode_bytes=4, lob_key_category="text-in-key",
                               rejects_deferrable=True, native_enum=True)
    capabilities = Capabilities(
        transactional_ddl=False,
        enforces_foreign_keys=True,
        enforces_check=True,
        enforces_length=True,
        case_sensitive_compare=False,
        keeps_timezone=False,
        insert_returning=False,
        update_returning=False,
        max_identifier_length=64,
        notes=(
            "DDL commits implicitly: a test that runs DDL cannot be rolled back",
            "CHECK constraints are ignored before 8.0.16",
        ),
    )

    def connect_args(self, url: URL, timeout: float) -> dict[str, Any]:
        seconds = max(1, round(timeout))
        if url.get_driver_name() == "pymysql":  # it awaits the server's greeting with read_timeout
            return {"connect_timeout": seconds, "read_timeout": seconds}
        if url.get_driver_name() in ("mysqldb", "aiomysql", "asyncmy"):
            return {"connect_timeout": seconds}
        return {}

    def prepare_engine(self, engine: Engine, *, foreign_keys: bool, durable: bool = False) -> None:
        """pymysql: once connected, lift the handshake's read timeout so long queries can run."""
        if engine.dialect.driver != "pymysql":
            return

        @sa.event.listens_for(engine, "connect")
        def _lift_read_timeout(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection._read_timeout = None

    def engine_options(self, url: URL) -> dict[str, Any]:
        return {"pool_pre_ping": True}

    def server_info(self, conn: Connection) -> ServerInfo:
        text = str(conn.exec_driver_sql("SELECT VERSION()").scalar())
        return ServerInfo(product_of(text), numeric_version(conn), text.split("-")[0])

    def describe_dialect(self, url: URL, server: ServerInfo) -> str | None:
        if server.product.lower() != self.kind:
            return f"{url.get_backend_name()} dialect against a {server.product} server"
        return None

    def raw_table_names(self, dbapi_connection: Any) -> set[str]:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SHOW TABLES")
            return {row[0] for row in cursor.fetchall()}
        finally:
            cursor.close()

    @contextmanager
    def _foreign_keys_unchecked(self, conn: Connection) -> Iterator[None]:
        """Drop tables in any order inside this block."""
        conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS=0")
        yield
        conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS=1")

    def list_databases(self, conn: Connection) -> list[str]:
        return [r[0] for r in conn.exec_driver_sql("SHOW DATABASES")]

    def create_database(self, conn: Connection, name: str) -> None:
        name = checked_identifier(name)
        conn.exec_driver_sql(
            f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"
        )

    def drop_database(self, conn: Connection, name: str) -> None:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{checked_identifier(name)}`")

    def drop_tables(self, conn: Connection, names: Sequence[str]) -> None:
        """One statement with foreign key checks off: each DDL statement commits and is slow."""
        with self._foreign_keys_unchecked(conn):
            conn.exec_driver_sql(f"DROP TABLE {', '.join(names)}")

    statement_timeout_setting = "max_statement_time (MariaDB) / MAX_EXECUTION_TIME (MySQL)"
    STATEMENT_TIMEOUT_CODES = frozenset({1969, 3024})
    """Measured on MariaDB 10.11: 1969 'Query execution was interrupted (max_statement_time
    exceeded)'. 3024 is MySQL 8's MAX_EXECUTION_TIME error (documented, not measured here)."""
    TRANSACTION = sa.text("SELECT trx_rows_locked, trx_tables_locked FROM "
                          "information_schema.innodb_trx WHERE trx_mysql_thread_id = :id")
    SESSIONS = sa.text("SELECT id, command FROM information_schema.processlist "
                       "WHERE db = :database AND id <> CONNECTION_ID()")
    """Only processlist rows whose db is the run's database: never any other session."""
    UNKNOWN_THREAD = 1094

    def bound_engine(self, engine: Engine, bounds: Bounds) -> None:
        """The server's statement timeout per connection (MariaDB and MySQL name it
        differently); a dead host: TCP keepalives on every driver's socket, pymysql's
        read/write timeouts, and a read timeout of our own on aiomysql's stream (asyncmy reads
        in compiled code: a peer that keeps the TCP connection but stops answering is not
        bounded there)."""
        driver = engine.dialect.driver
        if driver not in ("pymysql", "aiomysql", "asyncmy"):
            return

        @sa.event.listens_for(engine, "connect")
        def _bound(dbapi_connection: Any, _record: Any) -> None:
            dead, raw = bounds.dead_host_timeout, driver_connection(dbapi_connection)
            keepalive(_socket_of(driver, raw), dead)
            if driver == "pymysql":
                raw._write_timeout = dead
                if bounds.statement_timeout is not None:  # a reply may take that long
                    raw._read_timeout = bounds.statement_timeout + dead
            elif driver == "aiomysql" and bounds.statement_timeout is not None:
                raw._reader = TimedReader(raw._reader, bounds.statement_timeout + dead)
            if bounds.statement_timeout is not None:
                cursor = dbapi_connection.cursor()
                cursor.execute(_statement_timeout_sql(raw, bounds.statement_timeout))
                cursor.close()

    def bound_locks(self, conn: Connection, seconds: float) -> None:
        whole = max(1, round(seconds))  # both are whole seconds
        conn.exec_driver_sql(f"SET SESSION lock_wait_timeout = {whole}, "
                             f"innodb_lock_wait_timeout = {whole}")

    def is_statement_timeout(self, orig: BaseException) -> bool:
        args: tuple[Any, ...] = tuple(getattr(orig, "args", ()))
        return bool(args) and args[0] in self.STATEMENT_TIMEOUT_CODES

    def describe_leak(self, dbapi_connection: Any, probe: Callable[[], Engine]) -> str:
        thread = getattr(dbapi_connection, "thread_id", None)
        if thread is None:
            return ""
        engine = probe()
        try:
            with engine.connect() as conn:
                row = conn.execute(self.TRANSACTION, {"id": thread()}).first()
        finally:
            engine.dispose()
        if row is None:
            return "idle"
        rows, tables = row
        return f"in a transaction holding locks ({rows} row(s) locked, {tables} table(s))"

    def end_sessions(self, conn: Connection, database: str) -> list[str]:
        ended = []
        for session, command in conn.execute(self.SESSIONS, {"database": database}).all():
            try:
                conn.exec_driver_sql(f"KILL CONNECTION {int(session)}")
            except sa.exc.DBAPIError as exc:
                # measured on MariaDB 10.11: 1094 "Unknown thread id" when the session ended
                # between the list and the KILL (a connection the interrupted run closed)
                if getattr(exc.orig, "args", (None,))[0] == self.UNKNOWN_THREAD:
                    continue
                raise
            ended.append(f"id {session} ({command})")
        return ended


def _statement_timeout_sql(dbapi_connection: Any, seconds: float) -> str:
    """MariaDB's max_statement_time (seconds, any statement) or MySQL's max_execution_time
    (milliseconds, SELECT only), by the server the connection reached."""
    if "mariadb" in str(dbapi_connection.get_server_info()).lower():
        return f"SET SESSION max_statement_time = {seconds:g}"
    return f"SET SESSION max_execution_time = {max(1, round(seconds * 1000))}"


class TimedReader:
    """aiomysql's StreamReader with a bound on each read: aiomysql has no read timeout, as
    pymysql's read_timeout. A read past it raises OSError(ETIMEDOUT), which aiomysql turns
    into its "Lost connection to MySQL server during query" and closes the connection."""

    def __init__(self, reader: Any, seconds: float) -> None:
        from asyncio import wait_for  # only under aiomysql

        self._reader, self._seconds, self._wait_for = reader, seconds, wait_for

    async def readexactly(self, n: int) -> bytes:
        try:
            data: bytes = await self._wait_for(self._reader.readexactly(n), self._seconds)
        except TimeoutError as exc:
            if exc.errno is not None:  # the socket's own ETIMEDOUT (TCP_USER_TIMEOUT)
                raise
            raise OSError(errno.ETIMEDOUT, f"no reply within {self._seconds:g}s") from None
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._reader, name)


def _socket_of(driver: str, raw: Any) -> Any:
    """The socket of a pymysql, aiomysql or asyncmy connection."""
    if driver == "pymysql":
        return raw._sock
    if driver == "aiomysql":
        return transport_socket(raw._writer.transport if raw._writer else None)
    return transport_socket(raw._transport)
