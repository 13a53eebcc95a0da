"""Constraint scenarios: orphans, parent deletes, duplicates, NULLs and CHECKs on one backend."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from pytest_dbmatrix.catalogue import find_hazard
from pytest_dbmatrix.conformance.live import Outcome, TableScenario, error_line
from pytest_dbmatrix.conformance.rows import Rejected, Row, where
from pytest_dbmatrix.conformance.schema import (
    check_columns,
    foreign_keys,
    unique_sets,
    user_checks,
)
from pytest_dbmatrix.conformance.values import CannotGenerate, base_type, base_value, show
from pytest_dbmatrix.findings import Finding

ORPHAN = 987_654
CHECK_CANDIDATES: tuple[tuple[type[Any], tuple[Any, ...]], ...] = (
    (sa.Integer, (-1, 0, -1_000_000)),
    (sa.Numeric, (-1, 0, -1_000_000)),
    (sa.String, ("", " ")),
    (sa.Date, (dt.date(1900, 1, 1),)),
    (sa.DateTime, (dt.datetime(1900, 1, 1),)),
)
RESTRICTING = frozenset({"", "NO ACTION", "RESTRICT"})


class Scenarios(TableScenario):
    """Every constraint scenario of one table on one backend, inside one transaction."""

    tier = "constraint"

    def finding(self, category: str, column: str | None, detail: str,
                before: Any = None) -> None:
        self.add_finding(category, column, detail, show(before) if before is not None else None)

    def run(self) -> Outcome:
        try:
            anchor = self.rows.insert(self.table, self.rows.values(self.table,
                                                                   all_foreign_keys=True))
        except (CannotGenerate, Rejected) as exc:
            self.outcome.skipped = f"no row of {self.table.name} can be inserted: {exc}"
            return self.outcome
        self.orphans()
        self.parent_deletes(anchor)
        self.uniques(anchor)
        self.not_nulls()
        self.checks()
        return self.outcome

    def expect_integrity_error(self, values: Row, scenario: str, column: str | None,
                               category: str) -> None:
        """The insert must raise IntegrityError; report acceptance or another class."""
        _, error = self.rows.attempt(self.table.insert().values(values))
        self._judge(error, scenario, column, category)

    def _judge(self, error: Exception | None, scenario: str, column: str | None,
               category: str) -> None:
        if error is None:
            self.finding(category, column, f"{scenario} was accepted; IntegrityError expected")
        elif isinstance(error, sa_exc.DBAPIError) and not isinstance(
                error, sa_exc.IntegrityError):
            hazard = find_hazard(str(error), self.dialect)
            kind = "check-enforcement" if hazard and hazard.id == "check-enforcement" else (
                "integrity-error-class")
            self.finding(kind, column, f"{scenario} raised {error_line(error)}; IntegrityError "
                         f"expected")

    def _deferred(self, fk: sa.ForeignKeyConstraint) -> bool:
        """Checked at COMMIT only here: a savepoint cannot show the violation."""
        return str(fk.initially or "").upper() == "DEFERRED" and self.family.deferrable_foreign_keys

    def orphans(self) -> None:
        for fk in foreign_keys(self.table):
            if self._deferred(fk):
                continue
            values = self.rows.values(self.table)
            for i, column in enumerate(fk.columns):
                values[column.key] = base_value(column, ORPHAN + i)
            self.expect_integrity_error(values, f"an orphan row (foreign key to "
                                        f"{fk.referred_table.name})", fk.column_keys[0],
                                        "fk-unenforced")

    def parent_deletes(self, anchor: Row) -> None:
        for fk in foreign_keys(self.table):
            parent = fk.referred_table
            if self._deferred(fk) or parent is self.table or parent.key not in self.rows.parents:
                continue
            if any(anchor.get(c.key) is None for c in fk.columns):
                continue
            key = {c.key: self.rows.parents[parent.key][c.key]
                   for c in parent.primary_key.columns}
            self._delete_parent(fk, parent, key, anchor)

    def _delete_parent(self, fk: sa.ForeignKeyConstraint, parent: sa.Table, key: Row,
                       anchor: Row) -> None:
        action = str(fk.ondelete or "").upper()
        column = fk.column_keys[0]
        scenario = f"deleting the referenced {parent.name} row (ON DELETE {action or 'NO ACTION'})"
        with self._rolled_back():
            try:
                self.conn.execute(sa.delete(parent).where(*where(parent, key)))
            except sa_exc.DBAPIError as exc:
                if action in RESTRICTING:
                    self._judge(exc, scenario, column, "fk-unenforced")
                else:
                    self.finding("fk-action", column, f"{scenario} raised {error_line(exc)}")
                return
            if action in RESTRICTING:
                self._judge(None, scenario, column, "fk-unenforced")
                return
            child = self.rows.fetch(self.table, _key(self.table, anchor))
            if action == "CASCADE" and child is not None:
                self.finding("fk-action", column, f"{scenario}: the child row remains")
            if action == "SET NULL" and child is not None and child.get(column) is not None:
                self.finding("fk-action", column, f"{scenario}: {column} is still "
                             f"{child.get(column)!r}")

    @contextmanager
    def _rolled_back(self) -> Iterator[None]:
        nested = self.conn.begin_nested()
        try:
            yield
        finally:
            if nested.is_active:
                nested.rollback()

    def uniques(self, anchor: Row) -> None:
        sets = [("primary key", list(self.table.primary_key.columns))]
        sets = [s for s in sets if s[1] and self.table.autoincrement_column is None]
        for name, columns in [*sets, *unique_sets(self.table)]:
            values = self.rows.values(self.table)
            values.update({c.key: anchor.get(c.key) for c in columns})
            if all(anchor.get(c.key) is not None for c in columns):
                self.expect_integrity_error(values, f"an exact duplicate of {name}",
                                            columns[0].name, "unique-unenforced")
            if len(columns) == 1:
                self._collation_duplicates(name, columns[0], anchor.get(columns[0].key))
            for column in columns:
                if column.nullable:
                    self._two_nulls(name, column, columns)

    def _collation_duplicates(self, name: str, column: sa.Column[Any], value: Any) -> None:
        kind = base_type(column)
        if not isinstance(value, str) or not isinstance(kind, sa.String) or isinstance(
                kind, sa.Enum) or value.swapcase() == value:
            return
        variants = [("unique-case-insensitive", value.swapcase(), "case-only duplicate")]
        if not kind.length or len(value) < kind.length:
            variants.append(("unique-pad-space", value + " ", "trailing-space duplicate"))
        values = self.rows.values(self.table)
        control = ("z" if value[0] in "qQ" else "q") + value[1:]
        if self.rows.attempt(self.table.insert().values(values | {column.key: control}))[1]:
            return  # the row is refused for another reason (a foreign key, another key)
        for category, variant, label in variants:
            _, error = self.rows.attempt(self.table.insert().values(values | {column.key: variant}))
            if isinstance(error, sa_exc.DBAPIError):
                self.finding(category, column.name, f"{label} {variant!r} of {value!r} is "
                             f"rejected by {name}: {error_line(error)}", variant)

    def _two_nulls(self, name: str, column: sa.Column[Any],
                   columns: list[sa.Column[Any]]) -> None:
        with self._rolled_back():
            try:
                for _ in range(2):
                    values = self.rows.values(self.table) | {column.key: sql_null(column)}
                    self.conn.execute(self.table.insert().values(values))
            except sa_exc.DBAPIError as exc:
                self.finding("unique-multiple-nulls", column.name, f"a second NULL in {name} "
                             f"was rejected: {error_line(exc)}")
            except (sa_exc.StatementError, CannotGenerate):
                return

    def not_nulls(self) -> None:
        for column in self.table.columns:
            if column.nullable or column is self.table.autoincrement_column:
                continue
            if column.computed is not None or column.identity is not None:
                continue
            values = self.rows.values(self.table) | {column.key: sql_null(column)}
            self.expect_integrity_error(values, f"NULL in {column.name}", column.name,
                                        "not-null-unenforced")

    def checks(self) -> None:
        for number, check in enumerate(user_checks(self.table)):
            name = check.name if isinstance(check.name, str) else f"check {number + 1}"
            for column in check_columns(self.table, check):
                for candidate in _candidates(column):
                    values = self.rows.values(self.table) | {column.key: candidate}
                    _, error = self.rows.attempt(self.table.insert().values(values))
                    key = f"check-unenforced:{column.name}:{name} {column.name}={candidate!r}"
                    if error is None:
                        self.outcome.observations[key] = "accepted"
                    elif isinstance(error, sa_exc.DBAPIError):
                        self.outcome.observations[key] = "rejected"
                        if not isinstance(error, sa_exc.IntegrityError):
                            self._judge(error, f"{column.name}={candidate!r} against {name}",
                                        column.name, "check-unenforced")


def _candidates(column: sa.Column[Any]) -> tuple[Any, ...]:
    kind = base_type(column)
    if isinstance(kind, sa.Enum | sa.Boolean):
        return ()
    for base, candidates in CHECK_CANDIDATES:
        if isinstance(kind, base):
            return candidates
    return ()


def _key(table: sa.Table, row: Row) -> Row:
    columns = list(table.primary_key.columns)
    return {c.key: row[c.key] for c in columns} if columns else row


def sqlite_fk_off(table: sa.Table, backend: str, dialect: str, source: str) -> list[Finding]:
    """When the user's SQLite configuration leaves foreign keys off: one finding per FK."""
    return [Finding("sqlite-fk-off", "constraint", backend,
                    f"this run checked with foreign keys on, but {source} leaves them off: an "
                    f"orphan row or a deleted {fk.referred_table.name} row would be accepted "
                    f"silently", dialect, table.name, fk.column_keys[0])
            for fk in foreign_keys(table)]


def sql_null(column: sa.Column[Any]) -> Any:
    """SQL NULL for the column: a JSON column stores Python None as the JSON value 'null'."""
    return sa.null() if isinstance(base_type(column), sa.JSON) else None
