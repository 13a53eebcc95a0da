"""Generated rows for every table, and what a revision did to the rows already there."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pytest_dbmatrix.errors import normalise
from pytest_dbmatrix.migrations import snapshot
from pytest_dbmatrix.migrations.snapshot import TMP_PREFIX

TableRows = dict[tuple[Any, ...], dict[str, Any]]
"""Rows of one table by primary key, as (column, value) pairs (or by position when it has
none), values normalised."""
TEXT = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMN"
IMPLICIT_DEFAULTS = frozenset({"", "0", "0000-00-00", "0000-00-00 00:00:00", "00:00:00"})
"""What MySQL/MariaDB write into the rows of a NOT NULL column added without a default (as
`normalised` reads them; measured on MariaDB 10.11 in strict mode): '' and 0, zero dates."""


def reflect(conn: Connection) -> sa.MetaData:
    """The tables as the seeder and the reader use them: columns, primary and foreign keys."""
    return Tables().of(snapshot.reflect(conn, snapshot.KEYS_AND_COLUMNS))


class _Built(NamedTuple):
    """A Table `Tables` built: from what, and what its foreign keys refer to."""

    entries: tuple[Any, ...]
    """Its reflected columns, primary key and foreign keys."""
    printed: str
    """repr(entries), to compare with entries read again."""
    named: frozenset[str]
    """The tables its foreign keys name."""
    linked: frozenset[str]
    """Those of them that were there when it was built: its constraints refer to those."""


class Tables:
    """sa.Table objects built from a reflection's columns and keys as SQLAlchemy's own
    reflection builds them, without its other catalog reads (indexes, constraints, comments:
    on PostgreSQL a MetaData.reflect is a dozen catalog queries, 25 ms at ten tables here).

    Of successive reflections of one database, in one MetaData: a table whose columns and
    keys read as before keeps its Table, so a revision that changes one table rebuilds that
    one (building them all was a third of the data check on PostgreSQL) and the statements
    compiled for the others stay in SQLAlchemy's cache. A table referring to one rebuilt is
    rebuilt too: a ForeignKey resolves its column once."""

    def __init__(self) -> None:
        self.metadata = sa.MetaData()
        self._built: dict[str, _Built] = {}

    def of(self, reflection: snapshot.Reflection) -> sa.MetaData:
        multi = reflection.multi
        names = [t for t in reflection.tables if not t.startswith(TMP_PREFIX)]
        present = set(names)
        entries = {n: tuple(multi[k].get(n) for k in snapshot.KEYS_AND_COLUMNS) for n in names}
        stale = {n for n in names if not self._same(n, entries[n], present)}
        stale |= set(self._built) - present
        while True:  # and those that refer to a stale one, transitively
            referrers = {n for n, built in self._built.items() if built.linked & stale} - stale
            if not referrers:
                break
            stale |= referrers
        for name in stale:
            if name in self.metadata.tables:
                self.metadata.remove(self.metadata.tables[name])
            self._built.pop(name, None)
        for name in names:
            if name in stale:
                named = self._build(name, multi, present)
                self._built[name] = _Built(entries[name], repr(entries[name]), named,
                                           named & present)
        return self.metadata

    def _same(self, name: str, entries: tuple[Any, ...], present: set[str]) -> bool:
        built = self._built.get(name)
        if built is None:
            return False
        if built.named & present != built.linked:  # a table it refers to came or went
            return False
        return all(a is b for a, b in zip(built.entries, entries, strict=True)) or \
            built.printed == repr(entries)  # read again but the same (types repr their args)

    def _build(self, name: str, multi: dict[str, dict[str, Any]], present: set[str]
               ) -> frozenset[str]:
        """Build `name`'s Table; returns the tables its foreign keys name."""
        pk = (multi["pk_constraint"].get(name) or {}).get("constrained_columns") or []
        columns = [_column(c) for c in multi["columns"].get(name, [])]
        fks = [fk for fk in multi["foreign_keys"].get(name, [])
               if fk.get("referred_schema") is None]
        keys = [sa.ForeignKeyConstraint(fk["constrained_columns"], [
            f"{fk['referred_table']}.{c}" for c in fk["referred_columns"]]) for fk in fks
            if fk["referred_table"] in present]
        primary = [sa.PrimaryKeyConstraint(*pk)] if pk else []
        sa.Table(name, self.metadata, *columns, *keys, *primary)
        return frozenset(fk["referred_table"] for fk in fks)


