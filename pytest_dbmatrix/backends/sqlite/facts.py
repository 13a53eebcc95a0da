"""SQLite's environment: pragmas and what it never enforces; the doctor's DDL runs in memory."""

from __future__ import annotations

from pytest_dbmatrix.backends.base import ServerInfo
from pytest_dbmatrix.backends.environment import (
    Fact,
    Probe,
    ScratchDialect,
    case_fact,
    ddl_fact,
    double_quoted,
    identifiers_fact,
    numbers,
    scalar,
)

WHO_AM_I = None
SCRATCH = ScratchDialect(double_quoted, None, None, "BEGIN")


def server_info(probe: Probe) -> ServerInfo:
    text = str(scalar(probe, "SELECT sqlite_version()"))
    return ServerInfo("SQLite", numbers(text), text)


def _sqlite_all(probe: Probe) -> list[Fact]:
    encoding = str(scalar(probe, "PRAGMA encoding"))
    foreign_keys = bool(scalar(probe, "PRAGMA foreign_keys"))
    fk = Fact("foreign_keys", "foreign keys enforced", foreign_keys,
              "ok" if foreign_keys else "warn", f"PRAGMA foreign_keys={int(foreign_keys)}",
              None if foreign_keys else "sqlite-fk-pragma-off")
    return [
        Fact("encoding", "character set", encoding, "ok", "PRAGMA encoding"),
        Fact("collation", "collation", "BINARY", "info", "SQLite default collation"),
        case_fact(True, "BINARY"),
        Fact("strict_mode", "strict values", False, "info",
             "type affinity: lengths and types are not enforced", "sqlite-not-strict"),
        fk,
        Fact("time_zone", "time zone", "UTC", "ok", "CURRENT_TIMESTAMP is UTC"),
        Fact("isolation", "default isolation", "SERIALIZABLE", "info", "one writer at a time"),
        ddl_fact(True, "SQLite runs DDL inside transactions (pysqlite needs an explicit BEGIN)"),
        identifiers_fact(None, "no practical limit"),
    ]


GATHERERS = (_sqlite_all,)
