"""Reading the reports to merge: the plugin's JSON reports and its JUnit XML files.

Each becomes an `Input`: its label, how its run ended, and a ResultMatrix of its cells. Every
problem is a MergeError naming the file and what to do about it (the command exits 2).
"""

from __future__ import annotations

import glob
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_dbmatrix import __version__
from pytest_dbmatrix.results import Cell, ResultMatrix

SCHEMA_PREFIX = "pytest-dbmatrix/report/"
READABLE_SCHEMAS = (1,)
CORE_KEYS = {"schema", "plugin_version", "created", "run", "backends", "totals", "tests",
             "incompatibilities", "lost_backends", "merged_from", "baseline"}
"""Keys the merge rebuilds; any other top-level key is a section carried over per input."""


class MergeError(Exception):
    """Bad input: the message names the file and the fix."""


@dataclass
class Input:
    path: Path
    label: str
    run: dict[str, Any]
    matrix: ResultMatrix
    plugin_version: str | None = None
    sections: dict[str, Any] = field(default_factory=dict)

    @property
    def partial(self) -> bool:
        return self.run.get("status") == "partial"

    @property
    def not_run(self) -> dict[str, list[str]] | None:
        """backend -> tests collected but not run; None when the report cannot say."""
        value = self.run.get("not_run")
        return value if isinstance(value, dict) else None


def expand(patterns: list[str]) -> list[Path]:
    """Files from paths, globs (also when the shell did not expand them: quoted, or on
    Windows) and directories (their *.json and *.xml, recursively), each once, in order."""
    found: dict[Path, None] = {}
    for pattern in patterns:
        path = Path(pattern)
        if path.is_dir():
            matches = sorted([*path.rglob("*.json"), *path.rglob("*.xml")])
            if not matches:
                raise MergeError(f"{pattern}: a directory with no *.json or *.xml report in it; "
                                 f"pass the files --dbmatrix-report or --junitxml wrote")
        elif glob.has_magic(pattern):
            matches = sorted(Path(p) for p in glob.glob(pattern, recursive=True))
            if not matches:
                raise MergeError(f"{pattern}: no files matched; check the pattern and that the "
                                 f"jobs' reports were downloaded there")
        elif path.is_file():
            matches = [path]
        else:
            raise MergeError(f"{pattern}: no such file; pass the path --dbmatrix-report or "
                             f"--junitxml wrote")
        found.update(dict.fromkeys(matches))
    if not found:
        raise MergeError("no report files given: dbmatrix merge REPORT.json... (globs allowed)")
    return list(found)


def read(path: Path) -> Input:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MergeError(f"{path}: cannot read it ({exc})") from None
    if text.lstrip().startswith("<"):
        return read_junit(path, text)
    return read_json(path, text)


def read_json(path: Path, text: str) -> Input:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        if not text.rstrip().endswith(("}", "]")):  # a whole report ends with its brace
            raise MergeError(f"{path}: truncated JSON (ends at line {exc.lineno}, column "
                             f"{exc.colno}): the job that wrote it was probably killed while "
                             f"writing; rerun that job or leave this file out") from None
        raise MergeError(f"{path}: not JSON ({exc.msg} at line {exc.lineno}, column "
                         f"{exc.colno}); pass the file --dbmatrix-report wrote") from None
    schema = data.get("schema") if isinstance(data, dict) else None
    if not isinstance(schema, str) or not schema.startswith(SCHEMA_PREFIX):
        raise MergeError(f"{path}: not a dbmatrix report (no \"schema\": "
                         f"\"{SCHEMA_PREFIX}1\"); pass the file --dbmatrix-report=PATH wrote")
    version = schema.removeprefix(SCHEMA_PREFIX)
    if not version.isdigit() or int(version) not in READABLE_SCHEMAS:
        raise MergeError(f"{path}: unknown report schema version {version!r} (plugin "
                         f"{data.get('plugin_version')}); this dbmatrix {__version__} reads "
                         f"version {', '.join(map(str, READABLE_SCHEMAS))}: upgrade it "
                         f"(pip install -U pytest-dbmatrix) where you merge")
    if not isinstance(data.get("tests"), list) or not isinstance(data.get("backends"), dict):
        raise MergeError(f"{path}: a dbmatrix report without its \"tests\" and \"backends\": "
                         f"the file was edited or cut; rerun the job that wrote it")
    matrix = ResultMatrix(backends={k: dict(v) for k, v in data["backends"].items()})
    try:
        _cells(data["tests"], matrix.tests)
    except (TypeError, KeyError, AttributeError, ValueError) as exc:
        raise MergeError(f"{path}: a test row is not of a dbmatrix report ({exc!r}): the file "
                         f"was edited or written by another tool") from None
    run = data.get("run") or {"status": "finished"}  # reports before 0.2 have no run block
    label = run.get("label") or path.stem
    sections = {k: v for k, v in data.items() if k not in CORE_KEYS}
    return Input(path, str(label), run, matrix, data.get("plugin_version"), sections)


