"""PostgreSQL: transactional DDL, strict types, databases created from the given URL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection

from pytest_dbmatrix.backends.base import (
    Backend,
    Capabilities,
    ServerInfo,
    StaticRules,
    checked_identifier,
    numeric_version,
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

    def list_databases(self, conn: Connection) -> list[str]:
        rows = conn.execute(sa.text("SELECT datname FROM pg_database"))
        return [r[0] for r in rows]

    def create_database(self, conn: Connection, name: str) -> None:
        conn.exec_driver_sql(f'CREATE DATABASE "{checked_identifier(name)}"')

    def drop_database(self, conn: Connection, name: str) -> None:
        name = checked_identifier(name)
        force = " WITH (FORCE)" if (conn.dialect.server_version_info or (0,)) >= (13,) else ""
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"{force}')

    def drop_tables(self, conn: Connection, names: Sequence[str]) -> None:
        """CASCADE: views and foreign keys of tables outside the models do not hold it up."""
        for name in names:
            conn.exec_driver_sql(f"DROP TABLE {name} CASCADE")
