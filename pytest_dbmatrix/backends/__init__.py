"""The database families the plugin knows, and how a backend name maps to one."""

from __future__ import annotations

from pytest_dbmatrix.backends.base import Backend
from pytest_dbmatrix.backends.mariadb import MariaDBBackend
from pytest_dbmatrix.backends.mssql import MSSQLBackend
from pytest_dbmatrix.backends.mysql import MySQLBackend
from pytest_dbmatrix.backends.postgresql import PostgreSQLBackend
from pytest_dbmatrix.backends.sqlite import SQLiteBackend

FAMILIES: dict[str, Backend] = {
    b.kind: b
    for b in (
        SQLiteBackend(), PostgreSQLBackend(), MySQLBackend(), MariaDBBackend(), MSSQLBackend()
    )
}
KNOWN = tuple(FAMILIES)
URL_FAMILY = {"postgres": "postgresql", "sqlite": "sqlite", "mysql": "mysql",
              "mariadb": "mariadb", "mssql": "mssql", "postgresql": "postgresql"}


def family_for(name: str, url_backend: str | None = None) -> Backend | None:
    """The family of a named backend: from its URL if given, else the longest known prefix."""
    if url_backend:
        return FAMILIES.get(URL_FAMILY.get(url_backend, url_backend))
    matches = [k for k in FAMILIES if name.startswith(k)]
    return FAMILIES[max(matches, key=len)] if matches else None


__all__ = ["FAMILIES", "KNOWN", "Backend", "family_for"]
