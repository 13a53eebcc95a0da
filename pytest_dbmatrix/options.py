"""Command-line options of the `dbmatrix` group, each with its ini twin, and the marker's
signature."""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

import pytest

IniType = Literal["string", "bool", "float", "linelist", "args"]

MARKER = "dbmatrix"
MARKER_SPEC = (
    "dbmatrix(only=None, skip=None, xfail=None): run only on, skip on, or expect failure "
    "(strict) on backends; each a name or list of names with optional version predicates "
    "('mysql<8.0.16'), skip and xfail also {predicate: reason}"
)
"""The marker is read by `markers`, imported only for tests that carry it."""


class Option(NamedTuple):
    flag: str
    ini: str
    ini_type: IniType
    help: str
    env: str | None = None
    action: str = "store"
    metavar: str | None = None
    choices: tuple[str, ...] | None = None

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")


OPTIONS = (
    Option("--dbmatrix", "dbmatrix_backends", "args",
           "backends to run database tests on: comma list of sqlite, postgresql, mysql, "
           "mariadb, mssql, named backends such as postgresql16, or 'all' (default: sqlite)",
           env="DBMATRIX_BACKENDS", metavar="NAMES"),
    Option("--dbmatrix-url", "dbmatrix_urls", "linelist",
           "URL of a backend as NAME=URL (repeatable); env DBMATRIX_<NAME>_URL",
           action="append", metavar="NAME=URL"),
    Option("--dbmatrix-strict", "dbmatrix_strict", "bool",
           "an unavailable backend is an error instead of a skip (CI)",
           env="DBMATRIX_STRICT", action="store_true"),
    Option("--dbmatrix-connect-timeout", "dbmatrix_connect_timeout", "float",
           "seconds to wait for a server to answer (default 10)",
           env="DBMATRIX_CONNECT_TIMEOUT", metavar="SECONDS"),
    Option("--dbmatrix-statement-timeout", "dbmatrix_statement_timeout", "float",
           "seconds a test's statement may run before the server cancels it (default: off); "
           "PostgreSQL statement_timeout, MariaDB max_statement_time, MySQL "
           "MAX_EXECUTION_TIME (SELECT only), SQLite a progress handler",
           env="DBMATRIX_STATEMENT_TIMEOUT", metavar="SECONDS"),
    Option("--dbmatrix-lock-timeout", "dbmatrix_lock_timeout", "float",
           "seconds the plugin's own DDL and cleanup wait for a lock (default 10)",
           env="DBMATRIX_LOCK_TIMEOUT", metavar="SECONDS"),
    Option("--dbmatrix-dead-host-timeout", "dbmatrix_dead_host_timeout", "float",
           "seconds after which a connection to a server that stopped answering fails "
           "(default 60): TCP keepalives and user timeout; pymysql's write timeout",
           env="DBMATRIX_DEAD_HOST_TIMEOUT", metavar="SECONDS"),
    Option("--dbmatrix-leaks", "dbmatrix_leaks", "string",
           "a connection a test took from the plugin's engines and did not return: error "
           "(default) of that test, or warn; either way the plugin closes it",
           choices=("error", "warn"), metavar="error|warn"),
    Option("--dbmatrix-sqlite-foreign-keys", "dbmatrix_sqlite_foreign_keys", "string",
           "on (default) sets PRAGMA foreign_keys=ON; off keeps SQLite's default",
           choices=("on", "off"), metavar="on|off"),
    Option("--dbmatrix-sqlite-durable", "dbmatrix_sqlite_durable", "string",
           "on keeps SQLite's journal file and fsync on the throwaway database; off (default) "
           "journals in memory without fsync: faster, same SQL behaviour",
           choices=("on", "off"), metavar="on|off"),
    Option("--dbmatrix-metadata", "dbmatrix_metadata", "string",
           "module:attribute of the MetaData or declarative Base whose tables every "
           "backend gets for the session", metavar="MODULE:ATTR"),
    Option("--dbmatrix-report", "dbmatrix_report", "string",
           "write the test x backend matrix and incompatibilities as JSON to PATH",
           metavar="PATH"),
    Option("--dbmatrix-summary", "dbmatrix_summary", "string",
           "matrix in the terminal summary: auto (differences, or all when short), "
           "full, diff, or none", choices=("auto", "full", "diff", "none"), metavar="MODE"),
    Option("--dbmatrix-provider", "dbmatrix_providers", "linelist",
           "force how a backend is provided, NAME=url|docker|local (repeatable)",
           action="append", metavar="NAME=PROVIDER"),
    Option("--dbmatrix-image", "dbmatrix_images", "linelist",
           "container image of a backend, NAME=IMAGE (repeatable)",
           action="append", metavar="NAME=IMAGE"),
    Option("--dbmatrix-docker-network", "dbmatrix_docker_network", "string",
           "container networking: ports (default, published ports) or host",
           choices=("ports", "host"), metavar="MODE"),
    Option("--dbmatrix-conformance", "dbmatrix_conformance", "bool",
           "generate the conformance suite from the models of dbmatrix_metadata",
           action="store_true"),
    Option("--dbmatrix-alembic-ini", "dbmatrix_alembic_ini", "string",
           "alembic.ini whose migration history is checked on every backend", metavar="PATH"),
    Option("--dbmatrix-alembic-checks", "dbmatrix_alembic_checks", "args",
           "migration checks to run: all (default), names, -name to turn one off, e.g. "
           "'all,-up_down_up'", metavar="CHECKS"),
    Option("--dbmatrix-alembic-offline", "dbmatrix_alembic_offline", "args",
           "dialects whose offline (--sql) SQL is rendered with no server besides the "
           "selected backends (default: mssql,oracle)", metavar="DIALECTS"),
    Option("--dbmatrix-alembic-sql-dir", "dbmatrix_alembic_sql_dir", "string",
           "directory for the offline SQL files (default: pytest's temp dir)", metavar="DIR"),
    Option("--dbmatrix-async-driver", "dbmatrix_async_drivers", "linelist",
           "async driver of a backend for the db_async_* fixtures, NAME=DRIVER (repeatable), "
           "e.g. postgresql=psycopg (default: sqlite=aiosqlite, postgresql=asyncpg, "
           "mysql/mariadb=aiomysql, mssql=aioodbc)", action="append", metavar="NAME=DRIVER"),
    Option("--dbmatrix-html", "dbmatrix_html", "string",
           "write the matrix as a self-contained HTML page to PATH", metavar="PATH"),
)


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("dbmatrix", "multi-database conformance testing")
    for opt in OPTIONS:
        kwargs: dict[str, Any] = {"dest": opt.dest, "help": opt.help, "action": opt.action}
        if opt.action == "store_true":
            kwargs["default"] = None
        else:
            kwargs["metavar"] = opt.metavar
            if opt.choices:
                kwargs["choices"] = opt.choices
            if opt.ini_type == "float":
                kwargs["type"] = float
        group.addoption(opt.flag, **kwargs)
        parser.addini(opt.ini, type=opt.ini_type, help=opt.help, default=None)
