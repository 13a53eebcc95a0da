"""The models as the suite sees them: tables in creation order, FK cycles, keys to probe."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.schema import sort_tables_and_constraints

CASCADING = frozenset({"CASCADE", "SET NULL", "SET DEFAULT"})


@dataclass
class SchemaPlan:
    """Creation order and the FK constraints that close cycles (added with ALTER afterwards)."""

    metadata: sa.MetaData
    order: list[sa.Table] = field(default_factory=list)
    inline: dict[str, list[sa.ForeignKeyConstraint]] = field(default_factory=dict)
    cycle: list[sa.ForeignKeyConstraint] = field(default_factory=list)
    cascade_conflicts: dict[str, list[tuple[sa.ForeignKeyConstraint, str]]] | None = None
    """Computed once per plan by `static.cascade_conflicts`."""

    @classmethod
    def of(cls, metadata: sa.MetaData) -> SchemaPlan:
        plan = cls(metadata)
        tables = list(metadata.tables.values())
        for table, fkcs in sort_tables_and_constraints(tables):  # type: ignore[no-untyped-call]
            if table is None:
                plan.cycle = list(fkcs)
            else:
                plan.order.append(table)
                plan.inline[table.key] = list(fkcs)
        return plan

    def table(self, key: str) -> sa.Table:
        return self.metadata.tables[key]

    def parents(self, table: sa.Table) -> list[str]:
        return sorted({fk.referred_table.key for fk in foreign_keys(table)
                       if fk.referred_table is not table})


def unique_sets(table: sa.Table) -> list[tuple[str, list[sa.Column[object]]]]:
    """Unique constraints and unique indexes: a name to show and their columns."""
    found = []
    for constraint in table.constraints:
        if isinstance(constraint, sa.UniqueConstraint) and constraint.columns:
            found.append((_name(constraint.name, "unique"), list(constraint.columns)))
    for index in table.indexes:
        if index.unique and index.columns:
            found.append((_name(index.name, "unique index"), list(index.columns)))
    return found


def key_sets(table: sa.Table) -> list[tuple[str, list[sa.Column[object]], bool]]:
    """Primary key, unique sets and indexes: (name, columns, is the primary key)."""
    found: list[tuple[str, list[sa.Column[object]], bool]] = []
    if table.primary_key.columns:
        found.append(("primary key", list(table.primary_key.columns), True))
    for constraint in table.constraints:
        if isinstance(constraint, sa.UniqueConstraint) and constraint.columns:
            found.append((_name(constraint.name, "unique"), list(constraint.columns), False))
    for index in table.indexes:
        columns = [c for c in index.expressions if isinstance(c, sa.Column)]
        if columns:
            found.append((_name(index.name, "index"), columns, False))
    return found


def check_columns(table: sa.Table, check: sa.CheckConstraint) -> list[sa.Column[object]]:
    """Columns a CHECK mentions: from its expression, else by name in its SQL text."""
    text = str(check.sqltext)
    return [c for c in table.columns if re.search(rf"\b{re.escape(c.name)}\b", text)]


def user_checks(table: sa.Table) -> list[sa.CheckConstraint]:
    """CHECK constraints written by the user, not those Boolean/Enum types add."""
    found = [*table.constraints, *(c for column in table.columns for c in column.constraints)]
    return [c for c in found if isinstance(c, sa.CheckConstraint)
            and not getattr(c, "_type_bound", False)]


def _name(name: object, kind: str) -> str:
    return str(name) if isinstance(name, str) else kind


def _has(columns: object, column: sa.Column[object]) -> bool:
    return any(c is column for c in columns)  # type: ignore[attr-defined]


def in_unique(column: sa.Column[object]) -> bool:
    """Part of a unique constraint or unique index (not the primary key)."""
    table = column.table
    return bool(column.unique) or any(
        _has(c.columns, column) for c in table.constraints
        if isinstance(c, sa.UniqueConstraint)) or any(
        _has(i.columns, column) for i in table.indexes if i.unique)


def checked(column: sa.Column[object]) -> bool:
    """Mentioned by a CHECK the user wrote: its values may be refused on purpose."""
    return any(_has(check_columns(column.table, c), column) for c in user_checks(column.table))


def foreign_keys(table: sa.Table) -> list[sa.ForeignKeyConstraint]:
    """The table's foreign keys in declaration order (the set SQLAlchemy keeps has none)."""
    return sorted(table.foreign_key_constraints,
                  key=lambda fk: getattr(fk, "_creation_order", 0))
