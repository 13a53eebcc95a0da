"""Environment facts of a database (charset, strictness, FKs, time zone, ...), one gatherer
per family, read through a `Probe` so that recorded answers can stand in for a server."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any, Literal, NamedTuple, Protocol

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection

from pytest_dbmatrix.backends import LIVE, for_dialect
from pytest_dbmatrix.backends.base import ServerInfo

Verdict = Literal["ok", "info", "warn", "block"]
VERDICTS: tuple[Verdict, ...] = ("ok", "info", "warn", "block")
MIN_VERSIONS: dict[str, tuple[int, ...]] = {
    "PostgreSQL": (13,),
    "MySQL": (8, 0),
    "MariaDB": (10, 6),
    "SQLite": (3, 25),
    "SQL Server": (14,),
}
"""The oldest server of each product still maintained upstream and supported by SQLAlchemy 2."""
UTC_NAMES = frozenset({"utc", "etc/utc", "gmt", "etc/gmt", "z", "+00:00", "zulu", "universal"})
MSSQL_ISOLATION = {1: "READ UNCOMMITTED", 2: "READ COMMITTED", 3: "REPEATABLE READ",
                   4: "SERIALIZABLE", 5: "SNAPSHOT"}


class ProbeError(Exception):
    """A statement failed; the message is one normalised line without secrets."""


class Probe(Protocol):
    """Runs one SQL statement and returns its rows ([] when it returns none)."""

    def rows(self, sql: str) -> list[tuple[Any, ...]]: ...


class ConnectionProbe:
    """A `Probe` over a SQLAlchemy connection; a failed statement never poisons the next."""

    def __init__(self, conn: Connection, secrets: Iterable[str] = ()) -> None:
        self.conn = conn
        self.secrets = tuple(secrets)

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        try:
            result = self.conn.exec_driver_sql(sql)
            return [tuple(r) for r in result] if result.returns_rows else []
        except sa_exc.DBAPIError as exc:
            if self.conn.in_transaction():
                self.conn.rollback()
            from pytest_dbmatrix.errors import normalise  # only when a probe fails

            raise ProbeError(normalise(exc, self.secrets).line) from None


def scalar(probe: Probe, sql: str) -> Any:
    rows = probe.rows(sql)
    return rows[0][0] if rows and rows[0] else None


class Fact(NamedTuple):
    """One checked property: its value, a verdict, and the finding (hint) when not ok."""

    key: str
    label: str
    value: Any
    verdict: Verdict = "info"
    detail: str = ""
    finding: str | None = None

    @property
    def hint(self) -> str | None:
        if not self.finding:
            return None
        from pytest_dbmatrix.catalogue import hint_for  # the catalogue, only for a finding

        return hint_for(self.finding)

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "label": self.label, "value": self.value,
                "verdict": self.verdict, "detail": self.detail, "finding": self.finding,
                "hint": self.hint}


def family_kind(dialect: str) -> str:
    """The gatherer family of a dialect name: mariadb reads like mysql."""
    family = for_dialect(dialect)
    kind = family.kind if family else dialect
    return "mysql" if kind == "mariadb" else kind


# --- server and version ---------------------------------------------------------------------

def _numbers(text: str) -> tuple[int, ...]:
    match = re.match(r"\d+(?:\.\d+)*", text.strip())
    return tuple(int(p) for p in match.group(0).split(".")) if match else ()


def server_info(probe: Probe, dialect: str) -> ServerInfo:
    """Product and version as the server states them."""
    kind = family_kind(dialect)
    if kind == "postgresql":
        text = str(scalar(probe, "SHOW server_version")).split()[0]
        return ServerInfo("PostgreSQL", _numbers(text), text)
    if kind == "mysql":
        text = str(scalar(probe, "SELECT VERSION()"))
        product = "MariaDB" if "mariadb" in text.lower() else "MySQL"
        return ServerInfo(product, _numbers(text), text.split("-")[0])
    if kind == "mssql":
        text = str(scalar(probe, "SELECT CAST(SERVERPROPERTY('ProductVersion') AS VARCHAR(32))"))
        return ServerInfo("SQL Server", _numbers(text), text)
    text = str(scalar(probe, "SELECT sqlite_version()"))
    return ServerInfo("SQLite", _numbers(text), text)


def version_fact(info: ServerInfo, minimum: tuple[int, ...] | None = None) -> Fact:
    least = minimum or MIN_VERSIONS.get(info.product, ())
    wanted = ".".join(map(str, least))
    if not least or info.version >= least:
        return Fact("version_supported", "supported version", True, "ok",
                    f"{info.label} >= {wanted}" if least else info.label)
    return Fact("version_supported", "supported version", False, "block",
                f"{info.label} is older than {info.product} {wanted}", "version-unsupported")


# --- per-family gatherers: each returns the facts of one topic ------------------------------

Gatherer = Callable[[Probe], list[Fact]]


def _case(case_sensitive: bool, collation: str) -> Fact:
    if case_sensitive:
        return Fact("case_sensitive", "case-sensitive compare", True, "ok",
                    f"'a' = 'A' is false under {collation}")
    return Fact("case_sensitive", "case-sensitive compare", False, "warn",
                f"'a' = 'A' is true under {collation}", "collation-case-insensitive")


def _time_zone(name: str, source: str) -> Fact:
    if name.strip().lower() in UTC_NAMES:
        return Fact("time_zone", "time zone", name, "ok", source)
    return Fact("time_zone", "time zone", name, "warn", source, "time-zone-not-utc")


def _ddl(transactional: bool, how: str) -> Fact:
    if transactional:
        return Fact("transactional_ddl", "transactional DDL", True, "ok", how)
    return Fact("transactional_ddl", "transactional DDL", False, "warn", how,
                "non-transactional-ddl")


def _identifiers(limit: int | None, detail: str) -> Fact:
    return Fact("identifier_limit", "identifier length limit", limit, "info", detail)


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
        _case(not equal, str(collate)),
    ]


def _pg_rest(probe: Probe) -> list[Fact]:
    limit = int(scalar(probe, "SHOW max_identifier_length"))
    return [
        Fact("strict_mode", "strict values", True, "ok",
             "PostgreSQL always rejects over-long and invalid values"),
        Fact("foreign_keys", "foreign keys enforced", True, "ok", "always enforced"),
        _time_zone(str(scalar(probe, "SHOW TimeZone")), "TimeZone setting"),
        Fact("isolation", "default isolation", str(
            scalar(probe, "SHOW default_transaction_isolation")).upper(), "info",
            "default_transaction_isolation"),
        _ddl(True, "PostgreSQL runs DDL inside transactions"),
        _identifiers(limit, "longer names are truncated or rejected (max_identifier_length)"),
    ]


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
            _case(_mysql_case(collation), collation)]


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
        _time_zone(effective, f"time_zone {zone}, system_time_zone {system}"),
        Fact("isolation", "default isolation", _mysql_isolation(probe), "info",
             "session transaction isolation"),
        _ddl(False, "every DDL statement commits implicitly"),
        _identifiers(64, f"64 characters; lower_case_table_names={lower}"),
    ]


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
            _case(sensitive, collation)]


def _mssql_rest(probe: Probe) -> list[Fact]:
    warnings = scalar(probe, "SELECT CAST(SESSIONPROPERTY('ANSI_WARNINGS') AS INT)")
    level = scalar(probe, "SELECT transaction_isolation_level FROM sys.dm_exec_sessions "
                          "WHERE session_id = @@SPID")
    rcsi = scalar(probe, "SELECT is_read_committed_snapshot_on FROM sys.databases "
                         "WHERE name = DB_NAME()")
    offset = str(scalar(probe, "SELECT DATENAME(TZOFFSET, SYSDATETIMEOFFSET())"))
    isolation = MSSQL_ISOLATION.get(int(level or 0), str(level))
    strict = Fact("strict_mode", "strict values", bool(warnings), "ok" if warnings else "block",
                  f"ANSI_WARNINGS {'ON' if warnings else 'OFF'}",
                  None if warnings else "mssql-ansi-warnings-off")
    return [
        strict,
        Fact("foreign_keys", "foreign keys enforced", True, "ok", "always enforced"),
        _time_zone(offset, "server UTC offset"),
        Fact("isolation", "default isolation", isolation, "info",
             f"READ_COMMITTED_SNAPSHOT {'ON' if rcsi else 'OFF'}"),
        _ddl(True, "SQL Server runs DDL inside transactions"),
        _identifiers(128, "128 characters"),
    ]


def _sqlite_all(probe: Probe) -> list[Fact]:
    encoding = str(scalar(probe, "PRAGMA encoding"))
    foreign_keys = bool(scalar(probe, "PRAGMA foreign_keys"))
    fk = Fact("foreign_keys", "foreign keys enforced", foreign_keys,
              "ok" if foreign_keys else "warn", f"PRAGMA foreign_keys={int(foreign_keys)}",
              None if foreign_keys else "sqlite-fk-pragma-off")
    return [
        Fact("encoding", "character set", encoding, "ok", "PRAGMA encoding"),
        Fact("collation", "collation", "BINARY", "info", "SQLite default collation"),
        _case(True, "BINARY"),
        Fact("strict_mode", "strict values", False, "info",
             "type affinity: lengths and types are not enforced", "sqlite-not-strict"),
        fk,
        Fact("time_zone", "time zone", "UTC", "ok", "CURRENT_TIMESTAMP is UTC"),
        Fact("isolation", "default isolation", "SERIALIZABLE", "info", "one writer at a time"),
        _ddl(True, "SQLite runs DDL inside transactions (pysqlite needs an explicit BEGIN)"),
        _identifiers(None, "no practical limit"),
    ]


GATHERERS: dict[str, tuple[Gatherer, ...]] = {
    "postgresql": (_pg_encoding, _pg_rest),
    "mysql": (_mysql_encoding, _mysql_strict, _mysql_foreign_keys, _mysql_rest),
    "mssql": (_mssql_collation, _mssql_rest),
    "sqlite": (_sqlite_all,),
}


def environment(probe: Probe, dialect: str, info: ServerInfo | None = None,
                minimum: tuple[int, ...] | None = None) -> list[Fact]:
    """Every fact of the family; a topic that cannot be read becomes a `warn` fact."""
    kind = family_kind(dialect)
    if kind not in GATHERERS:
        raise ValueError(f"no environment facts for dialect {dialect!r}: known are "
                         f"{', '.join(LIVE)}")
    found: list[Fact] = []
    try:
        info = info or server_info(probe, dialect)
        found += [Fact("server", "server", info.label, "info", info.product),
                  version_fact(info, minimum)]
    except ProbeError as exc:
        found.append(Fact("server", "server", None, "warn", f"cannot be read: {exc}"))
    for gather in GATHERERS[kind]:
        try:
            found += gather(probe)
        except (ProbeError, IndexError, TypeError, ValueError) as exc:
            topic = gather.__name__.strip("_").replace("_", " ")
            found.append(Fact(f"unreadable_{gather.__name__.strip('_')}", topic, None, "warn",
                              f"cannot be read: {exc}"))
    return found


def connection_environment(conn: Connection, info: ServerInfo | None = None,
                           secrets: Iterable[str] = ()) -> dict[str, dict[str, Any]]:
    """The facts of a live connection, keyed by fact key: what reports show per backend."""
    probe = ConnectionProbe(conn, secrets)
    return {f.key: f.as_dict() for f in environment(probe, conn.dialect.name, info)}


def summary_line(environment: dict[str, dict[str, Any]]) -> str:
    """One line of `label value` pairs for the pytest header."""
    parts = []
    for fact in environment.values():
        if fact["key"] in ("server", "version_supported"):
            continue
        value = fact["value"]
        shown = "yes" if value is True else "no" if value is False else value
        parts.append(f"{fact['label']} {shown if shown is not None else 'n/a'}")
    return ", ".join(parts)


def problem_lines(environment: dict[str, dict[str, Any]]) -> list[str]:
    """A line per warn/block fact: what and the fix."""
    return [f"{f['verdict']}: {f['label']}: {f['detail']}" + (f"; fix: {f['hint']}"
                                                               if f.get("hint") else "")
            for f in environment.values() if f["verdict"] in ("warn", "block")]
