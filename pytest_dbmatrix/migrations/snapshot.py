"""Reflection snapshots: a database schema as plain comparable data, and their differences."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect

from pytest_dbmatrix.backends import family_of

Snapshot = dict[str, Any]
VERSION_TABLE = "alembic_version"
TMP_PREFIX = "_alembic_tmp_"


def _type(type_: Any, dialect: Dialect) -> str:
    try:
        return str(type_.compile(dialect=dialect))
    except Exception:
        return repr(type_)


def _columns(cols: list[dict[str, Any]], dialect: Dialect) -> dict[str, dict[str, Any]]:
    return {c["name"]: {"type": _type(c["type"], dialect), "nullable": bool(c["nullable"]),
                        "default": None if c.get("default") is None else str(c["default"])}
            for c in cols}


def _named(items: list[dict[str, Any]], *keys: str) -> list[tuple[Any, ...]]:
    rows = []
    for item in items:
        rows.append(tuple(tuple(v) if isinstance(v := item.get(k), list) else v for k in keys))
    return sorted(rows, key=repr)


def _multi(inspector: sa.Inspector, method: str, tables: list[str]) -> dict[str, Any]:
    """`get_multi_<method>` keyed by table name; empty where the dialect has no such reflection."""
    try:
        found = getattr(inspector, f"get_multi_{method}")(filter_names=tables)
    except NotImplementedError:
        return {}
    return {key[1]: value for key, value in found.items()}


def table_names(conn: Connection) -> list[str]:
    return sorted(sa.inspect(conn).get_table_names())


EVERYTHING = ("columns", "pk_constraint", "foreign_keys", "indexes", "unique_constraints",
              "check_constraints")
KEYS_AND_COLUMNS = ("columns", "pk_constraint", "foreign_keys")
"""What the rows checks build their tables from: half of a snapshot's catalog reads."""


@dataclass
class Reflection:
    """One inspector's read of the tables (`get_multi_<kind>` by table name), kept so that a
    check can build sa.Table objects from it (`data.Tables`) without reading again."""

    tables: list[str]
    multi: dict[str, dict[str, Any]]
    enums: list[str] | None = None


def reflect(conn: Connection, kinds: tuple[str, ...] = EVERYTHING,
            version_table: str = VERSION_TABLE) -> Reflection:
    inspector = sa.inspect(conn)
    tables = _tables(inspector, version_table)
    multi = {m: _multi(inspector, m, tables) if tables else {} for m in kinds}
    enums = _enums(inspector, conn) if kinds == EVERYTHING else None
    return Reflection(tables, multi, enums)


def _tables(inspector: sa.Inspector, version_table: str) -> list[str]:
    return [t for t in sorted(inspector.get_table_names()) if t != version_table]


def _enums(inspector: sa.Inspector, conn: Connection) -> list[str] | None:
    if not family_of(conn.dialect).reflects_enum_types:
        return None
    found = inspector.get_enums()  # type: ignore[attr-defined]
    return sorted(f"{e['name']}({', '.join(e['labels'])})" for e in found)


def reflect_since(conn: Connection, previous: Reflection, before: str | None,
                  now: str | None) -> Reflection:
    """The schema now, reading again only what the family says can differ between the
    fingerprints of `previous` (`before`) and now; the rest is `previous`'s. A migration
    step changes one or two kinds of objects: on PostgreSQL an added column or index is two
    catalog queries instead of eight."""
    family = family_of(conn.dialect)
    if before is None or now is None:
        return reflect(conn)
    changed = family.changed_kinds(before, now)
    if changed is None or set(previous.multi) != set(EVERYTHING):
        return reflect(conn)
    inspector = sa.inspect(conn)
    tables = previous.tables
    if "tables" in changed:
        tables = _tables(inspector, VERSION_TABLE)
    where = family.changed_tables(before, now)
    if where is not None and not all(SIMPLE_NAME.fullmatch(t) for t in tables):
        where = None  # a name the family's lines may not give whole
    multi = {m: _read_again(inspector, m, tables, previous.multi[m], where) if m in changed
             else previous.multi[m] for m in EVERYTHING}
    enums = _enums(inspector, conn) if "enums" in changed else previous.enums
    return Reflection(tables, multi, enums)


