"""The layout cannot silently decay: what differs between databases lives in backends/.

Outside `pytest_dbmatrix/backends/`, no code compares against a family or dialect name, nor keys
a table by one: such code asks the family object instead. The import layers are checked by
import-linter (`lint-imports`, contract in pyproject.toml), run here and by CI.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "pytest_dbmatrix"
NAMES = frozenset({"sqlite", "postgresql", "postgres", "mysql", "mariadb", "mssql", "oracle"})


def _named(node: ast.AST | None) -> bool:
    """A family or dialect name literal, alone or inside a literal tuple, list or set."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str) and node.value.lower() in NAMES
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return any(_named(element) for element in node.elts)
    return False


def _offences(tree: ast.AST) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and any(map(_named, [node.left, *node.comparators])):
            yield node.lineno, "compares a family/dialect name"
        elif isinstance(node, ast.Dict) and any(map(_named, node.keys)):
            yield node.lineno, "keys a table by family/dialect name"
        elif isinstance(node, ast.Set) and _named(node):
            yield node.lineno, "a set of family/dialect names"
        elif isinstance(node, ast.MatchValue) and _named(node.value):
            yield node.lineno, "matches a family/dialect name"


def offences(root: Path) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        if "backends" in path.relative_to(root).parts:
            continue
        for line, what in _offences(ast.parse(path.read_text(), str(path))):
            found.append(f"{path.relative_to(root.parent)}:{line}: {what}")
    return found


def test_no_family_names_outside_backends() -> None:
    assert offences(PACKAGE) == []


@pytest.mark.parametrize("source", [
    'if dialect == "sqlite": pass',
    'ok = kind in ("mysql", "mariadb")',
    'RULES = {"postgresql": 1}',
    'ATOMIC = {"sqlite", "MySQL"}',
    'match name:\n    case "mssql":\n        pass',
])
def test_the_scan_sees_each_shape(source: str) -> None:
    assert list(_offences(ast.parse(source)))


def test_the_scan_ignores_other_strings() -> None:
    source = 'if mode == "strict": pass\nhelp = "runs on sqlite"\nDEFAULT = ("mssql",)'
    assert list(_offences(ast.parse(source))) == []


def test_import_layers_hold() -> None:
    lint = shutil.which("lint-imports")
    assert lint, "import-linter is in the test extra: pip install -e '.[test]'"
    done = subprocess.run([lint], cwd=PACKAGE.parent, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
