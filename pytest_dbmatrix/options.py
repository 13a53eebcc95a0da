"""The one table of the plugin's options, and the marker's signature.

Each row of `Options` is one option: its command-line flag, ini twin (`dbmatrix_<attribute>`),
env var, ini type, default, parser and help. `add_options` registers the flag and the ini from
the rows; `settings.resolve` reads every row (CLI > env > ini > default, source recorded) into
`Settings`, whose attribute of the same name is that option's `Sourced` value. Adding an option
is adding a row here."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Generic, Literal, NamedTuple, TypeVar, overload

import pytest

from pytest_dbmatrix import triage
from pytest_dbmatrix.backends import KNOWN
from pytest_dbmatrix.catalogue import SEVERITIES, Severity
from pytest_dbmatrix.redact import scrub

T = TypeVar("T")
IniType = Literal["string", "bool", "float", "linelist", "args"]

MARKER = "dbmatrix"
MARKER_SPEC = (
    "dbmatrix(only=None, skip=None, xfail=None): run only on, skip on, or expect failure "
    "(strict) on backends; each a name or list of names with optional version predicates "
    "('mysql<8.0.16'), skip and xfail also {predicate: reason}"
)
"""The marker is read by `markers`, imported only for tests that carry it."""


class Sourced(NamedTuple, Generic[T]):
    """A setting's value and where it came from ("option --dbmatrix", "env ...", "default")."""

    value: T
    source: str


Pairs = dict[str, Sourced[str]]


def boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"{value!r} is not a boolean (use on/off)")


def positive_seconds(value: Any) -> float:
    number = float(value)
    if number <= 0:
        raise ValueError(f"{value!r} must be a positive number of seconds")
    return number


def optional_seconds(value: Any) -> float | None:
    return positive_seconds(value)


def error_or_warn(value: Any) -> str:
    word = str(value).strip().lower()
    if word not in ("error", "warn"):
        raise ValueError(f"{value!r} is not error or warn")
    return word


def severity(value: Any) -> Severity:
    word = str(value).strip().lower()
    for level in SEVERITIES:
        if word == level:
            return level
    raise ValueError(f"{value!r} is not one of {', '.join(SEVERITIES)}")


def acceptance_lines(entries: Any) -> tuple[triage.Acceptance, ...]:
    """HAZARD:WHERE[:BACKENDS] [# reason] lines given as (line, source)."""
    try:
        return triage.parse_lines(entries)
    except triage.AcceptanceError as exc:
        raise pytest.UsageError(str(exc)) from None


def text(value: Any) -> str | None:
    return str(value)


def items(value: Any) -> tuple[str, ...]:
    """A comma/space separated list, lower-cased, kept in order without duplicates."""
    values = value if isinstance(value, list | tuple) else [value]
    names = [n.strip().lower() for item in values for n in str(item).split(",") if n.strip()]
    return tuple(dict.fromkeys(names))


def backend_names(value: Any) -> tuple[str, ...]:
    """`items`, with `all` expanded to every known family."""
    names = list(items(value))
    if "all" in names:
        names = [n for n in names if n != "all"] + [k for k in KNOWN if k not in names]
    return tuple(names)


def name_value_pairs(entries: Any) -> Pairs:
    """NAME=VALUE rows given as (entry, source) in ini-then-option order: later ones win."""
    result: Pairs = {}
    for entry, source in entries:
        name, sep, value = str(entry).partition("=")
        if not sep or not name.strip() or not value.strip():
            raise pytest.UsageError(
                f"dbmatrix: {source} expects NAME=VALUE, got {scrub(str(entry))!r}")
        result[name.strip().lower()] = Sourced(value.strip(), source)
    return result


class Option(Generic[T]):
    """One row of the table; on a `Settings` instance, the attribute is the row's `Sourced[T]`
    (read from its resolved `values`)."""

    name = ""

    def __init__(self, flag: str, ini_type: IniType, default: T, parse: Callable[[Any], T],
                 help: str, *, env: str | None = None, metavar: str | None = None,
                 choices: tuple[str, ...] | None = None) -> None:
        self.flag, self.ini_type, self.default, self.parse = flag, ini_type, default, parse
        self.help, self.env, self.metavar, self.choices = help, env, metavar, choices

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type) -> Option[T]: ...
    @overload
    def __get__(self, obj: object, owner: type) -> Sourced[T]: ...
    def __get__(self, obj: object | None, owner: type) -> Option[T] | Sourced[T]:
        if obj is None:
            return self
        value: Sourced[T] = obj.values[self.name]  # type: ignore[attr-defined]
        return value

    @property
    def ini(self) -> str:
        return f"dbmatrix_{self.name}"

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")

    @property
    def is_flag(self) -> bool:
        """A bare switch (`--dbmatrix-strict`): no value on the command line."""
        return self.ini_type == "bool"

    @property
    def repeatable(self) -> bool:
        """NAME=VALUE rows (`--dbmatrix-url`), merged from the ini list and the repeated flag;
        their env twins are per name (`DBMATRIX_<NAME>_URL`), read where the name is known."""
        return self.ini_type == "linelist"


