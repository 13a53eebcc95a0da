"""SQL Server's environment (collation, ANSI_WARNINGS, isolation) and its scratch SQL."""

from __future__ import annotations

from pytest_dbmatrix.backends.base import ServerInfo
from pytest_dbmatrix.backends.environment import (
    Fact,
    Probe,
    ScratchDialect,
    case_fact,
    ddl_fact,
    identifiers_fact,
    numbers,
    scalar,
    time_zone_fact,
)

WHO_AM_I = "SELECT SUSER_SNAME(), DB_NAME()"
ISOLATION = {1: "READ UNCOMMITTED", 2: "READ COMMITTED", 3: "REPEATABLE READ",
             4: "SERIALIZABLE", 5: "SNAPSHOT"}


def _bracket(name: str) -> str:
    return f"[{name}]"


SCRATCH = ScratchDialect(_bracket, "CREATE SCHEMA {c}", "DROP SCHEMA IF EXISTS {c}",
                         "BEGIN TRANSACTION", add_column="ALTER TABLE {t} ADD note INT NULL",
                         drop_index="DROP INDEX {i} ON {t}")


def server_info(probe: Probe) -> ServerInfo:
    text = str(scalar(probe, "SELECT CAST(SERVERPROPERTY('ProductVersion') AS VARCHAR(32))"))
    return ServerInfo("SQL Server", numbers(text), text)


def _mssql_collation(probe: Probe) -> list[Fact]:
    collation = str(scalar(probe, "SELECT CAST(DATABASEPROPERTYEX(DB_NAME(), 'Collation') "
                                  "AS NVARCHAR(128))"))
    utf8 = collation.upper().endswith("_UTF8")
    encoding = Fact("encoding", "character set", "UTF-8" if utf8 else "code page (VARCHAR)",
                    "ok" if utf8 else "warn",
                    "NVARCHAR is UTF-16 either way; VARCHAR follows the collation",
                    None if utf8 else "mssql-varchar-codepage")
    sensitive = "_CS" in collation.upper() or "_BIN" in collation.upper()
    return [encoding, Fact("collation", "collation", collation, "info", "database default"),
            case_fact(sensitive, collation)]


def _mssql_rest(probe: Probe) -> list[Fact]:
    warnings = scalar(probe, "SELECT CAST(SESSIONPROPERTY('ANSI_WARNINGS') AS INT)")
    level = scalar(probe, "SELECT transaction_isolation_level FROM sys.dm_exec_sessions "
                          "WHERE session_id = @@SPID")
    rcsi = scalar(probe, "SELECT is_read_committed_snapshot_on FROM sys.databases "
                         "WHERE name = DB_NAME()")
    offset = str(scalar(probe, "SELECT DATENAME(TZOFFSET, SYSDATETIMEOFFSET())"))
    isolation = ISOLATION.get(int(level or 0), str(level))
    strict = Fact("strict_mode", "strict values", bool(warnings), "ok" if warnings else "block",
                  f"ANSI_WARNINGS {'ON' if warnings else 'OFF'}",
                  None if warnings else "mssql-ansi-warnings-off")
    return [
        strict,
        Fact("foreign_keys", "foreign keys enforced", True, "ok", "always enforced"),
        time_zone_fact(offset, "server UTC offset"),
        Fact("isolation", "default isolation", isolation, "info",
             f"READ_COMMITTED_SNAPSHOT {'ON' if rcsi else 'OFF'}"),
        ddl_fact(True, "SQL Server runs DDL inside transactions"),
        identifiers_fact(128, "128 characters"),
    ]


GATHERERS = (_mssql_collation, _mssql_rest)
