"""`dbmatrix doctor URL`: check a database you do not own before installing into it.

Reads the environment facts (facts.py), measures latency, and tries the DDL an installer needs
in a scratch schema (or database) of its own that it always removes. On SQLite it opens the
file read-only and does the DDL on an in-memory copy. Exit code: 0 fine, 1 blocking problems
found, 2 the database could not be checked at all.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sqlite3
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.request import pathname2url

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, Engine
from sqlalchemy.pool import NullPool, StaticPool

from pytest_dbmatrix.backends import LIVE, Backend, family_for, for_dialect
from pytest_dbmatrix.backends.environment import ScratchDialect
from pytest_dbmatrix.errors import normalise
from pytest_dbmatrix.facts import (
    ConnectionProbe,
    Fact,
    Probe,
    ProbeError,
    Verdict,
    environment,
)
from pytest_dbmatrix.redact import mask_url, scrub

SCHEMA = "pytest-dbmatrix/doctor/1"
URL_ENV = "DBMATRIX_DOCTOR_URL"
LATENCY_WARN_MS = 20.0
ROUND_TRIPS = 5
MEASURED_FINDING = {"transactional_ddl": "non-transactional-ddl",
                    "foreign_keys": "storage-engine-no-fk"}
EXIT_OK, EXIT_BLOCKING, EXIT_UNCHECKED = 0, 1, 2


class Unchecked(Exception):
    """The database cannot be checked at all (bad URL, no driver, no connection)."""


# --- scratch DDL ------------------------------------------------------------------------------

@dataclass
class Scratch:
    """The names of the doctor's own objects: in a scratch container, or prefixed tables."""

    sql: ScratchDialect
    container: str
    in_container: bool

    def name(self, short: str) -> str:
        q = self.sql.quote
        if self.in_container:
            return f"{q(self.container)}.{q(short)}"
        return q(f"{self.container}_{short}")

    def index(self) -> tuple[str, str]:
        """The index name as created, and as `DROP INDEX` names it on PostgreSQL/SQLite."""
        q = self.sql.quote
        if self.in_container:
            return q("ix_code"), f"{q(self.container)}.{q('ix_code')}"
        return q(f"{self.container}_ix"), q(f"{self.container}_ix")


def _steps(s: Scratch) -> list[tuple[str, str]]:
    parent, child = s.name("parent"), s.name("child")
    index, qualified = s.index()
    return [
        ("create table", f"CREATE TABLE {parent} (id INTEGER PRIMARY KEY, code VARCHAR(20))"),
        ("create table with foreign key",
         f"CREATE TABLE {child} (id INTEGER PRIMARY KEY, parent_id INTEGER, "
         f"FOREIGN KEY (parent_id) REFERENCES {parent} (id))"),
        ("create index", f"CREATE INDEX {index} ON {parent} (code)"),
        ("alter table", s.sql.add_column.format(t=parent)),
        ("insert", f"INSERT INTO {parent} (id, code) VALUES (1, 'a')"),
        ("drop index", s.sql.drop_index.format(i=index, qi=qualified, t=parent)),
    ]


def _step(probe: Probe, sql: str) -> str | None:
    """None when the statement worked, else its error line."""
    try:
        probe.rows(sql)
    except ProbeError as exc:
        return str(exc)
    return None


def _foreign_keys_enforced(probe: Probe, s: Scratch) -> bool | None:
    orphan = f"INSERT INTO {s.name('child')} (id, parent_id) VALUES (1, 999)"
    try:
        probe.rows(orphan)
    except ProbeError:
        return True
    return False


def _ddl_rolls_back(probe: Probe, s: Scratch) -> bool | None:
    table = s.name("ddl_tx")
    try:
        probe.rows(s.sql.begin)
        probe.rows(f"CREATE TABLE {table} (id INTEGER)")
        probe.rows("ROLLBACK")
    except ProbeError:
        with suppress(ProbeError):
            probe.rows("ROLLBACK")
        return None
    return _step(probe, f"SELECT COUNT(*) FROM {table}") is not None


def _cleanup(probe: Probe, s: Scratch) -> list[str]:
    """Drop every scratch object; the errors of those that stay."""
    drops = [f"DROP TABLE IF EXISTS {s.name(t)}" for t in ("child", "parent", "ddl_tx")]
    if s.in_container and s.sql.drop_container:
        drops.append(s.sql.drop_container.format(c=s.sql.quote(s.container)))
    return [f"{sql}: {error}" for sql in drops if (error := _step(probe, sql))]