def _column(reflected: dict[str, Any]) -> sa.Column[Any]:
    """A column as `Inspector.reflect_table` makes it from the same reflected dict."""
    options = {k: reflected[k] for k in ("nullable", "autoincrement", "comment")
               if k in reflected}
    options.update(reflected.get("dialect_options") or {})
    args: list[Any] = []
    if reflected.get("default") is not None:
        args.append(sa.DefaultClause(sa.text(str(reflected["default"]))))
    if "computed" in reflected:
        args.append(sa.Computed(**reflected["computed"]))
    if "identity" in reflected:
        args.append(sa.Identity(**reflected["identity"]))
    return sa.Column(reflected["name"], reflected["type"], *args, **options)


def _text(type_: Any, n: int) -> str:
    length = min(getattr(type_, "length", None) or 40, 40)
    return (f"{n}~" + TEXT)[:length]


def _number(type_: Any, n: int) -> Any:
    if isinstance(type_, sa.Float):
        return n + 0.5
    scale = type_.scale or 0
    digits = (type_.precision or 10) - scale
    whole = n % (10 ** max(digits, 1))
    return Decimal(f"{whole}.{'7' * scale}") if scale else Decimal(whole)


def value_for(column: sa.Column[Any], n: int) -> Any:
    """A value of the column's type, distinct for each `n`; ... when none can be made."""
    t = column.type
    kinds: list[tuple[type[Any], Any]] = [
        (sa.Enum, lambda: t.enums[n % len(t.enums)] if t.enums else ...),  # type: ignore[attr-defined]
        (sa.Boolean, lambda: n % 2 == 0),
        (sa.Integer, lambda: n),
        (sa.Numeric, lambda: _number(t, n)),
        (sa.String, lambda: _text(t, n)),
        (sa.DateTime, lambda: dt.datetime(2024, 1, 1, 12) + dt.timedelta(days=n, seconds=n)),
        (sa.Date, lambda: dt.date(2024, 1, 1) + dt.timedelta(days=n)),
        (sa.Time, lambda: dt.time(n % 24, n % 60)),
        (sa.Interval, lambda: dt.timedelta(seconds=n)),
        (sa.LargeBinary, lambda: f"b{n}".encode()),
        (sa.JSON, lambda: {"n": n}),
        (sa.Uuid, lambda: uuid.UUID(int=n + 1)),
    ]
    for kind, make in kinds:
        if isinstance(t, kind):
            return make()
    return None if column.nullable else ...


def _generated_key(table: sa.Table) -> bool:
    """A single integer primary key the database numbers itself."""
    pk = list(table.primary_key.columns)
    return (len(pk) == 1 and isinstance(pk[0].type, sa.Integer)
            and not pk[0].foreign_keys and pk[0].autoincrement in (True, "auto"))


def _parent_values(conn: Connection, column: sa.Column[Any]) -> list[Any]:
    fk = next(iter(column.foreign_keys))
    target = fk.column
    if target.table is column.table:
        return []
    return list(conn.scalars(sa.select(target).distinct().limit(50)))


