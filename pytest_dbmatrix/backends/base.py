"""What every database family must tell and do: capabilities and provisioning by dispatch.

`Backend` is the default of everything family-specific; a family overrides what differs. What
only one role needs (a container or local-binary recipe, environment facts) lives in a module of
the same name in every family's package (`containers`, `local`, `facts`), imported on first use
(`role_module`) and inherited: MariaDB uses MySQL's where it has none of its own."""

from __future__ import annotations

import importlib
import importlib.util
import re
import socket
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine

if TYPE_CHECKING:
    from pytest_dbmatrix.backends.environment import Gatherer, Probe, ScratchDialect
    from pytest_dbmatrix.backends.recipes import ContainerRecipe, LocalRecipe

SAFE_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class BackendUnavailable(Exception):
    """A backend cannot be had; `reason` says why and how to fix it, in one line."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"dbmatrix: backend {name!r} unavailable: {reason}")
        self.name = name
        self.reason = reason


class Capabilities(NamedTuple):
    """Facts about a database family that change what a test can rely on."""

    transactional_ddl: bool
    enforces_foreign_keys: bool
    enforces_check: bool
    enforces_length: bool
    case_sensitive_compare: bool
    keeps_timezone: bool
    insert_returning: bool
    update_returning: bool
    max_identifier_length: int
    notes: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return self._asdict() | {"notes": list(self.notes)}


class StaticRules(NamedTuple):
    """What the static tier checks of a table's DDL for a family, with no server."""

    identifier_limit: int | None = None
    key_bytes: int | None = None
    primary_key_bytes: int | None = None
    char_bytes: int = 1
    unicode_bytes: int = 1
    lob_key_category: str | None = None
    """The finding of a TEXT/BLOB/JSON column in a key or index, when the family refuses it."""
    rejects_deferrable: bool = False
    native_enum: bool = False
    native_boolean: bool = False
    bit_boolean: bool = False
    """Boolean is a BIT that stores only 0 and 1, so no CHECK is needed."""
    one_null_per_unique: bool = False
    cascade_paths_limited: bool = False
    native_uuid: bool = False
    string_needs_length: bool = False


class ServerInfo(NamedTuple):
    """What the server says about itself."""

    product: str
    version: tuple[int, ...]
    version_string: str

    @property
    def label(self) -> str:
        return f"{self.product} {self.version_string}"


