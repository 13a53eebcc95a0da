"""PostgreSQL's environment as the doctor and the header read it; its scratch SQL."""

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
    time_zone_fact,
)

WHO_AM_I = "SELECT current_user, current_database()"
SCRATCH = ScratchDialect(double_quoted, "CREATE SCHEMA {c}", "DROP SCHEMA IF EXISTS {c} CASCADE",
                         "BEGIN")


def server_info(probe: Probe) -> ServerInfo:
    text = str(scalar(probe, "SHOW server_version")).split()[0]
    return ServerInfo("PostgreSQL", numbers(text), text)


def _pg_encoding(probe: Probe) -> list[Fact]:
    encoding = str(scalar(probe, "SHOW server_encoding"))
    collate, ctype = probe.rows(
        "SELECT datcollate, datctype FROM pg_database WHERE datname = current_database()")[0]
    utf8 = encoding.upper() in ("UTF8", "UTF-8")
    equal = bool(scalar(probe, "SELECT 'a' = 'A'"))
    return [
        Fact("encoding", "character set", encoding, "ok" if utf8 else "block",
             "server_encoding", None if utf8 else "encoding-not-utf8"),
        Fact("collation", "collation", str(collate), "info", f"LC_CTYPE {ctype}"),
        case_fact(not equal, str(collate)),
    ]


def _pg_rest(probe: Probe) -> list[Fact]:
    limit = int(scalar(probe, "SHOW max_identifier_length"))
    return [
        Fact("strict_mode", "strict values", True, "ok",
             "PostgreSQL always rejects over-long and invalid values"),
        Fact("foreign_keys", "foreign keys enforced", True, "ok", "always enforced"),
        time_zone_fact(str(scalar(probe, "SHOW TimeZone")), "TimeZone setting"),
        Fact("isolation", "default isolation", str(
            scalar(probe, "SHOW default_transaction_isolation")).upper(), "info",
            "default_transaction_isolation"),
        ddl_fact(True, "PostgreSQL runs DDL inside transactions"),
        identifiers_fact(limit, "longer names are truncated or rejected (max_identifier_length)"),
    ]


GATHERERS = (_pg_encoding, _pg_rest)