@dataclass
class Seeder:
    """Insert `rows` generated rows into every table, parents first; counts keep values unique."""

    rows: int = 2
    counter: int = 1000
    unseedable: dict[str, str] = field(default_factory=dict)
    shapes: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    """Each table's columns when it was last seeded."""

    def seed(self, conn: Connection, metadata: sa.MetaData | None = None,
             present: dict[str, TableRows] | None = None) -> set[str]:
        """Seed the tables (of `metadata`, reflected when not given) and commit; returns those
        written. Given their rows now (`present`), only the tables without rows or whose
        columns changed since they were seeded: rows of a shape the table has already would
        test nothing new, and re-seeding all of them was most of data_preserved's writes."""
        metadata = metadata if metadata is not None else reflect(conn)
        written = set()
        for table in metadata.sorted_tables:
            shape = tuple((c.name, repr(c.type), c.nullable) for c in table.columns)
            if present is not None and present.get(table.name) \
                    and self.shapes.get(table.name) == shape:
                continue
            if self._seed_table(conn, table):
                self.shapes[table.name] = shape
                written.add(table.name)
        conn.commit()
        return written

    def _row(self, conn: Connection, table: sa.Table, parents: dict[str, list[Any]]
             ) -> dict[str, Any] | None:
        self.counter += 1
        row: dict[str, Any] = {}
        for column in table.columns:
            if column.primary_key and _generated_key(table):
                continue
            if column.foreign_keys:
                values = parents[column.name]
                value = values[self.counter % len(values)] if values else None
                if value is None and not column.nullable:
                    return None
            else:
                value = value_for(column, self.counter)
            if value is ...:
                return None
            row[column.name] = value
        return row

    def _seed_table(self, conn: Connection, table: sa.Table) -> bool:
        parents = {c.name: _parent_values(conn, c) for c in table.columns if c.foreign_keys}
        made = [self._row(conn, table, parents) for _ in range(self.rows)]
        rows = [r for r in made if r is not None]
        if len(rows) < len(made):
            self.unseedable[table.name] = "no value can be generated for a NOT NULL column"
            return False
        try:
            with conn.begin_nested():
                conn.execute(table.insert(), rows)
        except sa.exc.DBAPIError as exc:
            self.unseedable[table.name] = normalise(exc).line
            return False
        return True


