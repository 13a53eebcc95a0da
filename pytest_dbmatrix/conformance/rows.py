"""Insert rows for the suite inside one transaction: parents first, plain values elsewhere."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection

from pytest_dbmatrix.backends import family_of
from pytest_dbmatrix.conformance.schema import SchemaPlan, foreign_keys
from pytest_dbmatrix.conformance.values import CannotGenerate, base_value

Row = dict[str, Any]


class Rejected(Exception):
    """The database (or the type's bind processing) refused an insert or update."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error

    @property
    def by_server(self) -> bool:
        return isinstance(self.error, sa_exc.DBAPIError)


class Rows:
    """Makes and inserts rows of any table of the plan, with the parents they need."""

    def __init__(self, conn: Connection, plan: SchemaPlan) -> None:
        self.conn = conn
        self.plan = plan
        self.counter = itertools.count(1)
        self.parents: dict[str, Row] = {}
        self._building: set[str] = set()
        self.atomic = family_of(conn.dialect).atomic_statements
        self.read_back: Row | None = None

    def values(self, table: sa.Table, *, all_foreign_keys: bool = False) -> Row:
        """A valid row: required columns filled, foreign keys pointing at inserted parents."""
        n = next(self.counter)
        row: Row = {}
        fk_columns = {c.key for fk in foreign_keys(table) for c in fk.columns}
        for column in table.columns:
            if column is table.autoincrement_column or column.key in fk_columns:
                continue
            if column.computed is not None or column.identity is not None:
                continue
            if column.primary_key or self._required(column):
                row[column.key] = base_value(column, n)
        for fk in foreign_keys(table):
            needed = any(not c.nullable for c in fk.columns)
            if fk.referred_table is table:
                if needed:
                    raise CannotGenerate(f"{table.name} has a required reference to itself")
                continue
            if needed or all_foreign_keys:
                parent = (self.new_parent(fk.referred_table) if keyed_by_parents(table, fk)
                          else self.parent(fk.referred_table))
                for column, element in zip(fk.columns, fk.elements, strict=True):
                    row[column.key] = parent[element.column.key]
        return row

    @staticmethod
    def _required(column: sa.Column[Any]) -> bool:
        return (not column.nullable and column.default is None
                and column.server_default is None)

    def parent(self, table: sa.Table) -> Row:
        """A row of `table`, inserted once per transaction, as a dict of all its columns."""
        if table.key in self.parents:
            return self.parents[table.key]
        if table.key in self._building:
            raise CannotGenerate(f"required foreign keys form a cycle through {table.name}")
        self._building.add(table.key)
        try:
            self.parents[table.key] = self.insert(table, self.values(table))
        except Rejected as exc:
            raise CannotGenerate(f"a row of the parent table {table.name} was rejected: "
                                 f"{exc.error.__class__.__name__}") from None
        finally:
            self._building.discard(table.key)
        return self.parents[table.key]

    def new_parent(self, table: sa.Table) -> Row:
        """Another row of `table`, for a child whose primary key is made of its references
        (an association table): a shared parent would make every second row a duplicate."""
        if table.key not in self.parents:
            return self.parent(table)
        try:
            return self.insert(table, self.values(table))
        except Rejected as exc:
            raise CannotGenerate(f"a row of the parent table {table.name} was rejected: "
                                 f"{exc.error.__class__.__name__}") from None

    def insert(self, table: sa.Table, values: Row) -> Row:
        """Insert in a savepoint and read the row back (all columns, by primary key)."""
        with self.savepoint():
            result = self.conn.execute(table.insert().values(values))
            key = self._key(table, values, result.inserted_primary_key)
        self.read_back = self.fetch(table, key)
        return self.read_back or dict(values)

    def _key(self, table: sa.Table, values: Row, inserted: Any) -> Row:
        columns = list(table.primary_key.columns)
        if not columns:
            return {k: v for k, v in values.items()
                    if not isinstance(v, sa.sql.ClauseElement)}
        return {c.key: (values[c.key] if inserted is None or inserted[i] is None else inserted[i])
                for i, c in enumerate(columns)}

    def fetch(self, table: sa.Table, key: Row) -> Row | None:
        found = self.conn.execute(sa.select(table).where(*where(table, key))).first()
        return dict(found._mapping) if found is not None else None

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Run a statement in a savepoint; a refusal rolls back to it and raises Rejected.
        Where statements are atomic, the statement alone is undone and no savepoint is made."""
        if self.atomic:
            try:
                yield
            except (sa_exc.StatementError, ValueError, TypeError, LookupError) as exc:
                raise Rejected(exc) from None
            return
        nested = self.conn.begin_nested()
        try:
            yield
        except (sa_exc.StatementError, ValueError, TypeError, LookupError) as exc:
            if nested.is_active:
                nested.rollback()
            raise Rejected(exc) from None
        else:
            nested.commit()

    def attempt(self, statement: sa.sql.Executable) -> tuple[Any, Exception | None]:
        """Execute in a savepoint that is always rolled back: (rowcount, error)."""
        nested = self.conn.begin_nested()
        try:
            result = self.conn.execute(statement)
            return result.rowcount, None
        except (sa_exc.StatementError, ValueError, TypeError, LookupError) as exc:
            return None, exc
        finally:
            if nested.is_active:
                nested.rollback()


def where(table: sa.Table, key: Row) -> list[sa.ColumnElement[bool]]:
    return [table.c[k] == v if v is not None else table.c[k].is_(None) for k, v in key.items()]


def keyed_by_parents(table: sa.Table, fk: sa.ForeignKeyConstraint) -> bool:
    """The table's primary key consists of foreign key columns only, and `fk` is among them."""
    key = {c.key for c in table.primary_key.columns}
    references = {c.key for f in foreign_keys(table) for c in f.columns}
    return bool(key) and key <= references and bool(key & {c.key for c in fk.columns})