def _open_scratch(probe: Probe, sql: ScratchDialect, token: str) -> tuple[Scratch, Fact]:
    container = f"dbmatrix_doctor_{token}"
    if sql.create_container is None:
        return Scratch(sql, container, False), Fact(
            "scratch", "scratch objects", "in memory", "info",
            "DDL checked in memory: on a copy of a file, which is only opened read-only")
    error = _step(probe, sql.create_container.format(c=sql.quote(container)))
    if error is None:
        return Scratch(sql, container, True), Fact(
            "scratch", "scratch objects", container, "info", "created and removed again")
    return Scratch(sql, container, False), Fact(
        "scratch", "scratch objects", f"{container}_*", "info",
        f"cannot create a scratch schema/database ({error}); used prefixed tables instead",
        "scratch-schema-denied")


def scratch_facts(probe: Probe, dialect: str, token: str) -> tuple[list[Fact], dict[str, bool]]:
    """Privileges, then measured FK enforcement and transactional DDL, on scratch objects."""
    scratch, scratch_fact = _open_scratch(probe, _scratch_sql(dialect), token)
    failed: list[str] = []
    measured: dict[str, bool | None] = {}
    try:
        for label, sql in _steps(scratch):
            error = _step(probe, sql)
            if error:
                failed.append(f"{label}: {error}")
        if not any(f.startswith("create table") for f in failed):
            measured["foreign_keys"] = _foreign_keys_enforced(probe, scratch)
        measured["transactional_ddl"] = _ddl_rolls_back(probe, scratch)
        for table in ("child", "parent"):
            error = _step(probe, f"DROP TABLE {scratch.name(table)}")
            if error:
                failed.append(f"drop table: {error}")
    finally:
        left = _cleanup(probe, scratch)
    facts = [scratch_fact, _privileges(failed)]
    if left:
        facts.append(Fact("scratch_left", "scratch objects left", left, "block",
                          "; ".join(left), "scratch-left-behind"))
    return facts, {k: v for k, v in measured.items() if v is not None}


def _scratch_sql(dialect: str) -> ScratchDialect:
    family = for_dialect(dialect)
    sql = family.scratch_sql() if family else None
    if sql is None:
        raise ValueError(f"no scratch objects for dialect {dialect!r}")
    return sql


def _privileges(failed: list[str]) -> Fact:
    if not failed:
        return Fact("privileges", "create/alter/drop tables and indexes", True, "ok",
                    "create table, foreign key, create index, alter table, insert, drop index, "
                    "drop table: all worked")
    return Fact("privileges", "create/alter/drop tables and indexes", False, "block",
                "; ".join(failed), "privilege-missing")


# --- the whole check --------------------------------------------------------------------------

def latency_facts(probe: Probe, connect_ms: float | None) -> list[Fact]:
    """Connect time (when known) and the median round trip of `SELECT 1`, in milliseconds."""
    times = []
    for _ in range(ROUND_TRIPS):
        start = time.perf_counter()
        probe.rows("SELECT 1")
        times.append((time.perf_counter() - start) * 1000)
    median = round(statistics.median(times), 3)
    facts = []
    if connect_ms is not None:
        facts.append(Fact("connect_ms", "connect time (ms)", round(connect_ms, 2), "info",
                          "opening one connection, login included"))
    detail = f"median of {ROUND_TRIPS} SELECT 1"
    if median > LATENCY_WARN_MS:
        facts.append(Fact("latency_ms", "round trip (ms)", median, "warn",
                          f"{detail}: over {LATENCY_WARN_MS:g} ms", "latency-high"))
    else:
        facts.append(Fact("latency_ms", "round trip (ms)", median, "ok", detail))
    return facts


def merge(facts: list[Fact], measured: dict[str, bool]) -> list[Fact]:
    """Put measured results into the facts of the same key; a contradiction wins."""
    merged = []
    for fact in facts:
        if fact.key not in measured:
            merged.append(fact)
        elif fact.value == measured[fact.key]:
            merged.append(fact._replace(detail=f"{fact.detail}; confirmed on scratch objects"))
        else:
            value = measured[fact.key]
            merged.append(fact._replace(value=value, verdict=_measured_verdict(fact, value),
                                        finding=fact.finding or MEASURED_FINDING[fact.key],
                                        detail=f"{fact.detail}; but measured on scratch "
                                               f"objects: {'yes' if value else 'no'}"))
    return merged


def _measured_verdict(fact: Fact, value: bool) -> Verdict:
    if value:
        return "ok"
    return "warn" if fact.key == "transactional_ddl" or fact.verdict == "warn" else "block"


