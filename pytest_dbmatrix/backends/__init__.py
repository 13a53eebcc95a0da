"""The database families the plugin knows, and how a backend, URL or dialect name maps to one.

Each family's module is imported the first time the family is looked up: a run on SQLite alone
never imports the others. Live families can be selected as backends and run tests; offline-only
ones (Oracle) are compiled for and rendered offline, never provisioned."""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import NamedTuple

from sqlalchemy.engine import Dialect

from pytest_dbmatrix.backends.base import Backend


class Entry(NamedTuple):
    """Where a family is defined, whether it runs tests, and other names its URLs use."""

    module: str
    cls: str
    live: bool = True
    aliases: tuple[str, ...] = ()


REGISTRY = {
    "sqlite": Entry("sqlite", "SQLiteBackend"),
    "postgresql": Entry("postgresql", "PostgreSQLBackend", aliases=("postgres",)),
    "mysql": Entry("mysql", "MySQLBackend"),
    "mariadb": Entry("mariadb", "MariaDBBackend"),
    "mssql": Entry("mssql", "MSSQLBackend"),
    "oracle": Entry("oracle", "OracleBackend", live=False),
}
"""kind (= its SQLAlchemy dialect name) -> its entry, in the order the report lists them."""
LIVE = tuple(kind for kind, entry in REGISTRY.items() if entry.live)
"""The families a backend can be: what `--dbmatrix=all` selects."""
OFFLINE_ONLY = tuple(kind for kind, entry in REGISTRY.items() if not entry.live)
KNOWN = LIVE
_BY_NAME = {name: kind for kind, entry in REGISTRY.items() for name in (kind, *entry.aliases)}


class Families(Mapping[str, Backend]):
    """kind -> the family's one Backend instance, made on first lookup; live and offline."""

    def __init__(self) -> None:
        self._made: dict[str, Backend] = {}

    def __getitem__(self, kind: str) -> Backend:
        family = self._made.get(kind)
        if family is None:
            module, cls = REGISTRY[kind][:2]
            imported = importlib.import_module(f"{__name__}.{module}")
            family = self._made[kind] = getattr(imported, cls)()
        return family

    def __iter__(self) -> Iterator[str]:
        return iter(REGISTRY)

    def __len__(self) -> int:
        return len(REGISTRY)


FAMILIES = Families()


def family_for(name: str, url_backend: str | None = None) -> Backend | None:
    """The live family of a named backend: from its URL if given, else the longest known
    prefix of its name. None for unknown and offline-only families."""
    if url_backend:
        kind = _BY_NAME.get(url_backend)
        return FAMILIES[kind] if kind in LIVE else None
    matches = [k for k in LIVE if name.startswith(k)]
    return FAMILIES[max(matches, key=len)] if matches else None


def for_dialect(dialect_name: str) -> Backend | None:
    """The family of a SQLAlchemy dialect (`conn.dialect.name`), live or offline-only."""
    kind = _BY_NAME.get(dialect_name)
    return FAMILIES[kind] if kind else None


def family_of(dialect: Dialect) -> Backend:
    """The family of the dialect a connection or engine uses; an unknown dialect is an error."""
    family = for_dialect(dialect.name)
    if family is None:
        raise LookupError(f"dbmatrix knows no database family for dialect {dialect.name!r}")
    return family


__all__ = ["FAMILIES", "KNOWN", "LIVE", "OFFLINE_ONLY", "Backend", "family_for", "family_of",
           "for_dialect"]
