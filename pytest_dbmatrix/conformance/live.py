"""The live tier: the models' tables in a backend's run database, and round trips through them."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.schema import AddConstraint, CreateIndex, CreateTable

from pytest_dbmatrix.backends import Backend, family_of
from pytest_dbmatrix.catalogue import find_hazard
from pytest_dbmatrix.conformance.rows import Rejected, Row, Rows, where
from pytest_dbmatrix.conformance.schema import SchemaPlan, checked, foreign_keys, in_unique
from pytest_dbmatrix.conformance.static import clean
from pytest_dbmatrix.conformance.values import (
    CannotGenerate,
    Probe,
    changed_category,
    probes,
    rejects,
    same,
    show,
)
from pytest_dbmatrix.errors import normalise
from pytest_dbmatrix.findings import Finding

DDL_CATEGORIES = frozenset({"varchar-length", "text-in-key", "identifier-length", "array",
                            "fk-target-not-unique", "index-key-size",
                            "text-default", "fk-deferrable", "mssql-cascade-paths"})
VALUE_CATEGORIES = frozenset({"unicode-storage", "bigint-pk-sqlite", "fk-target-not-unique",
                              "server-side-binding", "asyncpg-aware-datetime"})
"""Hazards a rejected value is attributed to when its error matches (the last two: drivers)."""
_NAMED = re.compile(r"['`\"](\w+)['`\"]|\w\.(\w+)\b")


class SchemaConflict(Exception):
    """The run's database already holds tables of the models."""


@dataclass
class Outcome:
    """What one generated operation found on one backend, and what it observed."""

    findings: list[Finding] = field(default_factory=list)
    observations: dict[str, Any] = field(default_factory=dict)
    skipped: str | None = None


def error_line(exc: BaseException) -> str:
    return clean(normalise(exc).line)


def column_named(message: str, table: sa.Table) -> str | None:
    """The first column of `table` an error message names ('col', `col` or table.col)."""
    names = [a or b for a, b in _NAMED.findall(message)]
    return next((name for name in names if name in table.c), None)


def category_for(exc: BaseException, dialect: str, allowed: frozenset[str], default: str) -> str:
    hazard = find_hazard(str(exc), dialect)
    return hazard.id if hazard and hazard.id in allowed else default