def diagnose(probe: Probe, dialect: str, *, token: str,
             minimum: tuple[int, ...] | None = None, connect_ms: float | None = None,
             scratch_probe: Probe | None = None) -> list[Fact]:
    """Every fact of the database behind `probe`; DDL runs on `scratch_probe` (default probe)."""
    facts = environment(probe, dialect, minimum=minimum)
    family = for_dialect(dialect)
    who_am_i = family.identity_query() if family else None
    if who_am_i:
        with suppress(ProbeError, IndexError):
            user, database = probe.rows(who_am_i)[0]
            facts.insert(1, Fact("connected_as", "connected as", str(user), "info",
                                 f"database {database}"))
    facts += latency_facts(probe, connect_ms)
    scratch, measured = scratch_facts(scratch_probe or probe, dialect, token)
    return merge(facts, measured) + scratch


# --- connecting -------------------------------------------------------------------------------

def parse_url(text: str | None) -> URL:
    if not text:
        raise Unchecked(f"give a database URL: dbmatrix doctor URL (or set {URL_ENV})")
    try:
        url = sa.make_url(text)
    except Exception:
        raise Unchecked(f"cannot parse the URL {scrub(text)!r}: expected "
                        f"dialect+driver://user:password@host:port/database") from None
    if family_for("", url.get_backend_name()) is None:
        raise Unchecked(f"unsupported database {url.get_backend_name()!r}: use one of "
                        f"{', '.join(LIVE)}")
    return url


def _family(url: URL) -> Backend:
    family = family_for("", url.get_backend_name())
    assert family is not None, "parse_url admits only known families"
    return family


def _engine(url: URL, timeout: float, init_sql: list[str], **options: Any) -> Engine:
    family = _family(url)
    url = family.with_driver_defaults(url)
    options.setdefault("connect_args", family.connect_args(url, timeout))
    try:
        engine = sa.create_engine(url, isolation_level="AUTOCOMMIT", **options)
    except (ModuleNotFoundError, ImportError, sa_exc.NoSuchModuleError) as exc:
        extra = f"pip install 'pytest-dbmatrix[{family.extra}]'" if family.extra else "install it"
        raise Unchecked(f"the driver for {url.drivername} cannot be loaded ({exc}); {extra}") \
            from None

    @sa.event.listens_for(engine, "connect")
    def _init(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        for sql in init_sql:
            cursor.execute(sql)
        cursor.close()

    return engine


@contextmanager
def _connected(engine: Engine, secrets_: tuple[str, ...]) -> Iterator[tuple[ConnectionProbe,
                                                                             float]]:
    start = time.perf_counter()
    try:
        conn = engine.connect()
    except (sa_exc.DBAPIError, ModuleNotFoundError, ImportError) as exc:
        raise Unchecked(f"cannot connect: {normalise(exc, secrets_).line}") from None
    connect_ms = (time.perf_counter() - start) * 1000
    try:
        yield ConnectionProbe(conn, secrets_), connect_ms
    finally:
        conn.close()
        engine.dispose()


def _sqlite_file_fact(path: Path) -> Fact:
    writable = os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)
    if writable:
        return Fact("file_access", "file writable", True, "ok", f"{path} and its directory")
    return Fact("file_access", "file writable", False, "block",
                f"{path} or its directory is read-only for this user", "sqlite-file-readonly")


def _check_file(url: URL, args: argparse.Namespace, token: str) -> list[Fact]:
    """An embedded (file) database: opened read-only, its DDL tried on an in-memory copy."""
    if url.database in (None, "", ":memory:"):
        engine = _engine(url, args.connect_timeout, args.init_sql, poolclass=StaticPool)
        with _connected(engine, ()) as (probe, connect_ms):
            return diagnose(probe, url.get_backend_name(), token=token, minimum=args.min_version,
                            connect_ms=connect_ms)
    path = Path(url.database).resolve()
    if not path.is_file():
        raise Unchecked(f"the SQLite file {path} does not exist (the doctor never creates it)")
    uri = f"file:{pathname2url(str(path))}?mode=ro"
    source = sqlite3.connect(uri, uri=True, check_same_thread=False)
    copy = sqlite3.connect(":memory:", check_same_thread=False)
    try:
        source.backup(copy)
        engine = _engine(url, args.connect_timeout, args.init_sql, poolclass=NullPool,
                         connect_args={}, creator=lambda: sqlite3.connect(uri, uri=True))
        scratch = _engine(url.set(database=None, query={}), args.connect_timeout,
                          args.init_sql, poolclass=StaticPool, creator=lambda: copy)
        with _connected(engine, ()) as (probe, connect_ms), \
                _connected(scratch, ()) as (scratch_probe, _):
            facts = diagnose(probe, url.get_backend_name(), token=token, minimum=args.min_version,
                             connect_ms=connect_ms, scratch_probe=scratch_probe)
    except sqlite3.Error as exc:
        raise Unchecked(f"cannot read the SQLite file {path}: {exc}") from None
    finally:
        source.close()
        copy.close()
    return [*facts, _sqlite_file_fact(path)]


