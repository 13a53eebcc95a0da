"""Joining inputs into one ResultMatrix, as a single run over all their backends would make.

A backend name served by different servers in different inputs (postgresql on 13 in one job,
on 16 in another) becomes one column per server, `postgresql@13` and `postgresql@16`: never
one column mixing two servers.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from pytest_dbmatrix.findings import Finding, FindingLog
from pytest_dbmatrix.report import digest, identity
from pytest_dbmatrix.report.merge.inputs import VERSION, Input, MergeError
from pytest_dbmatrix.results import Cell, ResultMatrix


class Joined(NamedTuple):
    matrix: ResultMatrix
    run: dict[str, Any]
    sections: dict[str, Any]
    warnings: list[str]


def join(inputs: list[Input]) -> Joined:
    _check_labels(inputs)
    columns = column_names(inputs)
    matrix, warnings = ResultMatrix(), []
    for n, source in enumerate(inputs):
        for backend, info in source.matrix.backends.items():
            matrix.backends.setdefault(columns[n, backend], dict(info, report=source.label))
        mine = {backend: columns[n, backend] for backend in _backends(source)}
        twice: dict[str, int] = {}
        for test, cells in source.matrix.tests.items():
            row = matrix.tests.get(test)
            if row is None:
                row = matrix.tests[test] = {}
            for backend, cell in cells.items():
                column = mine[backend]
                if column in row:
                    twice[column] = twice.get(column, 0) + 1
                else:
                    row[column] = cell
        warnings += [f"{source.path}: {count} test(s) on {column} are also in "
                     f"{_owner(inputs, columns, column, n)}; kept the first"
                     for column, count in twice.items()]
    for n, source in enumerate(inputs):
        if source.partial:
            warnings.append(_mark_missing(matrix, source, n, columns))
    sections: dict[str, Any] = {"merged_from": [_described(s, n, columns)
                                                for n, s in enumerate(inputs)]}
    for source in inputs:
        for key, value in source.sections.items():
            if key not in FINDING_SECTIONS:
                sections.setdefault(key, {})[source.label] = value
    sections.update(_findings(inputs))
    return Joined(matrix, _run(inputs), sections, warnings)


FINDING_SECTIONS = ("fail_on", "findings", "digest", "acceptances")
"""Joined as one run's would be, not kept per input: the digest is recomputed from them."""


def _findings(inputs: list[Input]) -> dict[str, Any]:
    log = FindingLog()
    for source in inputs:
        log.add(Finding.from_dict(data) for data in source.sections.get("findings") or ())
    if not len(log):
        return {}
    levels = {str(s.sections["fail_on"]) for s in inputs if "fail_on" in s.sections}
    acceptances = [dict(a, report=s.label) for s in inputs
                   for a in s.sections.get("acceptances") or ()]
    found = log.sorted()
    return {"fail_on": levels.pop() if len(levels) == 1 else "mixed",
            "findings": [f.as_dict() for f in found], "digest": digest.entries(found),
            "acceptances": acceptances}


def _check_labels(inputs: list[Input]) -> None:
    seen: dict[str, Input] = {}
    for source in inputs:
        if source.label in seen:
            raise MergeError(
                f"{seen[source.label].path} and {source.path} both claim the run label "
                f"{source.label!r}: give each job its own with --dbmatrix-label (ini "
                f"dbmatrix_label, env DBMATRIX_LABEL), or in GitHub Actions pass the matrix as "
                f"DBMATRIX_GITHUB_MATRIX: ${{{{ toJSON(matrix) }}}}; a file given twice "
                f"is also this")
        seen[source.label] = source


def column_names(inputs: list[Input]) -> dict[tuple[int, str], str]:
    """(input index, backend) -> column: the backend's name, with @ and what tells its servers
    apart when one name has several."""
    servers: dict[str, dict[str, None]] = {}
    for source in inputs:
        for backend in _backends(source):
            servers.setdefault(backend, {})[_server_of(source, backend)] = None
    suffixes = {name: _suffixes(list(found)) for name, found in servers.items() if len(found) > 1}
    return {(n, backend): (f"{backend}@{suffixes[backend][_server_of(source, backend)]}"
                           if backend in suffixes else backend)
            for n, source in enumerate(inputs) for backend in _backends(source)}


def _backends(source: Input) -> list[str]:
    return source.matrix.backend_names


def _server_of(source: Input, backend: str) -> str:
    info = source.matrix.backends.get(backend, {})
    return str(info.get("server") or info.get("status") or f"unknown in {source.label}")


def _suffixes(servers: list[str]) -> dict[str, str]:
    """The shortest version prefix telling the servers apart (PostgreSQL 13.4 and 16.1: 13
    and 16), with the product when products differ; else the whole server text."""
    parsed = {s: VERSION.match(s) for s in servers}
    if not all(parsed.values()):
        return {s: s.replace(" ", "-").lower() for s in servers}
    products = {m["product"] for m in parsed.values() if m}
    versions = {s: m["version"].split(".") for s, m in parsed.items() if m}
    for size in range(1, max(map(len, versions.values())) + 1):
        short = {s: ".".join(v[:size]) for s, v in versions.items()}
        if len(products) > 1:
            short = {s: f"{parsed[s]['product'].lower()}-{v}" for s, v in short.items()}  # type: ignore[index]
        if len(set(short.values())) == len(servers):
            return short
    return {s: s.replace(" ", "-").lower() for s in servers}


def _owner(inputs: list[Input], columns: dict[tuple[int, str], str], column: str,
           before: int) -> str:
    return next(str(inputs[n].path) for (n, _), c in columns.items() if c == column and n < before)


def _mark_missing(matrix: ResultMatrix, source: Input, n: int,
                  columns: dict[tuple[int, str], str]) -> str:
    """A partial report's tests not run, as `missing` cells: from its own list of collected
    tests when it has one, else every row of the merge its backends have no result for."""
    marked = 0
    listed = source.not_run
    for backend in _backends(source):
        column = columns[n, backend]
        tests = listed.get(backend, []) if listed is not None else list(matrix.tests)
        for test in tests:
            row = matrix.tests.setdefault(test, {})
            if column not in row:
                row[column] = Cell("missing")
                marked += 1
    why = source.run.get("reason") or "it did not finish"
    return (f"{source.path} ({source.label}) is a partial report: {why}; merged, its {marked} "
            f"test(s) not run are marked missing: rerun that job for a complete matrix")


def _described(source: Input, n: int, columns: dict[tuple[int, str], str]) -> dict[str, Any]:
    return {"label": source.label, "file": str(source.path), "status": source.run.get("status"),
            "reason": source.run.get("reason"), "started": source.run.get("started"),
            "ended": source.run.get("ended"), "plugin_version": source.plugin_version,
            "columns": [columns[n, b] for b in _backends(source)],
            "tests": len(source.matrix.tests)}


def _run(inputs: list[Input]) -> dict[str, Any]:
    started = [s.run["started"] for s in inputs if s.run.get("started")]
    ended = [s.run["ended"] for s in inputs if s.run.get("ended")]
    partial = [s.label for s in inputs if s.partial]
    run = identity.run_block(("merge", "dbmatrix merge"), min(started, default=None) or "",
                             max(ended, default=None), "partial" if partial else "finished",
                             f"partial input(s): {', '.join(partial)}" if partial else None)
    run["started"] = run["started"] or None
    return run