class LiveSchema:
    """The models' tables in one backend's database: created one by one, dropped at the end."""

    def __init__(self, backend: str, engine: Engine, plan: SchemaPlan) -> None:
        self.backend = backend
        self.engine = engine
        self.plan = plan
        self.created: dict[str, str | None] = {}
        self.findings: dict[str, list[Finding]] = {}
        self.built = False

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def family(self) -> Backend:
        return family_of(self.engine.dialect)

    def build(self) -> None:
        """Create every table (cycle FKs afterwards with ALTER); refuse a non-empty database."""
        existing = self._existing()
        if existing:
            raise SchemaConflict(
                f"tables of the models already exist in the run's database on {self.backend}: "
                f"{', '.join(sorted(existing))}; the db_engine fixture (used by "
                f"db_connection, db_session) creates them too: run the conformance suite in "
                f"its own pytest run (pytest --dbmatrix-conformance -m dbmatrix_conformance)")
        self.created.clear()
        self.findings.clear()
        self.built = True
        if not self._create_at_once():
            with self.engine.connect() as conn:
                for table in self.plan.order:
                    self._create(conn, table)
        if self.engine.dialect.supports_alter:
            for fk in self.plan.cycle:
                self._add_constraint(fk)

    def _existing(self) -> set[str]:
        with self.engine.connect() as conn:
            names = set(sa.inspect(conn).get_table_names())
        return names & {t.name for t in self.plan.order}

    def _create_at_once(self) -> bool:
        """All tables in one transaction where DDL is transactional; when a statement fails
        nothing is kept and the tables are created one by one to find the failures."""
        if not self.family.capabilities.transactional_ddl:
            return False
        try:
            with self.engine.begin() as conn:
                for table in self.plan.order:
                    self._create_statements(conn, table)
        except (sa_exc.DBAPIError, sa_exc.CompileError):
            return False
        self.created.update((table.key, None) for table in self.plan.order)
        return True

    def _create_statements(self, conn: Connection, table: sa.Table) -> None:
        inline = self.plan.inline[table.key] if self.engine.dialect.supports_alter else None
        self._create_types(conn, table)
        conn.execute(CreateTable(table, include_foreign_key_constraints=inline))
        for index in table.indexes:
            conn.execute(CreateIndex(index))

    def _create(self, conn: Connection, table: sa.Table) -> None:
        """One table in a transaction of its own on the build's connection."""
        missing = [p for p in self.plan.parents(table) if self.created.get(p, None) is not None]
        if missing:
            self.created[table.key] = f"its parent table {missing[0]} could not be created"
            return
        try:
            with conn.begin():
                self._create_statements(conn, table)
        except (sa_exc.DBAPIError, sa_exc.CompileError) as exc:
            self.created[table.key] = error_line(exc)
            self.findings[table.key] = [self._ddl_finding(table, exc)]
        else:
            self.created[table.key] = None

    @staticmethod
    def _create_types(conn: Connection, table: sa.Table) -> None:
        for column in table.columns:
            if isinstance(column.type, sa.types.SchemaType):
                column.type.create(conn, checkfirst=True)

    def _add_constraint(self, fk: sa.ForeignKeyConstraint) -> None:
        table: sa.Table = fk.table
        if self.created.get(table.key) is not None:
            return
        if self.created.get(fk.referred_table.key) is not None:
            return
        try:
            with self.engine.begin() as conn:
                conn.execute(AddConstraint(fk))
        except (sa_exc.DBAPIError, sa_exc.CompileError) as exc:
            self.findings.setdefault(table.key, []).append(
                self._ddl_finding(table, exc, fk.column_keys[0]))

    def _ddl_finding(self, table: sa.Table, exc: BaseException,
                     column: str | None = None) -> Finding:
        message = clean(str(exc).split("\n[SQL:")[0])
        column = column or column_named(message, table)
        category = category_for(exc, self.dialect, DDL_CATEGORIES, "ddl-rejected")
        return Finding(category, "live", self.backend, f"CREATE failed: {error_line(exc)}",
                       self.dialect, table.name, column)

    def drop_all(self) -> list[Finding]:
        """`metadata.drop_all` as an application would run it; then make sure all is gone."""
        findings: list[Finding] = []
        with self._caught_warnings() as caught:
            try:
                self.plan.metadata.drop_all(self.engine)
            except (sa_exc.CircularDependencyError, sa_exc.DBAPIError) as exc:
                findings += self._drop_findings(error_line(exc))
        for warning in caught:
            if "Can't sort tables for DROP" in str(warning.message):
                findings += self._drop_findings(clean(str(warning.message)))
        self.cleanup()
        return findings

    @contextmanager
    def _caught_warnings(self) -> Iterator[list[warnings.WarningMessage]]:
        """SQLAlchemy warns of a cycle only where it cannot drop constraints with ALTER: only
        there are warnings caught (catch_warnings is process-wide, not safe in threads)."""
        if self.engine.dialect.supports_alter:
            yield []
            return
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield caught

    def _drop_findings(self, detail: str) -> list[Finding]:
        cycle = self.plan.cycle or [fk for t in self.plan.order
                                    for fk in foreign_keys(t)]
        return [Finding("drop-cycle", "live", self.backend, f"drop_all failed: {detail}",
                        self.dialect, fk.parent.name, fk.column_keys[0]) for fk in cycle]

    def cleanup(self) -> None:
        """Drop whatever is left of the models' tables, child tables first."""
        self.built = False
        remaining = self._existing()
        if not remaining:
            return
        with self.engine.begin() as conn:
            names = [conn.dialect.identifier_preparer.format_table(table)
                     for table in reversed(self.plan.order) if table.name in remaining]
            self.family.drop_tables(conn, names)
            for table in self.plan.order:
                for column in table.columns:
                    if isinstance(column.type, sa.types.SchemaType):
                        column.type.drop(conn, checkfirst=True)


def probed_columns(table: sa.Table) -> dict[sa.Column[Any], list[Probe]]:
    """Columns whose values the round trip chooses: not generated keys, not foreign keys."""
    fk_columns = {c.key for fk in foreign_keys(table) for c in fk.columns}
    chosen = {}
    for column in table.columns:
        if column.primary_key or column.key in fk_columns or column.computed is not None:
            continue
        found = probes(column)
        if found:
            chosen[column] = found
    return chosen


class TableScenario:
    """What the scenarios of one table on one backend share: connection, rows and outcome."""

    tier = ""

    def __init__(self, conn: Connection, plan: SchemaPlan, table: sa.Table, backend: str) -> None:
        self.conn = conn
        self.table = table
        self.backend = backend
        self.dialect = conn.dialect.name
        self.family = family_of(conn.dialect)
        self.rows = Rows(conn, plan)
        self.outcome = Outcome()

    def add_finding(self, category: str, column: str | None, detail: str,
                    before: str | None = None, after: str | None = None) -> None:
        self.outcome.findings.append(Finding(category, self.tier, self.backend, detail,
                                             self.dialect, self.table.name, column,
                                             before=before, after=after))


