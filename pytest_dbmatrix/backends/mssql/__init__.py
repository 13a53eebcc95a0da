"""SQL Server: no database in a fresh server, TLS with self-signed certificates, 128-char names."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import URL, Connection

from pytest_dbmatrix.backends.base import (
    Backend,
    Capabilities,
    ServerInfo,
    StaticRules,
    checked_identifier,
)

ODBC_DRIVERS = ("ODBC Driver 18 for SQL Server", "ODBC Driver 17 for SQL Server", "FreeTDS")


class MSSQLBackend(Backend):
    kind = "mssql"
    default_driver = "mssql+pyodbc"
    driver_module = "pyodbc"
    extra = "mssql"
    default_image = "mcr.microsoft.com/mssql/server:2022-latest"
    product = "SQL Server"
    min_version = (14,)
    async_drivers = ("aioodbc",)
    sync_drivers = ("pyodbc",)
    alter_needs_existing_type = ("nullable",)
    static_dialect_class = "sqlalchemy.dialects.mssql.base:MSDialect"
    static_server_version = (16,)
    static_rules = StaticRules(identifier_limit=128, key_bytes=1700, primary_key_bytes=900,
                               unicode_bytes=2, lob_key_category="mssql-max-key",
                               rejects_deferrable=True, bit_boolean=True,
                               one_null_per_unique=True, cascade_paths_limited=True,
                               native_uuid=True)
    capabilities = Capabilities(
        transactional_ddl=True,
        enforces_foreign_keys=True,
        enforces_check=True,
        enforces_length=True,
        case_sensitive_compare=False,
        keeps_timezone=False,
        insert_returning=True,
        update_returning=True,
        max_identifier_length=128,
        notes=("VARCHAR loses non-Latin text; use Unicode", "at most 2100 parameters"),
    )

    def connect_args(self, url: URL, timeout: float) -> dict[str, Any]:
        if url.get_driver_name() in ("pyodbc", "aioodbc"):
            return {"timeout": max(1, round(timeout))}
        if url.get_driver_name() == "pymssql":
            return {"login_timeout": max(1, round(timeout))}
        return {}

    def server_driver(self, name: str) -> tuple[str, dict[str, str]]:
        from pytest_dbmatrix.backends.mssql.containers import mssql_driver

        return mssql_driver(name)

    def with_driver_defaults(self, url: URL, odbc_driver: str | None = None) -> URL:
        """Add the ODBC driver and TrustServerCertificate when the URL does not say."""
        if url.get_driver_name() not in ("pyodbc", "aioodbc"):
            return url
        query = dict(url.query)
        query.setdefault("driver", odbc_driver or ODBC_DRIVERS[0])
        query.setdefault("TrustServerCertificate", "yes")
        return url.set(query=query)

    def server_info(self, conn: Connection) -> ServerInfo:
        query = "SELECT CAST(SERVERPROPERTY('ProductVersion') AS VARCHAR(32))"
        text = str(conn.exec_driver_sql(query).scalar())
        version = tuple(int(p) for p in text.split(".") if p.isdigit())
        return ServerInfo("SQL Server", version, text)

    def list_databases(self, conn: Connection) -> list[str]:
        return [r[0] for r in conn.exec_driver_sql("SELECT name FROM sys.databases")]

    def create_database(self, conn: Connection, name: str) -> None:
        conn.exec_driver_sql(f"CREATE DATABASE [{checked_identifier(name)}]")

    def drop_database(self, conn: Connection, name: str) -> None:
        name = checked_identifier(name)
        conn.exec_driver_sql(
            f"IF DB_ID('{name}') IS NOT NULL BEGIN "
            f"ALTER DATABASE [{name}] SET SINGLE_USER WITH ROLLBACK IMMEDIATE; "
            f"DROP DATABASE [{name}]; END"
        )