class Backend:
    """A database family (postgresql, mysql, ...): how to reach it, create and drop databases."""

    kind: ClassVar[str]
    default_driver: ClassVar[str]
    driver_module: ClassVar[str]
    extra: ClassVar[str]
    capabilities: ClassVar[Capabilities]
    server_backed: ClassVar[bool] = True
    default_image: ClassVar[str | None] = None
    product: ClassVar[str]
    """The product name its servers report (`ServerInfo.product`)."""
    server_kinds: ClassVar[frozenset[str]] = frozenset()
    """Families whose servers this family's dialect also reaches (MySQL's and MariaDB's)."""
    bind_errors: ClassVar[tuple[str, ...]] = ("address already in use",)
    """What a server of the family logs (lower case) when another process took its port."""
    min_version: ClassVar[tuple[int, ...]] = ()
    """The oldest server still maintained upstream and supported by SQLAlchemy 2."""
    async_drivers: ClassVar[tuple[str, ...]] = ()
    """Drivers of SQLAlchemy's asyncio extension for this family, the default first; each is
    also the module to import and the name to `pip install`."""
    sync_drivers: ClassVar[tuple[str, ...]] = ()
    """Sync drivers a backend name may pick as its matrix column (`postgresql+psycopg`), with
    the async ones: the sync fixtures run through a sync driver, the db_async_* fixtures
    through an async one (psycopg 3 is both)."""
    atomic_statements: ClassVar[bool] = False
    """A failed statement is undone alone and the transaction goes on, so a statement expected
    to succeed needs no SAVEPOINT (PostgreSQL aborts the whole transaction instead)."""
    deferrable_foreign_keys: ClassVar[bool] = False
    """`INITIALLY DEFERRED` foreign keys are checked at COMMIT, not at the statement."""
    optional_foreign_keys: ClassVar[bool] = False
    """Foreign keys are enforced only when the connection turns them on (SQLite's pragma)."""
    alters_in_batch_only: ClassVar[bool] = False
    """No ALTER of constraints or columns: Alembic must recreate the table (batch mode)."""
    alter_needs_existing_type: ClassVar[tuple[str, ...]] = ()
    """`alter_column` keywords that cannot be rendered without `existing_type`."""
    alter_type_resets_nullable: ClassVar[bool] = False
    """`alter_column(type_=...)` without `existing_nullable` silently makes a column NULL-able."""
    model_match_noise: ClassVar[tuple[tuple[str, str, str], ...]] = ()
    """(autogenerate diff op, reflected type, model type) that is no real drift here."""
    static_rules: ClassVar[StaticRules] = StaticRules()
    static_dialect_class: ClassVar[str]
    static_server_version: ClassVar[tuple[int, ...]] = ()
    reflects_enum_types: ClassVar[bool] = False
    """Enums are named types of their own, listed by the inspector (and left by DROP TABLE)."""

    def role_module(self, role: str) -> ModuleType | None:
        """The family's module `role` (e.g. "containers"), else its parent family's; None
        when no family up to `Backend` has one."""
        for cls in type(self).__mro__:
            if cls is Backend:
                break
            name = f"{cls.__module__}.{role}"
            try:
                return importlib.import_module(name)
            except ModuleNotFoundError as exc:
                if exc.name != name:
                    raise
        return None

    def _role(self, role: str, attribute: str) -> Any:
        module = self.role_module(role)
        return getattr(module, attribute) if module is not None else None

    def reaches(self, kind: str) -> bool:
        """Whether a backend of this family may be served by a server of family `kind`."""
        return kind == self.kind or kind in self.server_kinds

    def served_by(self, info: ServerInfo) -> Backend:
        """The family of the server behind a connection (the mysql dialect may reach MariaDB)."""
        from pytest_dbmatrix.backends import FAMILIES

        for kind in sorted(self.server_kinds - {self.kind}):
            if FAMILIES[kind].product == info.product:
                return FAMILIES[kind]
        return self

    @property
    def offline_url(self) -> str:
        """The URL Alembic renders offline (--sql) SQL with, for this family's dialect."""
        return f"{self.kind}://"

    def container_recipe(self) -> ContainerRecipe | None:
        """How to run the family's official image; None when it has no container recipe."""
        recipe: ContainerRecipe | None = self._role("containers", "RECIPE")
        return recipe

    def local_recipe(self) -> LocalRecipe | None:
        """How to start a throwaway server from local binaries; None when it cannot be."""
        recipe: LocalRecipe | None = self._role("local", "RECIPE")
        return recipe

    def fact_gatherers(self) -> tuple[Gatherer, ...]:
        """What reads the family's environment facts, topic by topic; () when none does."""
        gatherers: tuple[Gatherer, ...] = self._role("facts", "GATHERERS") or ()
        return gatherers

    def probe_server_info(self, probe: Probe) -> ServerInfo:
        """Product and version as the server states them, read through a probe."""
        module = self.role_module("facts")
        if module is None:
            raise NotImplementedError(f"no environment facts for {self.kind}")
        info: ServerInfo = module.server_info(probe)
        return info

    def identity_query(self) -> str | None:
        """SQL answering (user, database) of a connection; None when there is none."""
        query: str | None = self._role("facts", "WHO_AM_I")
        return query

    def scratch_sql(self) -> ScratchDialect | None:
        """How the doctor spells its scratch objects on this family."""
        scratch: ScratchDialect | None = self._role("facts", "SCRATCH")
        return scratch

    def server_driver(self, name: str) -> tuple[str, dict[str, str]]:
        """The SQLAlchemy driver and URL query to reach a server the plugin starts."""
        if importlib.util.find_spec(self.driver_module) is None:
            raise BackendUnavailable(
                name, f"the driver {self.driver_module} is not installed: pip install "
                f"'pytest-dbmatrix[{self.extra}]'")
        return self.default_driver, {}

    def with_driver_defaults(self, url: URL) -> URL:
        """`url` with the driver settings the family needs and the user did not give."""
        return url

    def schema_fingerprint(self, conn: Any) -> str | None:
        """A cheap summary of the schema such that equal fingerprints mean equal migration
        snapshots (a superset of what they reflect); None: take a full snapshot each time."""
        return None

    def changed_kinds(self, before: str, after: str) -> frozenset[str] | None:
        """What a snapshot may read differently between schemas with these two fingerprints
        (reflection kinds, "tables", "enums"), so that the rest is reused; None: anything."""
        return None

    def changed_tables(self, before: str, after: str) -> frozenset[str] | None:
        """The tables whose reflections may differ between schemas with these two
        fingerprints (those of changed_kinds); None: any table."""
        return None

    def drivers(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.sync_drivers + self.async_drivers))

    def with_driver(self, url: URL, driver: str) -> URL:
        return url.set(drivername=f"{url.get_backend_name()}+{driver}")

    def async_url(self, url: URL, driver: str | None = None) -> URL:
        """`url`'s database through an async driver: `driver`, or the family's default."""
        chosen = driver or (self.async_drivers[0] if self.async_drivers else None)
        if chosen is None or chosen not in self.async_drivers:
            known = ", ".join(self.async_drivers) or "none"
            raise ValueError(f"{self.kind} has no async driver {chosen!r} (known: {known})")
        return url.set(drivername=f"{url.get_backend_name()}+{chosen}")

    def compile_dialect(self) -> sa.engine.Dialect:
        """A dialect instance for compiling DDL with no server."""
        return sa.create_mock_engine(f"{self.default_driver}://", lambda *a, **k: None).dialect

    def connect_args(self, url: URL, timeout: float) -> dict[str, Any]:
        """Driver arguments that bound the time spent connecting."""
        return {}

    def engine_options(self, url: URL) -> dict[str, Any]:
        """Extra `create_engine` options for engines of this family."""
        return {}

    def prepare_engine(self, engine: Engine, *, foreign_keys: bool, durable: bool = False) -> None:
        """Install connect/begin events an engine of this family needs."""

    def server_info(self, conn: Connection) -> ServerInfo:
        raise NotImplementedError

    def database_url(self, url: URL, database: str) -> URL:
        return url.set(database=database)

    def list_databases(self, conn: Connection) -> list[str]:
        raise NotImplementedError

    def raw_table_names(self, dbapi_connection: Any) -> set[str]:
        """Tables of the current database through a DBAPI cursor (usable inside events)."""
        raise NotImplementedError

    def create_database(self, conn: Connection, name: str) -> None:
        raise NotImplementedError

    def drop_database(self, conn: Connection, name: str) -> None:
        raise NotImplementedError

    def relax_durability(self, conn: Connection, name: str) -> None:
        """Let commits to the scratch database `name` (just created, nothing connected yet)
        return before they are on disk, where the server allows it for one database: the
        migration checks commit after every step. Nothing by default."""

    def drop_tables(self, conn: Connection, names: Sequence[str]) -> None:
        """Drop these tables (quoted names, children first) of a schema being torn down."""
        for name in names:
            conn.exec_driver_sql(f"DROP TABLE {name}")

    def static_dialect(self) -> sa.engine.Dialect:
        """The dialect the static tier compiles with: `static_dialect_class` (module:class),
        as if connected to a `static_server_version` server."""
        module, _, name = self.static_dialect_class.partition(":")
        dialect: sa.engine.Dialect = getattr(importlib.import_module(module), name)()
        if self.static_server_version:
            dialect.server_version_info = self.static_server_version
        return dialect

    def describe_dialect(self, url: URL, server: ServerInfo) -> str | None:
        """A note when the dialect and the server differ (mysql dialect on MariaDB)."""
        return None

    # --- bounds: every wait of a run ends (issue 19) --------------------------------------

    statement_timeout_setting: ClassVar[str] = ""
    """The server or driver setting that carries --dbmatrix-statement-timeout."""

    def bounded_connect_args(self, url: URL, bounds: Bounds) -> dict[str, Any]:
        """Driver arguments for the statement timeout and the dead-host bound."""
        return {}

    def bound_engine(self, engine: Engine, bounds: Bounds) -> None:
        """Connect/execute events that apply the bounds the driver arguments cannot."""

    def bound_locks(self, conn: Connection, seconds: float) -> None:
        """Make the plugin's own DDL and cleanup on `conn` fail after `seconds` of lock wait."""

    def is_statement_timeout(self, orig: BaseException) -> bool:
        """Whether a driver error is the statement timeout's cancellation."""
        return False

    reply_timeout_setting: ClassVar[str] = ""
    """The client-side setting that bounds a wait for a reply by the statement timeout plus
    the dead-host bound, where its expiry is no driver error of its own (is_reply_timeout)."""

    def is_reply_timeout(self, orig: BaseException, driver: str) -> bool:
        """Whether `orig`, raised through `driver`, is that client-side bound expiring."""
        return False

    def describe_leak(self, dbapi_connection: Any, probe: Callable[[], Engine]) -> str:
        """What a connection left open holds ("in a transaction holding locks on t"); `probe`
        makes an engine for a separate connection to ask the server."""
        return ""

    def cancel(self, dbapi_connection: Any) -> None:
        """Cancel the statement running on `dbapi_connection`, called from another thread on
        Ctrl-C: for drivers that wait in C and retry on signals (so hear of Ctrl-C only when
        the statement ends). Drivers a signal interrupts need nothing."""

    def end_sessions(self, conn: Connection, database: str) -> list[str]:
        """End the sessions connected to the run's own `database` (never any other), from
        the admin connection `conn`; a description of each ended session."""
        return []