def normalised(value: Any) -> Any:
    """A representation that survives harmless type changes (5, 5.0 and Decimal('5') agree)."""
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, int | float | Decimal):
        try:
            return format(Decimal(str(value)).normalize(), "f")
        except InvalidOperation:
            return str(value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    if isinstance(value, uuid.UUID):
        return value.hex
    return value


def read(conn: Connection, metadata: sa.MetaData | None = None,
         only: Collection[str] | None = None) -> dict[str, TableRows]:
    """Every row of every table (of `metadata`, reflected when not given; of those named in
    `only` when given), by primary key."""
    data: dict[str, TableRows] = {}
    metadata = metadata if metadata is not None else reflect(conn)
    for table in metadata.sorted_tables:
        if only is not None and table.name not in only:
            continue
        pk = [c.name for c in table.primary_key.columns]
        rows: TableRows = {}
        for position, row in enumerate(conn.execute(_select_all(table)).mappings()):
            key = tuple((c, normalised(row[c])) for c in pk) if pk else (position,)
            rows[key] = {k: normalised(v) for k, v in row.items()}
        data[table.name] = rows
    return data


def _select_all(table: sa.Table) -> sa.Select[Any]:
    """select(table) through a lightweight table of the same name and typed columns: its
    cache key is made of those, so SQLAlchemy compiles it once, where a Table built anew
    after a revision missed the statement cache (compiling was two thirds of the time of
    reading the rows)."""
    light = sa.table(table.name, *(sa.column(c.name, c.type) for c in table.columns),
                     schema=table.schema)
    return sa.select(*light.columns)


@dataclass(frozen=True)
class Loss:
    """Data a revision lost: kind is rename-as-add-drop, data-loss or value-changed."""

    kind: str
    table: str
    column: str | None
    message: str


def _columns(rows: TableRows) -> set[str]:
    return set(next(iter(rows.values()))) if rows else set()


def _added_columns_empty(after: TableRows, added: set[str]) -> list[str]:
    return sorted(c for c in added if all(r.get(c) is None for r in after.values()))


def _moved(before: TableRows, after: TableRows, column: str, to: str) -> bool:
    """Whether every row kept has `column`'s values in `to`: a rename (alter_column's
    new_column_name, MLflow's 5d2d30f0abce), not a loss."""
    kept = before.keys() & after.keys()
    return bool(kept) and all(before[k][column] == after[k][to] for k in kept)


def _column_losses(table: str, before: TableRows, after: TableRows) -> list[Loss]:
    losses = []
    added = _columns(after) - _columns(before)
    dropped = {c for c in _columns(before) - _columns(after)
               if any(r[c] is not None for r in before.values())
               and not any(_moved(before, after, c, to) for to in added)}
    added_empty = _added_columns_empty(after, added)
    for column in sorted(dropped):
        if added_empty:
            losses.append(Loss("rename-as-add-drop", table, column,
                               f"{table}.{column} was dropped and {', '.join(added_empty)} added "
                               f"empty in the same revision: its values are lost"))
        else:
            losses.append(Loss("data-loss", table, column,
                               f"{table}.{column} was dropped with its values"))
    for column in sorted(_columns(before) & _columns(after)):
        changed = [(before[k][column], after[k][column]) for k in before.keys() & after.keys()
                   if before[k][column] != after[k][column]]
        if changed:
            old, new = changed[0]
            losses.append(Loss("value-changed", table, column,
                               f"{len(changed)} value(s) of {table}.{column} changed, e.g. "
                               f"{old!r} -> {new!r}"))
    return losses


def losses(before: dict[str, TableRows], after: dict[str, TableRows]) -> list[Loss]:
    """What was in `before` and is gone or different in `after`."""
    found = []
    for table, rows in before.items():
        if not rows:
            continue
        if table not in after:
            if any(rows.keys() == other.keys() for name, other in after.items()
                   if name not in before):
                continue  # renamed
            found.append(Loss("data-loss", table, None,
                              f"table {table} was dropped with {len(rows)} row(s)"))
            continue
        now = aligned(rows, after[table])
        lost = len(rows.keys() - now.keys())
        if lost:
            found.append(Loss("data-loss", table, None, f"{lost} row(s) of {table} are gone"))
        found += _column_losses(table, rows, now)
    return found


def _key_columns(rows: TableRows) -> tuple[str, ...] | None:
    key = next(iter(rows), None)
    if not key or not all(isinstance(part, tuple) for part in key):
        return None  # no rows, or keyed by position: no primary key
    return tuple(column for column, _value in key)


def aligned(before: TableRows, after: TableRows) -> TableRows:
    """`after` keyed by `before`'s primary key columns: a revision that changes the primary
    key (MLflow's 1b5f0d9ad7c1 adds `workspace` to it) keeps the rows, which the old key's
    columns still find; keyed by the new key every row would look gone."""
    old, new = _key_columns(before), _key_columns(after)
    if old is None or new is None or old == new:
        return after
    if not all(column in row for row in after.values() for column in old):
        return after  # a key column was dropped: the rows cannot be matched by it
    return {tuple((c, row[c]) for c in old): row for row in after.values()}


def filled(before: dict[str, TableRows], after: dict[str, TableRows],
           schema: sa.MetaData) -> list[Loss]:
    """NOT NULL columns a revision added without a default to a table with rows, which the
    server filled with its implicit default (MySQL, MariaDB) where others refuse the revision."""
    found = []
    for table in schema.sorted_tables:
        old, new = before.get(table.name), after.get(table.name)
        if not old or not new:
            continue
        new = aligned(old, new)
        kept, there = old.keys() & new.keys(), _columns(old)
        for column in table.columns:
            if column.name in there or column.nullable or column.server_default is not None:
                continue
            values = {new[key].get(column.name) for key in kept}
            if values and values <= _implicit(column):
                found.append(Loss("not-null-added-to-rows", table.name, column.name,
                                  f"{table.name}.{column.name} was added NOT NULL without a "
                                  f"default: the server filled the {len(kept)} existing "
                                  f"row(s) with {next(iter(values))!r}"))
    return found


def _implicit(column: sa.Column[Any]) -> frozenset[Any]:
    """The values a server invents for the column; an ENUM gets its first member."""
    enums = getattr(column.type, "enums", None)
    return IMPLICIT_DEFAULTS | {enums[0]} if enums else IMPLICIT_DEFAULTS