class RoundTrip(TableScenario):
    """INSERT/SELECT/UPDATE/DELETE of edge values through one table on one backend."""

    tier = "live"

    def __init__(self, conn: Connection, plan: SchemaPlan, table: sa.Table, backend: str) -> None:
        super().__init__(conn, plan, table, backend)
        self.probed = probed_columns(table)
        self.inserted: list[tuple[Row, dict[sa.Column[Any], Probe]]] = []
        self.read_back: list[Row | None] = []

    def finding(self, category: str, column: sa.Column[Any] | None, detail: str,
                before: Any = None, after: Any = None, shown: bool = True) -> None:
        self.add_finding(category, column.name if column is not None else None, detail,
                         show(before) if shown else None, show(after) if shown else None)

    def run(self) -> Outcome:
        try:
            self.insert_all()
        except CannotGenerate as exc:
            self.outcome.skipped = str(exc)
            return self.outcome
        self.compare("INSERT")
        self.update_all()
        self.compare("UPDATE")
        self.observe()
        self.try_rejects()
        self.delete_all()
        return self.outcome

    def insert_all(self) -> None:
        count = max((len(p) for p in self.probed.values()), default=1)
        for k in range(count):
            chosen = {c: p[k] for c, p in self.probed.items() if k < len(p)}
            self.insert_row(chosen)

    def insert_row(self, chosen: dict[sa.Column[Any], Probe]) -> None:
        base = self.rows.values(self.table)
        key: Row | None
        try:
            key = self.rows.insert(self.table, base | {c.key: p.value for c, p in chosen.items()})
        except Rejected:
            key = self._insert_blaming(base, chosen)
        if key is not None:
            self.inserted.append((key, chosen))
            self.read_back.append(self.rows.read_back)

    def _insert_blaming(self, base: Row, chosen: dict[sa.Column[Any], Probe]) -> Row | None:
        """Find the values the backend refused, report them, insert the row without them."""
        _, error = self.rows.attempt(self.table.insert().values(base))
        if error is not None:
            if isinstance(error, sa_exc.DBAPIError):
                category = category_for(error, self.dialect, VALUE_CATEGORIES, "value-rejected")
                named = column_named(error_line(error), self.table)
                self.finding(category, self.table.c[named] if named else None,
                             f"a row of plain values was rejected: "
                             f"{error_line(error)}", shown=False)
            raise CannotGenerate(f"no row of {self.table.name} can be inserted on "
                                 f"{self.backend}: {error_line(error)}")
        accepted = {}
        for column, probe in chosen.items():
            _, error = self.rows.attempt(self.table.insert().values(base | {column.key:
                                                                            probe.value}))
            if error is None:
                accepted[column] = probe
            elif isinstance(error, sa_exc.DBAPIError) and not checked(column):
                category = category_for(error, self.dialect, VALUE_CATEGORIES, "value-rejected")
                self.finding(category, column, f"{probe.label} value rejected: "
                             f"{error_line(error)}", probe.value, None)
        chosen.clear()
        chosen.update(accepted)
        return self.rows.insert(self.table, base | {c.key: p.value for c, p in accepted.items()})

    def compare(self, operation: str) -> None:
        """Each row as read now; after INSERT, as read right after it was written (the same
        transaction changed nothing of it since)."""
        for i, (key, chosen) in enumerate(self.inserted):
            if operation == "INSERT":
                row = self.read_back[i]
            else:
                row = self.rows.fetch(self.table, _pk(self.table, key))
            if row is None:
                self.finding("value-changed", None, f"the row written by {operation} was not "
                             f"found again by its primary key", key, None)
                continue
            for column, probe in chosen.items():
                after = row.get(column.key)
                if not same(probe.value, after):
                    category = changed_category(probe, probe.value, after)
                    self.finding(category, column, f"{probe.label} value changed by "
                                 f"{operation} and SELECT", probe.value, after)

    def update_all(self) -> None:
        """Give each row the next row's values (columns without unique keys), one by one."""
        movable = {c: p for c, p in self.probed.items()
                   if len(p) > 1 and not in_unique(c) and not checked(c)}
        for k, (key, chosen) in enumerate(self.inserted):
            changes = {c: movable[c][(k + 1) % len(movable[c])] for c in chosen if c in movable}
            if not changes:
                continue
            statement = (sa.update(self.table).where(*where(self.table, _pk(self.table, key)))
                         .values({c.key: p.value for c, p in changes.items()}))
            try:
                with self.rows.savepoint():
                    self.conn.execute(statement)
            except Rejected as exc:
                if exc.by_server:
                    category = category_for(exc.error, self.dialect, VALUE_CATEGORIES,
                                            "value-rejected")
                    self.finding(category, None, f"UPDATE rejected: {error_line(exc.error)}",
                                 shown=False)
                continue
            chosen.update(changes)

    def observe(self) -> None:
        """Query results the differential comparison puts side by side across backends."""
        keys = [_pk(self.table, key) for key, _ in self.inserted]
        if not keys:
            return
        mine = any_of(self.table, keys)
        labels = {tuple(sorted(k.items(), key=str)): i for i, k in enumerate(keys)}
        for column, found in self.probed.items():
            if not isinstance(column.type, sa.String) or isinstance(column.type, sa.Enum):
                continue
            self._observe_strings(column, found, mine, labels)

    def _observe_strings(self, column: sa.Column[Any], found: list[Probe],
                         mine: sa.ColumnElement[bool],
                         labels: dict[tuple[tuple[str, Any], ...], int]) -> None:
        table, name = self.table, column.name
        stored = {p.label: p.value for _, chosen in self.inserted for c, p in chosen.items()
                  if c is column}
        count = sa.select(sa.func.count()).select_from(table).where(mine)
        if "mixed case" in stored:
            swapped = stored["mixed case"].swapcase()
            self.outcome.observations[f"case-insensitive-compare:{name}:"] = self.conn.scalar(
                count.where(column == swapped))
            self.outcome.observations[f"compare-trailing-space:{name}:"] = self.conn.scalar(
                count.where(column == stored["mixed case"] + "  "))
        if "non-ASCII" in stored:
            self.outcome.observations[f"length-semantics:{name}:"] = self.conn.scalar(
                sa.select(sa.func.length(column)).where(mine, column == stored["non-ASCII"]))
        pks = list(table.primary_key.columns)
        if pks:
            ordered = self.conn.execute(sa.select(*pks).where(mine).order_by(column, *pks))
            order = [labels.get(tuple(sorted(dict(r._mapping).items(), key=str)), -1)
                     for r in ordered]
            self.outcome.observations[f"collation-order:{name}:"] = order

    def try_rejects(self) -> None:
        for column in self.table.columns:
            if column.primary_key:
                continue
            for reject in rejects(column):
                values = self.rows.values(self.table)
                values[column.key] = sa.literal(reject.value, reject.bind_type)
                _, error = self.rows.attempt(self.table.insert().values(values))
                if error is None:
                    self.finding(reject.category, column, f"{reject.label} value "
                                 f"{show(reject.value)} was accepted ({column.type!r})",
                                 shown=False)

    def delete_all(self) -> None:
        try:
            self._delete_all()
        except sa_exc.DBAPIError as exc:
            category = category_for(exc, self.dialect, VALUE_CATEGORIES, "value-rejected")
            self.finding(category, None, f"bulk UPDATE/DELETE rejected: {error_line(exc)}",
                         shown=False)

    def _delete_all(self) -> None:
        keys = [_pk(self.table, key) for key, _ in self.inserted]
        if not keys or not list(self.table.primary_key.columns):
            return
        mine = any_of(self.table, keys)
        touched = next(iter([*self.probed, *self.table.primary_key.columns]))
        updated = self.conn.execute(sa.update(self.table).where(mine).values(
            {touched.key: touched})).rowcount
        self.outcome.observations["rowcount::update"] = updated
        first = self.conn.execute(sa.delete(self.table).where(*where(self.table, keys[0])))
        rest = self.conn.execute(sa.delete(self.table).where(mine))
        self.outcome.observations["rowcount::delete"] = [first.rowcount, rest.rowcount]
        left = self.conn.scalar(sa.select(sa.func.count()).select_from(self.table).where(mine))
        if left:
            self.finding("value-changed", None, f"{left} rows remain after DELETE", keys, left)
        if updated != len(keys):
            self.finding("rowcount", None, f"bulk UPDATE of {len(keys)} rows reported "
                         f"{updated}", len(keys), updated)


def any_of(table: sa.Table, keys: list[Row]) -> sa.ColumnElement[bool]:
    """The rows with one of these primary keys: `id IN (...)` for a one-column integer key
    (quicker to compile than one `OR` term per row), else `OR` of the keys."""
    columns = list(table.primary_key.columns)
    if len(columns) == 1 and isinstance(columns[0].type, sa.Integer):
        values = [key.get(columns[0].key) for key in keys]
        if all(isinstance(v, int) for v in values) and len(keys[0]) == 1:
            return columns[0].in_(values)
    return sa.or_(*[sa.and_(*where(table, k)) for k in keys])


def _pk(table: sa.Table, row: Row) -> Row:
    columns = list(table.primary_key.columns)
    if not columns:
        return row
    return {c.key: row[c.key] for c in columns}