class Bounds(NamedTuple):
    """The run's bounds on a connection's waits, in seconds (None: off)."""

    statement_timeout: float | None = None
    dead_host_timeout: float = 60.0


def keepalive(sock: Any, seconds: float) -> None:
    """TCP keepalives and TCP_USER_TIMEOUT on a driver's socket, as libpq's keepalives* and
    tcp_user_timeout: a server that stops answering fails the connection within `seconds`."""
    if sock is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for name, value in (("TCP_KEEPIDLE", max(1, round(seconds / 2))),
                        ("TCP_KEEPINTVL", max(1, round(seconds / 8))), ("TCP_KEEPCNT", 4),
                        ("TCP_USER_TIMEOUT", max(1, round(seconds * 1000)))):
        if hasattr(socket, name):
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), value)


def transport_socket(transport: Any) -> Any:
    """The socket under an asyncio transport (async drivers), or None."""
    return transport.get_extra_info("socket") if transport is not None else None


def driver_connection(dbapi_connection: Any) -> Any:
    """The driver's own connection: under SQLAlchemy's adapter for an async driver, else it."""
    return getattr(dbapi_connection, "driver_connection", dbapi_connection)


def numeric_version(conn: Connection) -> tuple[int, ...]:
    """The numeric parts of the dialect's `server_version_info`."""
    return tuple(v for v in conn.dialect.server_version_info or () if isinstance(v, int))


def checked_identifier(name: str) -> str:
    """Refuse a database name that would need quoting: the plugin only makes simple ones."""
    if not SAFE_IDENTIFIER.match(name):
        raise ValueError(f"unsafe database name {name!r}")
    return name
