"""MySQL's environment (MariaDB's too: the same variables), and the scratch SQL: a database."""

from __future__ import annotations

from pytest_dbmatrix.backends.base import ServerInfo
from pytest_dbmatrix.backends.environment import (
    Fact,
    Probe,
    ProbeError,
    ScratchDialect,
    case_fact,
    ddl_fact,
    identifiers_fact,
    numbers,
    scalar,
    time_zone_fact,
)
from pytest_dbmatrix.backends.mysql import product_of

WHO_AM_I = "SELECT CURRENT_USER(), DATABASE()"


def _backtick(name: str) -> str:
    return f"`{name}`"


SCRATCH = ScratchDialect(_backtick, "CREATE DATABASE {c}", "DROP DATABASE IF EXISTS {c}",
                         "START TRANSACTION", drop_index="DROP INDEX {i} ON {t}")


def server_info(probe: Probe) -> ServerInfo:
    text = str(scalar(probe, "SELECT VERSION()"))
    return ServerInfo(product_of(text), numbers(text), text.split("-")[0])


def _mysql_case(collation: str) -> bool:
    return collation.endswith(("_bin", "_cs")) or "_as_cs" in collation


def _mysql_encoding(probe: Probe) -> list[Fact]:
    charset, collation = probe.rows("SELECT @@character_set_database, @@collation_database")[0]
    charset, collation = str(charset), str(collation)
    if charset == "utf8mb4":
        encoding = Fact("encoding", "character set", charset, "ok", "database default")
    elif charset in ("utf8", "utf8mb3"):
        encoding = Fact("encoding", "character set", charset, "warn",
                        "database default: 3-byte UTF-8 rejects emoji (error 1366)",
                        "charset-not-utf8mb4")
    else:
        encoding = Fact("encoding", "character set", charset, "block",
                        "database default: not Unicode", "charset-not-utf8mb4")
    return [encoding, Fact("collation", "collation", collation, "info", "database default"),
            case_fact(_mysql_case(collation), collation)]


def _mysql_strict(probe: Probe) -> list[Fact]:
    session, global_ = probe.rows("SELECT @@SESSION.sql_mode, @@GLOBAL.sql_mode")[0]
    session = str(session or "")
    detail = f"session sql_mode '{session}' (global '{global_ or ''}')"
    if "STRICT_TRANS_TABLES" in session or "STRICT_ALL_TABLES" in session:
        return [Fact("strict_mode", "strict values", True, "ok", detail)]
    return [Fact("strict_mode", "strict values", False, "block", detail, "sql-mode-non-strict")]


def _mysql_foreign_keys(probe: Probe) -> list[Fact]:
    engine, checks = probe.rows("SELECT @@default_storage_engine, @@foreign_key_checks")[0]
    detail = f"default_storage_engine {engine}, foreign_key_checks {checks}"
    if str(engine).lower() != "innodb":
        return [Fact("foreign_keys", "foreign keys enforced", False, "block", detail,
                     "storage-engine-no-fk")]
    if not int(checks):
        return [Fact("foreign_keys", "foreign keys enforced", False, "block", detail,
                     "foreign-key-checks-off")]
    return [Fact("foreign_keys", "foreign keys enforced", True, "ok", detail)]


def _mysql_isolation(probe: Probe) -> str:
    for variable in ("@@transaction_isolation", "@@tx_isolation"):
        try:
            return str(scalar(probe, f"SELECT {variable}")).replace("-", " ")
        except ProbeError:
            continue
    raise ProbeError("neither @@transaction_isolation nor @@tx_isolation can be read")


def _mysql_rest(probe: Probe) -> list[Fact]:
    zone, system = probe.rows("SELECT @@time_zone, @@system_time_zone")[0]
    lower = scalar(probe, "SELECT @@lower_case_table_names")
    effective = str(system) if str(zone) == "SYSTEM" else str(zone)
    return [
        time_zone_fact(effective, f"time_zone {zone}, system_time_zone {system}"),
        Fact("isolation", "default isolation", _mysql_isolation(probe), "info",
             "session transaction isolation"),
        ddl_fact(False, "every DDL statement commits implicitly"),
        identifiers_fact(64, f"64 characters; lower_case_table_names={lower}"),
    ]


GATHERERS = (_mysql_encoding, _mysql_strict, _mysql_foreign_keys, _mysql_rest)