def check(url: URL, args: argparse.Namespace, token: str | None = None) -> list[Fact]:
    """Connect to `url` and diagnose it; raises `Unchecked` when it cannot be done."""
    token = token or secrets.token_hex(4)
    if not _family(url).server_backed:
        return _check_file(url, args, token)
    engine = _engine(url, args.connect_timeout, args.init_sql, poolclass=NullPool)
    secrets_ = (url.password,) if url.password else ()
    with _connected(engine, tuple(str(s) for s in secrets_)) as (probe, connect_ms):
        return diagnose(probe, probe.conn.dialect.name, token=token, minimum=args.min_version,
                        connect_ms=connect_ms)


# --- output -----------------------------------------------------------------------------------

def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items())
    if isinstance(value, list):
        return f"{len(value)} item(s)"
    return "-" if value is None else str(value)


def render_table(facts: list[Fact], title: str) -> str:
    """A fixed-width table: verdict, check, value, detail; the fix under each problem."""
    header = ("verdict", "check", "value", "detail")
    rows = [(f.verdict.upper() if f.verdict in ("warn", "block") else f.verdict, f.label,
             _shown(f.value)[:60], f.detail) for f in facts]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(3)]
    lines = [title, "", _row(header, widths)]
    for fact, row in zip(facts, rows, strict=True):
        lines.append(_row(row, widths))
        if fact.hint and fact.verdict in ("warn", "block"):
            lines.append(" " * (widths[0] + 2) + f"fix: {fact.hint}")
    blocking = sum(f.verdict == "block" for f in facts)
    warnings = sum(f.verdict == "warn" for f in facts)
    lines += ["", f"{blocking} blocking problem(s), {warnings} warning(s)"]
    return "\n".join(lines)


def _row(cells: tuple[str, str, str, str], widths: list[int]) -> str:
    return "  ".join(c.ljust(w) for c, w in zip(cells[:3], widths, strict=True)) + "  " + cells[3]


def exit_code(facts: list[Fact]) -> int:
    return EXIT_BLOCKING if any(f.verdict == "block" for f in facts) else EXIT_OK


def as_json(url: str, dialect: str, facts: list[Fact], code: int,
            error: str | None = None) -> dict[str, Any]:
    return {"schema": SCHEMA, "url": url, "dialect": dialect,
            "facts": [f.as_dict() for f in facts],
            "blocking": sum(f.verdict == "block" for f in facts),
            "warnings": sum(f.verdict == "warn" for f in facts),
            "error": error, "exit_code": code}


# --- command line -----------------------------------------------------------------------------

def _version(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in text.split("."))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--min-version expects numbers like 14 or 10.6, "
                                         f"got {text!r}") from None


def add_arguments(name: str, subparser: argparse.ArgumentParser) -> None:
    subparser.add_argument("url", nargs="?", default=None,
                           help=f"database URL (default: env {URL_ENV}); the password is "
                                f"never printed")
    subparser.add_argument("--json", action="store_true", help="print the facts as JSON")
    subparser.add_argument("--init-sql", action="append", default=[], metavar="SQL",
                           help="SQL run on each new connection first, as the application "
                                "would (repeatable), e.g. \"SET SESSION sql_mode=''\"")
    subparser.add_argument("--min-version", type=_version, default=None, metavar="X.Y",
                           help="oldest server version the product supports (default: the "
                                "oldest maintained upstream)")
    subparser.add_argument("--connect-timeout", type=float, default=10.0, metavar="SECONDS",
                           help="seconds to wait for the server (default 10)")


def run_doctor(args: argparse.Namespace) -> int:
    text = args.url or os.environ.get(URL_ENV, "").strip() or None
    shown, dialect = scrub(text or ""), ""
    try:
        url = parse_url(text)
        shown, dialect = mask_url(url), url.get_backend_name()
        facts = check(url, args)
    except Unchecked as exc:
        message = scrub(str(exc), [str(p) for p in (_password(text),) if p])
        if args.json:
            print(json.dumps(as_json(shown, dialect, [], EXIT_UNCHECKED, message), indent=2))
        else:
            print(f"dbmatrix doctor: {shown or 'no URL'}: {message}", file=sys.stderr)
        return EXIT_UNCHECKED
    code = exit_code(facts)
    if args.json:
        print(json.dumps(as_json(shown, dialect, facts, code), indent=2, default=str))
    else:
        print(render_table(facts, f"dbmatrix doctor: {shown} ({dialect})"))
    return code


def _password(text: str | None) -> str | None:
    with suppress(Exception):
        return sa.make_url(text or "").password
    return None