class Options:
    """The table. A row: `attribute = Option(flag, ini type, default, parser, help, ...)`;
    the ini is `dbmatrix_<attribute>`, `settings.<attribute>` its `Sourced` value. A default
    that mypy cannot type alone is written as the parser's result (`items("all")`)."""

    backends = Option(
        "--dbmatrix", "args", backend_names("sqlite"), backend_names,
        "backends to run database tests on: comma list of sqlite, postgresql, mysql, "
        "mariadb, mssql, named backends such as postgresql16, or 'all' (default: sqlite)",
        env="DBMATRIX_BACKENDS", metavar="NAMES")
    urls = Option(
        "--dbmatrix-url", "linelist", name_value_pairs([]), name_value_pairs,
        "URL of a backend as NAME=URL (repeatable); env DBMATRIX_<NAME>_URL",
        metavar="NAME=URL")
    strict = Option(
        "--dbmatrix-strict", "bool", False, boolean,
        "an unavailable backend is an error instead of a skip (CI)", env="DBMATRIX_STRICT")
    connect_timeout = Option(
        "--dbmatrix-connect-timeout", "float", 10.0, positive_seconds,
        "seconds to wait for a server to answer (default 10)",
        env="DBMATRIX_CONNECT_TIMEOUT", metavar="SECONDS")
    sqlite_foreign_keys = Option(
        "--dbmatrix-sqlite-foreign-keys", "string", True, boolean,
        "on (default) sets PRAGMA foreign_keys=ON; off keeps SQLite's default",
        choices=("on", "off"), metavar="on|off")
    sqlite_durable = Option(
        "--dbmatrix-sqlite-durable", "string", False, boolean,
        "on keeps SQLite's journal file and fsync on the throwaway database; off (default) "
        "journals in memory without fsync: faster, same SQL behaviour",
        choices=("on", "off"), metavar="on|off")
    metadata = Option(
        "--dbmatrix-metadata", "string", None, text,
        "module:attribute of the MetaData or declarative Base whose tables every "
        "backend gets for the session", metavar="MODULE:ATTR")
    report = Option(
        "--dbmatrix-report", "string", None, text,
        "write the test x backend matrix and incompatibilities as JSON to PATH", metavar="PATH")
    summary = Option(
        "--dbmatrix-summary", "string", "auto", str,
        "matrix in the terminal summary: auto (differences, or all when short), "
        "full, diff, or none", choices=("auto", "full", "diff", "none"), metavar="MODE")
    providers = Option(
        "--dbmatrix-provider", "linelist", name_value_pairs([]), name_value_pairs,
        "force how a backend is provided, NAME=url|docker|local (repeatable)",
        metavar="NAME=PROVIDER")
    images = Option(
        "--dbmatrix-image", "linelist", name_value_pairs([]), name_value_pairs,
        "container image of a backend, NAME=IMAGE (repeatable)", metavar="NAME=IMAGE")
    docker_network = Option(
        "--dbmatrix-docker-network", "string", "ports", str,
        "container networking: ports (default, published ports) or host",
        choices=("ports", "host"), metavar="MODE")
    conformance = Option(
        "--dbmatrix-conformance", "bool", False, boolean,
        "generate the conformance suite from the models of dbmatrix_metadata")
    alembic_ini = Option(
        "--dbmatrix-alembic-ini", "string", None, text,
        "alembic.ini whose migration history is checked on every backend", metavar="PATH")
    alembic_checks = Option(
        "--dbmatrix-alembic-checks", "args", items("all"), items,
        "migration checks to run: all (default), names, -name to turn one off, e.g. "
        "'all,-up_down_up'", metavar="CHECKS")
    alembic_offline = Option(
        "--dbmatrix-alembic-offline", "args", items("mssql,oracle"), items,
        "dialects whose offline (--sql) SQL is rendered with no server besides the "
        "selected backends (default: mssql,oracle)", metavar="DIALECTS")
    alembic_sql_dir = Option(
        "--dbmatrix-alembic-sql-dir", "string", None, text,
        "directory for the offline SQL files (default: pytest's temp dir)", metavar="DIR")
    alembic_baseline = Option(
        "--dbmatrix-alembic-baseline", "string", None, text,
        "module:attribute of the MetaData, declarative Base or callable(connection) that "
        "creates the schema the first revision starts from", metavar="MODULE:ATTR")
    async_drivers = Option(
        "--dbmatrix-async-driver", "linelist", name_value_pairs([]), name_value_pairs,
        "async driver of a backend for the db_async_* fixtures, NAME=DRIVER (repeatable), "
        "e.g. postgresql=psycopg (default: sqlite=aiosqlite, postgresql=asyncpg, "
        "mysql/mariadb=aiomysql, mssql=aioodbc)", metavar="NAME=DRIVER")
    statement_timeout = Option(
        "--dbmatrix-statement-timeout", "float", None, optional_seconds,
        "seconds a test's statement may run before the server cancels it (default: off); "
        "PostgreSQL statement_timeout, MariaDB max_statement_time, MySQL "
        "MAX_EXECUTION_TIME (SELECT only), SQLite a progress handler",
        env="DBMATRIX_STATEMENT_TIMEOUT", metavar="SECONDS")
    lock_timeout = Option(
        "--dbmatrix-lock-timeout", "float", 10.0, positive_seconds,
        "seconds the plugin's own DDL and cleanup wait for a lock (default 10)",
        env="DBMATRIX_LOCK_TIMEOUT", metavar="SECONDS")
    dead_host_timeout = Option(
        "--dbmatrix-dead-host-timeout", "float", 60.0, positive_seconds,
        "seconds after which a connection to a server that stopped answering fails "
        "(default 60): TCP keepalives and user timeout; pymysql's write timeout",
        env="DBMATRIX_DEAD_HOST_TIMEOUT", metavar="SECONDS")
    leaks = Option(
        "--dbmatrix-leaks", "string", "error", error_or_warn,
        "a connection a test took from the plugin's engines and did not return: error "
        "(default) of that test, or warn; either way the plugin closes it",
        choices=("error", "warn"), metavar="error|warn")
    fail_on = Option(
        "--dbmatrix-fail-on", "string", severity("error"), severity,
        "the lowest severity of a finding that fails its test: error (default; warnings are "
        "reported, not failed) or warning", choices=("error", "warning"),
        env="DBMATRIX_FAIL_ON", metavar="error|warning")
    accept = Option(
        "--dbmatrix-accept", "linelist", acceptance_lines([]), acceptance_lines,
        "accept a known finding, HAZARD:WHERE[:BACKENDS] [# reason], e.g. "
        "'float-precision:*:mysql' (repeatable; ini dbmatrix_accept, one per line): reported "
        "as accepted, not failed", metavar="LINE")
    accept_file = Option(
        "--dbmatrix-accept-file", "string", None, text,
        "file of acceptance lines, as 'dbmatrix accept REPORT.json > FILE' writes them",
        env="DBMATRIX_ACCEPT_FILE", metavar="PATH")
    details = Option(
        "--dbmatrix-details", "bool", False, boolean,
        "print the generated checks' full failure sections and matrix rows (also with -v); "
        "by default each failed check is one line and its findings are in the digest")
    html = Option(
        "--dbmatrix-html", "string", None, text,
        "write the matrix as a self-contained HTML page to PATH", metavar="PATH")
    label = Option(
        "--dbmatrix-label", "string", None, text,
        "name of this run in its JSON report, for 'dbmatrix merge' (default: TOX_ENV_NAME, "
        "else GITHUB_JOB with DBMATRIX_GITHUB_MATRIX values, else the host name)",
        env="DBMATRIX_LABEL", metavar="LABEL")

    @classmethod
    def rows(cls) -> Iterator[Option[Any]]:
        return (v for v in vars(cls).values() if isinstance(v, Option))


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("dbmatrix", "multi-database conformance testing")
    for opt in Options.rows():
        group.addoption(opt.flag, **_argparse_kwargs(opt))
        parser.addini(opt.ini, type=opt.ini_type, help=opt.help, default=None)


def _argparse_kwargs(opt: Option[Any]) -> dict[str, Any]:
    """Flags default to None, so an unset flag falls through to env, ini and the default."""
    if opt.is_flag:
        return {"dest": opt.dest, "help": opt.help, "action": "store_true", "default": None}
    kwargs: dict[str, Any] = {"dest": opt.dest, "help": opt.help, "metavar": opt.metavar,
                              "action": "append" if opt.repeatable else "store"}
    if opt.choices:
        kwargs["choices"] = opt.choices
    if opt.ini_type == "float":
        kwargs["type"] = float
    return kwargs
