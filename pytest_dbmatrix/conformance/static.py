"""The static tier: compile and inspect every table for every dialect, with no server."""

from __future__ import annotations

import re
from functools import cache

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Dialect
from sqlalchemy.schema import CreateIndex, CreateTable

from pytest_dbmatrix.backends import FAMILIES, Backend
from pytest_dbmatrix.catalogue import find_hazard
from pytest_dbmatrix.conformance.schema import (
    CASCADING,
    SchemaPlan,
    foreign_keys,
    key_sets,
    unique_sets,
)
from pytest_dbmatrix.findings import Finding

LOB_TYPES = (sa.Text, sa.LargeBinary, sa.JSON, sa.PickleType)
COMPILE_CATEGORIES = ("varchar-length", "array", "identifier-length")
UNRENDERABLE = (sa_exc.CompileError, sa_exc.ArgumentError)
"""What a dialect raises for a type it cannot render: ArgumentError from Oracle for a
Float(precision=...) without binary_precision."""


@cache
def dialect_of(name: str) -> Dialect:
    """The static tier's dialect of family `name`, made once per process."""
    return FAMILIES[name].static_dialect()


def static_families() -> list[Backend]:
    """Every family the static tier compiles for, live or offline-only, in report order."""
    return list(FAMILIES.values())


def clean(message: str) -> str:
    """An error message without memory addresses, on one line."""
    message = re.sub(r"Compiler <[^<>]* object at 0x[0-9a-f]+>", "the compiler", message)
    message = re.sub(r"\(Background on this error at:[^)]*\)", "", message)
    return " ".join(message.split())


def check_table(table: sa.Table, family: Backend, plan: SchemaPlan) -> list[Finding]:
    """Everything the static tier finds for one table on one dialect."""
    found = Static(table, family, plan)
    found.compile()
    found.identifiers()
    found.reserved_words()
    found.keys()
    found.foreign_keys()
    found.value_constraints()
    return found.findings


class Static:
    """The static checks of one table on one dialect, collecting findings."""

    def __init__(self, table: sa.Table, family: Backend, plan: SchemaPlan) -> None:
        self.table = table
        self.name = family.kind
        self.rules = family.static_rules
        self.plan = plan
        self.dialect = dialect_of(family.kind)
        self.findings: list[Finding] = []
        self.broken_columns: set[str] = set()

    def add(self, category: str, column: str | None, detail: str) -> None:
        self.findings.append(Finding(category, "static", self.name, detail, self.name,
                                     self.table.name, column))

    def compile(self) -> None:
        for column in self.table.columns:
            if self.rules.string_needs_length and _unbounded_string(column):
                self.broken_columns.add(column.name)
                self.add("varchar-length", column.name, f"{column.type!r} renders without a "
                         f"length, which {self.name} rejects")
                continue
            try:
                self.dialect.type_compiler_instance.process(column.type, type_expression=column)
            except UNRENDERABLE as exc:
                self.broken_columns.add(column.name)
                self.add(_compile_category(exc), column.name,
                         f"{column.type!r} cannot be rendered: {clean(str(exc))}")
        if self.broken_columns:
            return
        elements: list[CreateTable | CreateIndex] = [CreateTable(self.table)]
        for element in [*elements, *map(CreateIndex, self.table.indexes)]:
            try:
                str(element.compile(dialect=self.dialect))
            except UNRENDERABLE as exc:
                self.add(_compile_category(exc), None, f"DDL cannot be compiled: "
                         f"{clean(str(exc))}")

    def identifiers(self) -> None:
        limit = self.rules.identifier_limit
        if limit is None:
            return
        names: list[tuple[str, str | None, str]] = [("table", None, self.table.name)]
        names += [("column", c.name, c.name) for c in self.table.columns]
        names += [("index", None, str(i.name)) for i in self.table.indexes
                  if isinstance(i.name, str)]
        names += [("constraint", None, str(c.name)) for c in self.table.constraints
                  if isinstance(c.name, str)]
        for kind, column, name in names:
            if len(name) > limit:
                self.add("identifier-length", column,
                         f"{kind} name {name!r} has {len(name)} characters; the limit on "
                         f"{self.name} is {limit}")

    def reserved_words(self) -> None:
        reserved = self.dialect.identifier_preparer.reserved_words
        if self.table.name.lower() in reserved:
            self.add("reserved-word", None, f"table name {self.table.name!r} is a reserved word "
                     f"on {self.name}")
        for column in self.table.columns:
            if column.name.lower() in reserved:
                self.add("reserved-word", column.name, f"column name {column.name!r} is a "
                         f"reserved word on {self.name}")

    def keys(self) -> None:
        for name, columns, primary in key_sets(self.table):
            usable = [c for c in columns if c.name not in self.broken_columns]
            lobs = [c for c in usable if self._is_lob(c)]
            for column in lobs:
                if self.rules.lob_key_category:
                    self.add(self.rules.lob_key_category, column.name,
                             f"{column.type!r} is part of {name} but renders as "
                             f"{self._rendered(column)}, which cannot be a key here")
            if lobs:
                continue
            self._key_size(name, usable, primary)
        if self.rules.one_null_per_unique:
            for name, columns in unique_sets(self.table):
                for column in columns:
                    if column.nullable:
                        self.add("unique-multiple-nulls", column.name,
                                 f"{name} allows only one row with NULL in {column.name!r} on "
                                 f"{self.name}")

    def _key_size(self, name: str, columns: list[sa.Column[object]], primary: bool) -> None:
        limit = self.rules.primary_key_bytes if primary else self.rules.key_bytes
        if limit is None or not columns:
            return
        prefixes = self._prefix_lengths(name)
        size = sum(self._bytes(c, prefixes.get(c.name)) for c in columns)
        if size > limit:
            self.add("index-key-size", columns[0].name,
                     f"{name} ({', '.join(c.name for c in columns)}) needs up to {size} bytes; "
                     f"the limit on {self.name} is {limit}")

    def _is_lob(self, column: sa.Column[object]) -> bool:
        kind = column.type
        if isinstance(kind, sa.TypeDecorator):
            kind = kind.impl_instance
        if isinstance(kind, LOB_TYPES):
            return True
        return isinstance(kind, sa.String) and not isinstance(kind, sa.Enum) and not kind.length

    def _rendered(self, column: sa.Column[object]) -> str:
        try:
            return str(self.dialect.type_compiler_instance.process(column.type))
        except UNRENDERABLE:
            return repr(column.type)

    def _prefix_lengths(self, name: str) -> dict[str, int]:
        """The index's prefix lengths for this dialect (`mysql_length=`, `mariadb_length=`):
        the key holds that many characters of the column, not all of it."""
        index = next((i for i in self.table.indexes if i.name == name), None)
        given = index.dialect_kwargs.get(f"{self.dialect.name}_length") if index else None
        if isinstance(given, int):
            return {str(c.name): given for c in index.columns} if index else {}
        return {str(k): int(v) for k, v in (given or {}).items()}

    def _bytes(self, column: sa.Column[object], prefix: int | None = None) -> int:
        kind = column.type
        if isinstance(kind, sa.TypeDecorator):
            kind = kind.impl_instance
        if isinstance(kind, sa.Enum):
            longest = max((len(e) for e in kind.enums), default=1)
            return longest * self.rules.char_bytes
        if isinstance(kind, sa.String):
            unicode = isinstance(kind, sa.Unicode)
            per = self.rules.unicode_bytes if unicode else self.rules.char_bytes
            length = min(prefix, kind.length or prefix) if prefix else kind.length or 0
            return length * per
        if isinstance(kind, sa.Uuid):
            return 16 if self.rules.native_uuid else 32 * self.rules.char_bytes
        if isinstance(kind, sa.SmallInteger):
            return 2
        if isinstance(kind, sa.BigInteger | sa.DateTime | sa.Float):
            return 8
        if isinstance(kind, sa.Numeric):
            return (kind.precision or 10) // 2 + 1
        return 4

    def foreign_keys(self) -> None:
        for fk in foreign_keys(self.table):
            first = fk.column_keys[0] if fk.column_keys else None
            if self.rules.rejects_deferrable and (fk.deferrable is not None or fk.initially):
                self.add("fk-deferrable", first,
                         f"foreign key to {fk.referred_table.name} is DEFERRABLE/INITIALLY, "
                         f"which {self.name} rejects or ignores")
        if self.rules.cascade_paths_limited:
            for fk, path in cascade_conflicts(self.plan).get(self.table.key, []):
                first = fk.column_keys[0] if fk.column_keys else None
                self.add("mssql-cascade-paths", first,
                         f"foreign key to {fk.referred_table.name} with ON DELETE/UPDATE "
                         f"actions would create {path}: SQL Server error 1785")

    def value_constraints(self) -> None:
        for column in self.table.columns:
            kind = column.type
            native = self.rules.native_enum and getattr(kind, "native_enum", False)
            if isinstance(kind, sa.Enum) and not kind.create_constraint and not native:
                self.add("enum-unenforced", column.name,
                         f"{kind!r} renders without a CHECK on {self.name}: any "
                         f"string is stored")
            elif (isinstance(kind, sa.Boolean) and not kind.create_constraint
                  and not self.rules.native_boolean and not self.rules.bit_boolean):
                self.add("boolean-unenforced", column.name,
                         f"Boolean renders as an integer without a CHECK on "
                         f"{self.name}: 5 is stored")