SIMPLE_NAME = re.compile(r"[\w$]+")


def _read_again(inspector: sa.Inspector, kind: str, tables: list[str],
                previous: dict[str, Any], where: frozenset[str] | None) -> dict[str, Any]:
    """`kind` of `tables` read again: of those in `where` and those `previous` lacks only,
    the rest kept (a step that creates a table reads its catalog rows, not every table's:
    6 ms instead of 9-14 at ten tables on PostgreSQL here)."""
    if where is None:
        return _multi(inspector, kind, tables) if tables else {}
    again = [t for t in tables if t in where or t not in previous]
    kept = {t: previous[t] for t in tables if t in previous and t not in where}
    return kept | (_multi(inspector, kind, again) if again else {})


def take(conn: Connection, version_table: str = VERSION_TABLE) -> Snapshot:
    """Tables with columns, keys, indexes and checks, plus PostgreSQL enum types."""
    return of(reflect(conn, version_table=version_table), conn.dialect)


def of(reflection: Reflection, dialect: Dialect) -> Snapshot:
    multi = reflection.multi
    snapshot: Snapshot = {"tables": {}}
    for name in reflection.tables:
        pk = multi["pk_constraint"].get(name) or {}
        snapshot["tables"][name] = {
            "columns": _columns(multi["columns"].get(name, []), dialect),
            "primary_key": sorted(pk.get("constrained_columns") or []),
            "foreign_keys": _named(multi["foreign_keys"].get(name, []), "constrained_columns",
                                   "referred_table", "referred_columns"),
            "indexes": _named(multi["indexes"].get(name, []), "column_names", "unique"),
            "unique": _named(multi["unique_constraints"].get(name, []), "column_names"),
            "checks": _named(multi["check_constraints"].get(name, []), "sqltext"),
        }
    if reflection.enums is not None:
        snapshot["enums"] = reflection.enums
    return snapshot


def _diff_dict(path: str, before: dict[str, Any], after: dict[str, Any],
               nested: Callable[[str, Any, Any], list[str]] | None = None) -> list[str]:
    lines = []
    for key in sorted(set(before) | set(after)):
        if key not in after:
            lines.append(f"{path}{key}: missing (was {before[key]!r})")
        elif key not in before:
            lines.append(f"{path}{key}: added ({after[key]!r})")
        elif before[key] != after[key]:
            if nested:
                lines += nested(f"{path}{key}.", before[key], after[key])
            else:
                lines.append(f"{path}{key}: {before[key]!r} -> {after[key]!r}")
    return lines


def _diff_table(path: str, before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    lines = _diff_dict(path + "columns.", before["columns"], after["columns"], _diff_column)
    for key in ("primary_key", "foreign_keys", "indexes", "unique", "checks"):
        if before[key] != after[key]:
            lines.append(f"{path}{key}: {before[key]!r} -> {after[key]!r}")
    return lines


def _diff_column(path: str, before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    return _diff_dict(path, before, after)


def diff(before: Snapshot, after: Snapshot) -> list[str]:
    """Human-readable differences; empty when the two schemas are the same."""
    lines = _diff_dict("table ", before["tables"], after["tables"], _diff_table)
    lines = [line.replace(": missing (was {", ": missing (was table {") for line in lines]
    for enum in sorted(set(after.get("enums", [])) - set(before.get("enums", []))):
        lines.append(f"enum type {enum}: left behind")
    for enum in sorted(set(before.get("enums", [])) - set(after.get("enums", []))):
        lines.append(f"enum type {enum}: missing")
    return lines


def tmp_tables(snapshot: Snapshot) -> list[str]:
    return [t for t in snapshot["tables"] if t.startswith(TMP_PREFIX)]


def fingerprint(conn: Connection) -> str | None:
    """A cheap summary of the schema such that equal fingerprints mean equal snapshots (it
    records a superset of what `take` reflects): the family's, None where it has none (a
    full snapshot is then taken every time)."""
    return family_of(conn.dialect).schema_fingerprint(conn)