def _cells(rows: list[dict[str, Any]], tests: dict[str, dict[str, Cell]]) -> None:
    """The rows' cells; Cell(**cell) when a cell has exactly Cell's fields (fast: 100,000
    cells are read in well under a second), field by field when a later version added some."""
    for row in rows:
        try:
            tests[row["test"]] = {b: Cell(**cell) for b, cell in row["results"].items()}
        except TypeError:
            tests[row["test"]] = {
                b: Cell(cell.get("outcome", "passed"), float(cell.get("duration") or 0),
                        cell.get("error"), cell.get("reason"))
                for b, cell in row["results"].items()}


VERSION = re.compile(r"(?P<product>[A-Za-z][\w ]*?) (?P<version>\d+(?:\.\d+)*)")


def read_junit(path: Path, text: str) -> Input:
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise MergeError(f"{path}: truncated or malformed JUnit XML ({exc}); rerun the job "
                         f"that wrote it or leave this file out") from None
    matrix = ResultMatrix()
    label = None
    for suite in root.iter("testsuite"):
        for prop in suite.findall("properties/property"):
            if prop.get("name") == "dbmatrix_label":
                label = prop.get("value")
        for case in suite.iter("testcase"):
            _junit_case(case, matrix)
    if not matrix.tests:
        raise MergeError(f"{path}: JUnit XML without dbmatrix properties (dbmatrix_backend): "
                         f"not written by a pytest run with pytest-dbmatrix; pass --junitxml of "
                         f"a run with the plugin, or its --dbmatrix-report JSON")
    return Input(path, label or path.stem, {"status": "finished", "source": "junit"}, matrix)


def _junit_case(case: ET.Element, matrix: ResultMatrix) -> None:
    """One testcase into its cell: the backend, row and errors from the plugin's properties,
    the outcome from JUnit's elements (JUnit cannot tell xpassed from passed)."""
    props = [(p.get("name"), p.get("value") or "") for p in case.iter("property")]
    named = dict(props)
    backend = named.get("dbmatrix_backend")
    if backend is None:
        return
    test = named.get("dbmatrix_test") or _row_of(case, backend)
    errors = [json.loads(v) for n, v in props if n == "dbmatrix_error"]
    outcome, reason = _junit_outcome(case)
    matrix.tests.setdefault(test, {})[backend] = Cell(
        outcome, float(case.get("time") or 0), errors[-1] if errors else None, reason)
    if backend not in matrix.backends and "dbmatrix_server" in named:
        server = named["dbmatrix_server"]
        found = VERSION.match(server)
        matrix.backends[backend] = {
            "name": backend, "status": "ok", "dialect": named.get("dbmatrix_dialect"),
            "server": server, "provider": named.get("dbmatrix_provider"),
            "product": found["product"] if found else None,
            "version": [int(n) for n in found["version"].split(".")] if found else None}


def _row_of(case: ET.Element, backend: str) -> str:
    """The row of a testcase of a plugin older than the dbmatrix_test property: classname and
    name, without the backend id (it matches other JUnit files, not JSON reports)."""
    name = (case.get("name") or "").replace(f"[{backend}]", "").replace(f"-{backend}]", "]")
    return f"{case.get('classname')}::{name.replace(f'[{backend}-', '[')}"


def _junit_outcome(case: ET.Element) -> tuple[str, str | None]:
    if case.find("failure") is not None:
        return "failed", None
    if case.find("error") is not None:
        return "error", None
    skipped = case.find("skipped")
    if skipped is not None:
        message = skipped.get("message") or None
        if skipped.get("type") == "pytest.xfail":
            return "xfailed", message
        return "skipped", f"Skipped: {message}" if message else None
    return "passed", None
