"""Which code of a revision's function can run on a dialect: its dialect tests, evaluated.

Real histories branch on the dialect (`if op.get_bind().engine.name == "mysql":`, `dialect =
bind.dialect.name; if dialect in ("mysql", "mariadb"):`, an early `return` on SQLite). A static
hazard inside a branch that cannot run on a dialect is noise there. The names compared are the
user's own data (SQLAlchemy dialect names), read from the revision script."""

from __future__ import annotations

import ast

DIALECT_HOLDERS = frozenset({"dialect", "engine"})
"""`<x>.dialect.name` and `<x>.engine.name` are the dialect's name (bind, context, connection)."""


def _literals(node: ast.expr) -> set[str] | None:
    """A string literal, or a tuple/list/set of them, as a set; None otherwise."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        found = [_literals(e) for e in node.elts]
        if all(f is not None and len(f) == 1 for f in found):
            return {value for f in found for value in f or ()}
    return None


class Guards:
    """The dialect tests of one function, evaluated for one dialect."""

    def __init__(self, function: ast.FunctionDef, dialect: str) -> None:
        self.dialect = dialect
        assigned: dict[str, list[ast.expr]] = {}
        for node in ast.walk(function):
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(
                    node.targets[0], ast.Name):
                assigned.setdefault(node.targets[0].id, []).append(node.value)
        self.names = {name: values[0] for name, values in assigned.items() if len(values) == 1}
        """Names assigned once: `dialect_name = op.get_bind().dialect.name`, `is_x = ...`."""

    def is_dialect(self, node: ast.expr) -> bool:
        if isinstance(node, ast.Name) and node.id in self.names:
            return self.is_dialect(self.names[node.id])
        return (isinstance(node, ast.Attribute) and node.attr == "name"
                and isinstance(node.value, ast.Attribute)
                and node.value.attr in DIALECT_HOLDERS)

    def _compare(self, node: ast.Compare) -> bool | None:
        if len(node.ops) != 1:
            return None
        left, op, right = node.left, node.ops[0], node.comparators[0]
        if self.is_dialect(right) and not self.is_dialect(left):
            left, right = right, left
        names = _literals(right)
        if not self.is_dialect(left) or names is None:
            return None
        if isinstance(op, ast.Eq | ast.In):
            return self.dialect in names
        if isinstance(op, ast.NotEq | ast.NotIn):
            return self.dialect not in names
        return None

    def evaluate(self, node: ast.expr) -> bool | None:
        """True or False when `node` is a dialect test (or built of them); None otherwise."""
        if isinstance(node, ast.Name) and node.id in self.names:
            return self.evaluate(self.names[node.id])
        if isinstance(node, ast.Compare):
            return self._compare(node)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            value = self.evaluate(node.operand)
            return None if value is None else not value
        if isinstance(node, ast.BoolOp):
            values = [self.evaluate(v) for v in node.values]
            decisive = isinstance(node.op, ast.Or)  # True decides an or, False an and
            if decisive in values:
                return decisive
            return None if None in values else not decisive
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "startswith" and self.is_dialect(node.func.value)
                and node.args and (prefixes := _literals(node.args[0])) is not None):
            return any(self.dialect.startswith(p) for p in prefixes)
        return None


class Reach:
    """The nodes of a function that can run on a dialect (`ids`), following its tests."""

    def __init__(self, function: ast.FunctionDef, dialect: str) -> None:
        self.guards = Guards(function, dialect)
        self.ids: set[int] = set()
        self._block(function.body)

    def __contains__(self, node: ast.AST) -> bool:
        return id(node) in self.ids

    def _mark(self, node: ast.AST) -> None:
        if isinstance(node, ast.IfExp):
            value = self.guards.evaluate(node.test)
            self.ids.add(id(node))
            self._mark(node.test)
            for branch, taken in ((node.body, value is not False),
                                  (node.orelse, value is not True)):
                if taken:
                    self._mark(branch)
            return
        self.ids.add(id(node))
        for child in ast.iter_child_nodes(node):
            self._mark(child)

    def _block(self, body: list[ast.stmt]) -> bool:
        """Mark what runs in `body`; False when it never falls through (returns, raises)."""
        return all(self._statement(stmt) for stmt in body)

    def _statement(self, stmt: ast.stmt) -> bool:
        if isinstance(stmt, ast.If):
            self.ids.add(id(stmt))
            self._mark(stmt.test)
            value = self.guards.evaluate(stmt.test)
            through_body = self._block(stmt.body) if value is not False else False
            through_else = self._block(stmt.orelse) if value is not True else False
            return through_body or through_else
        if isinstance(stmt, ast.Return | ast.Raise):
            self._mark(stmt)
            return False
        nested = [getattr(stmt, name) for name in ("body", "orelse", "finalbody")
                  if isinstance(getattr(stmt, name, None), list)]
        falls_through = True
        if not nested or isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            self._mark(stmt)
            return True
        self.ids.add(id(stmt))
        for name, value in ast.iter_fields(stmt):
            if name not in ("body", "orelse", "finalbody", "handlers"):
                for child in value if isinstance(value, list) else [value]:
                    if isinstance(child, ast.AST):
                        self._mark(child)
        for block in nested:
            through = self._block(block)
            if isinstance(stmt, ast.With | ast.AsyncWith):
                falls_through = through
        for handler in getattr(stmt, "handlers", []):
            self.ids.add(id(handler))
            self._block(handler.body)
        return falls_through
