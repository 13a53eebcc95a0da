"""The database families the plugin knows, and how a backend name maps to one.

Each family's module is imported the first time the family is looked up: a run on SQLite alone
never imports the other four."""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping

from pytest_dbmatrix.backends.base import Backend

MODULES = {
    "sqlite": ("sqlite", "SQLiteBackend"),
    "postgresql": ("postgresql", "PostgreSQLBackend"),
    "mysql": ("mysql", "MySQLBackend"),
    "mariadb": ("mariadb", "MariaDBBackend"),
    "mssql": ("mssql", "MSSQLBackend"),
}
"""kind -> (module in this package, class): the registry, in the order the report lists them."""
KNOWN = tuple(MODULES)
URL_FAMILY = {"postgres": "postgresql", "sqlite": "sqlite", "mysql": "mysql",
              "mariadb": "mariadb", "mssql": "mssql", "postgresql": "postgresql"}


class Families(Mapping[str, Backend]):
    """kind -> the family's one Backend instance, made on first lookup."""

    def __init__(self) -> None:
        self._made: dict[str, Backend] = {}

    def __getitem__(self, kind: str) -> Backend:
        family = self._made.get(kind)
        if family is None:
            module, cls = MODULES[kind]
            imported = importlib.import_module(f"{__name__}.{module}")
            family = self._made[kind] = getattr(imported, cls)()
        return family

    def __iter__(self) -> Iterator[str]:
        return iter(MODULES)

    def __len__(self) -> int:
        return len(MODULES)


FAMILIES = Families()


def family_for(name: str, url_backend: str | None = None) -> Backend | None:
    """The family of a named backend: from its URL if given, else the longest known prefix."""
    if url_backend:
        kind = URL_FAMILY.get(url_backend, url_backend)
        return FAMILIES[kind] if kind in MODULES else None
    matches = [k for k in MODULES if name.startswith(k)]
    return FAMILIES[max(matches, key=len)] if matches else None


__all__ = ["FAMILIES", "KNOWN", "Backend", "family_for"]
