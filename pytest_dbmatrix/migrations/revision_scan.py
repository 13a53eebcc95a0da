"""Dialect hazards read from the revision scripts themselves (no database needed)."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from alembic.script import Script

from pytest_dbmatrix.backends import Backend, for_dialect
from pytest_dbmatrix.migrations.guards import Reach

SQLITE_CONSTRAINT_OPS = frozenset({
    "create_foreign_key", "create_unique_constraint", "create_check_constraint",
    "create_primary_key", "drop_constraint", "create_exclude_constraint",
})
ALTER_HARMLESS_ON_SQLITE = frozenset({"new_column_name", "comment", "existing_comment",
                                      "schema"})


@dataclass(frozen=True)
class OpCall:
    """An operation call in a revision's upgrade(): `op.x(...)` or `batch_op.x(...)`."""

    name: str
    in_batch: bool
    line: int
    keywords: frozenset[str]
    table: str | None
    column: str | None
    values: dict[str, object] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class StaticHazard:
    kind: str
    dialects: tuple[str, ...]
    revision: str
    message: str
    line: int
    column: tuple[str, str] | None = None
    """(table, column) whose NOT NULL the hazard silently loses; None: it predicts an error."""


def _literal(node: ast.AST | None) -> object:
    try:
        return ast.literal_eval(node) if node is not None else None
    except ValueError:
        return ...


def _batch_table(node: ast.With) -> dict[str, str | None]:
    names: dict[str, str | None] = {}
    for item in node.items:
        call = item.context_expr
        if (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                and call.func.attr == "batch_alter_table"
                and isinstance(item.optional_vars, ast.Name)):
            table = _literal(call.args[0]) if call.args else None
            names[item.optional_vars.id] = table if isinstance(table, str) else None
    return names


def op_calls(source: str, function: str = "upgrade", dialect: str | None = None
             ) -> list[OpCall]:
    """Every `op.<name>(...)` and batch `<var>.<name>(...)` call inside `function`; with a
    `dialect`, only those its dialect tests let run there."""
    tree = ast.parse(source)
    body = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == function),
                None)
    if body is None:
        return []
    reach = Reach(body, dialect) if dialect else None
    batches: dict[str, str | None] = {}
    for node in ast.walk(body):
        if isinstance(node, ast.With):
            batches.update(_batch_table(node))
    calls = []
    for node in ast.walk(body):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)):
            continue
        owner = node.func.value.id
        if (owner != "op" and owner not in batches) or (reach is not None and node not in reach):
            continue
        args = [_literal(a) for a in node.args]
        in_batch = owner != "op"
        table = batches.get(owner) if in_batch else (args[0] if args else None)
        column_args = args if in_batch else args[1:]
        column = column_args[0] if column_args else None
        values = {k.arg: _literal(k.value) for k in node.keywords if k.arg}
        calls.append(OpCall(node.func.attr, in_batch, node.lineno, frozenset(values),
                            table if isinstance(table, str) else None,
                            column if isinstance(column, str) else None, values))
    return calls


def _batch_only_hazards(call: OpCall) -> str | None:
    if call.in_batch:
        return None
    if call.name in SQLITE_CONSTRAINT_OPS:
        return f"op.{call.name}() outside batch mode: SQLite cannot ALTER constraints"
    if call.name == "alter_column" and call.keywords - ALTER_HARMLESS_ON_SQLITE - {
            name for name in call.keywords if name.startswith("existing_")}:
        changed = ", ".join(sorted(call.keywords - ALTER_HARMLESS_ON_SQLITE))
        return f"op.alter_column({changed}) outside batch mode: SQLite has no ALTER COLUMN"
    return None


def _existing_hazards(call: OpCall, family: Backend) -> str | None:
    if call.name != "alter_column":
        return None
    target = f"{call.table}.{call.column}" if call.table else str(call.column)
    keys, dialect = call.keywords, family.kind
    if "type_" not in keys and "existing_type" not in keys and keys & set(
            family.alter_needs_existing_type):
        return f"alter_column({target}) without existing_type: {dialect} cannot render it"
    if silently_nullable(call, family):
        return (f"alter_column({target}, type_=...) without existing_nullable: {dialect} "
                f"silently makes the column NULL-able")
    return None


def silently_nullable(call: OpCall, family: Backend) -> bool:
    """alter_column(type_=...) without existing_nullable, where that makes it NULL-able."""
    return (family.alter_type_resets_nullable and "type_" in call.keywords
            and not call.keywords & {"nullable", "existing_nullable"})


def scan(script: Script, source: str, dialect: str) -> list[StaticHazard]:
    """The hazards of one revision's upgrade() for one dialect."""
    family = for_dialect(dialect)
    if family is None:  # an offline dialect dbmatrix has no family for: nothing known
        return []
    found = []
    for call in op_calls(source, dialect=dialect):
        if family.alters_in_batch_only and (message := _batch_only_hazards(call)):
            found.append(StaticHazard("sqlite-alter", (dialect,), script.revision,
                                      message, call.line))
        if message := _existing_hazards(call, family):
            column = ((call.table, call.column) if call.table and call.column
                      and silently_nullable(call, family) else None)
            found.append(StaticHazard("alter-needs-existing", (dialect,), script.revision,
                                      message, call.line, column))
    return found


ANY_TABLE = "*"
"""The table of an alter_column whose table name is not a literal
(`op.batch_alter_table(SqlModelVersion.__tablename__)` in MLflow): any table."""


def alter_intents(source: str) -> dict[tuple[str, str], frozenset[str]]:
    """(table, column) -> keywords given to alter_column in upgrade(): what it meant to change
    (ANY_TABLE for the table when its name is not a literal)."""
    intents: dict[tuple[str, str], frozenset[str]] = {}
    for call in op_calls(source):
        if call.name == "alter_column" and call.column:
            key = (call.table or ANY_TABLE, call.column)
            intents[key] = intents.get(key, frozenset()) | call.keywords
    return intents


def empty_downgrade(source: str) -> str | None:
    """How a revision's downgrade() declares it does nothing: "is empty" (only `pass`, `...`
    or a docstring: 30 of MLflow's 68 revisions) or "raises NotImplementedError"; None when it
    does something (or there is no downgrade() at module level)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    function = next((node for node in tree.body if isinstance(node, ast.FunctionDef)
                     and node.name == "downgrade"), None)
    if function is None:
        return None
    body = [s for s in function.body if not (isinstance(s, ast.Expr)
                                             and isinstance(s.value, ast.Constant))]
    if all(isinstance(s, ast.Pass) for s in body):
        return "is empty"
    if len(body) == 1 and isinstance(raised := body[0], ast.Raise) and raised.exc is not None:
        exc = raised.exc.func if isinstance(raised.exc, ast.Call) else raised.exc
        if isinstance(exc, ast.Name) and exc.id == "NotImplementedError":
            return "raises NotImplementedError"
    return None