def _unbounded_string(column: sa.Column[object]) -> bool:
    kind = column.type
    return (type(kind) in (sa.String, sa.Unicode, sa.VARCHAR, sa.NVARCHAR)
            and not getattr(kind, "length", None))


def _compile_category(exc: sa_exc.SQLAlchemyError) -> str:
    if isinstance(exc, sa_exc.IdentifierError):
        return "identifier-length"
    hazard = find_hazard(str(exc))
    if hazard and hazard.id in COMPILE_CATEGORIES:
        return hazard.id
    return "unrenderable-type"


def cascade_conflicts(plan: SchemaPlan) -> dict[str, list[tuple[sa.ForeignKeyConstraint, str]]]:
    """Cascading FKs SQL Server refuses, per child table: cycles and multiple cascade paths,
    in creation order (each accepted edge joins the graph the next ones are checked against)."""
    if plan.cascade_conflicts is not None:
        return plan.cascade_conflicts
    reaches: dict[str, set[str]] = {}  # table -> tables with a cascade path to it
    conflicts: dict[str, list[tuple[sa.ForeignKeyConstraint, str]]] = {}
    fks = [fk for table in plan.order for fk in foreign_keys(table)]
    for fk in fks:
        if not ({str(fk.ondelete or "").upper(), str(fk.onupdate or "").upper()} & CASCADING):
            continue
        parent, child = fk.referred_table.key, fk.parent.key
        above_parent = reaches.get(parent, set()) | {parent}
        above_child = reaches.get(child, set()) | {child}
        if child in above_parent:
            problem = "a cycle"
        elif above_parent & above_child:
            problem = f"multiple cascade paths from {sorted(above_parent & above_child)[0]}"
        else:
            for table, above in reaches.items():
                if child in above:
                    reaches[table] = above | above_parent
            reaches[child] = reaches.get(child, set()) | above_parent
            continue
        conflicts.setdefault(child, []).append((fk, problem))
    plan.cascade_conflicts = conflicts
    return conflicts
