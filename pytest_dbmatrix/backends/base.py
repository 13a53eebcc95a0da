"""What every database family must tell and do: capabilities and provisioning by dispatch."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, ClassVar, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine

SAFE_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


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

    def describe_dialect(self, url: URL, server: ServerInfo) -> str | None:
        """A note when the dialect and the server differ (mysql dialect on MariaDB)."""
        return None

    def matches(self, names: Iterable[str]) -> bool:
        return self.kind in names


def numeric_version(conn: Connection) -> tuple[int, ...]:
    """The numeric parts of the dialect's `server_version_info`."""
    return tuple(v for v in conn.dialect.server_version_info or () if isinstance(v, int))


def checked_identifier(name: str) -> str:
    """Refuse a database name that would need quoting: the plugin only makes simple ones."""
    if not SAFE_IDENTIFIER.match(name):
        raise ValueError(f"unsafe database name {name!r}")
    return name
