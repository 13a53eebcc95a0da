"""`dbmatrix merge`: one matrix and incompatibility report from the reports of many jobs.

Each CI job (a tox environment, a GitHub Actions matrix entry) sees one backend, so its own
report can show no incompatibility. The merge joins their JSON reports (or JUnit XML) by test
into the ResultMatrix a single run over all those backends would have built, and renders it
with the same code: terminal summary, JSON, HTML, JUnit, and a Markdown summary.

Exit status: 0, 1 when --fail-on finds what it looks for, 2 for bad input (the message names
the file and the fix).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from pytest_dbmatrix.report.merge.inputs import MergeError

FAIL_ON = ("incompatibility", "new", "never")
EXIT_BAD_INPUT = 2


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    parser.add_argument("reports", nargs="+", metavar="REPORT",
                        help="JSON reports (--dbmatrix-report) or JUnit XML (--junitxml) of "
                             "the jobs: files, globs or directories")
    parser.add_argument("--json", metavar="OUT", help="write the merged JSON report")
    parser.add_argument("--html", metavar="OUT", help="write the merged HTML page")
    parser.add_argument("--markdown", metavar="OUT",
                        help="write a GitHub-flavoured summary (default: appended to "
                             "$GITHUB_STEP_SUMMARY when that is set)")
    parser.add_argument("--junit", metavar="OUT", help="write the merged matrix as JUnit XML")
    parser.add_argument("--baseline", metavar="FILE",
                        help="a report of the base branch: group incompatibilities as new, "
                             "still present or fixed")
    parser.add_argument("--fail-on", choices=FAIL_ON, default="incompatibility",
                        help="exit 1 on any incompatibility (default), only on new ones "
                             "(needs --baseline), or never")
    parser.add_argument("--summary", choices=("auto", "full", "diff", "none"), default="auto",
                        help="matrix in the terminal: as --dbmatrix-summary")


def run_merge(args: argparse.Namespace) -> int:
    try:
        return _merge(args)
    except MergeError as exc:
        print(f"dbmatrix merge: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


def _merge(args: argparse.Namespace) -> int:
    from pytest_dbmatrix.report import json_report
    from pytest_dbmatrix.report.merge import baseline, inputs, join

    if args.fail_on == "new" and not args.baseline:
        raise MergeError("--fail-on new compares with a baseline: add --baseline FILE (the "
                         "merged JSON report of the base branch)")
    joined = join.join([inputs.read(path) for path in inputs.expand(args.reports)])
    for warning in joined.warnings:
        print(f"dbmatrix merge: warning: {warning}", file=sys.stderr)
    data = json_report.data_of(joined.matrix, joined.run, joined.sections)
    if args.baseline:
        data["baseline"] = baseline.diff(data, _baseline(Path(args.baseline)), args.baseline)
    _terminal(joined.matrix, data, args.summary)
    _outputs(args, data)
    return _exit_code(args.fail_on, data)


def _baseline(path: Path) -> dict[str, Any]:
    from pytest_dbmatrix.report import json_report
    from pytest_dbmatrix.report.merge import inputs, join

    if not path.is_file():
        raise MergeError(f"--baseline {path}: no such file; pass the merged JSON report of the "
                         f"base branch (dbmatrix merge ... --json) or leave --baseline out")
    source = join.join([inputs.read(path)])
    return json_report.data_of(source.matrix, source.run, source.sections)


def _terminal(matrix: Any, data: dict[str, Any], mode: str) -> None:
    from pytest_dbmatrix.report import terminal
    from pytest_dbmatrix.report.merge import baseline

    if mode == "none" or not matrix.tests:
        return
    writer = LineWriter()
    groups = baseline.groups(data.get("baseline"))
    terminal.write_results(writer, matrix, mode, groups)
    section = data.get("baseline")
    if section:
        writer.write_sep("-", f"dbmatrix baseline {section['file']}: {len(section['new'])} new, "
                              f"{len(section['still_present'])} still present, "
                              f"{len(section['fixed'])} fixed")
        for inc in section["fixed"]:
            writer.write_line(f"fixed: {inc['test']} (failed on {', '.join(inc['failed_on'])})",
                              green=True)
        for inc in section["gone"]:
            writer.write_line(f"not run now: {inc['test']} (was incompatible)")
    for source in data["merged_from"]:
        writer.write_line(f"merged {source['file']}: {source['label']}, {source['tests']} tests "
                          f"on {', '.join(source['columns'])} ({source['status']})")


def _outputs(args: argparse.Namespace, data: dict[str, Any]) -> None:
    from pytest_dbmatrix.report import html, json_report, junit, markdown

    if args.json:
        json_report.write_data(data, args.json)
    if args.html:
        target = Path(args.html)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(html.render(data), encoding="utf-8")
    if args.junit:
        junit.write(data, args.junit)
    summary = args.markdown or os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        target = Path(summary)
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("w" if args.markdown else "a", encoding="utf-8") as out:
            out.write(markdown.render(data))
    for name, path in (("JSON", args.json), ("HTML", args.html), ("JUnit", args.junit),
                       ("Markdown", summary)):
        if path:
            print(f"dbmatrix merge: {name} report: {path}")


def _exit_code(fail_on: str, data: dict[str, Any]) -> int:
    if fail_on == "never":
        return 0
    if fail_on == "new":
        return 1 if data["baseline"]["new"] else 0
    return 1 if data["incompatibilities"] else 0


class LineWriter:
    """The two TerminalReporter methods the terminal renderers use, on pytest's
    TerminalWriter (colour as pytest decides it: a tty, PY_COLORS, NO_COLOR)."""

    def __init__(self) -> None:
        from _pytest._io import TerminalWriter

        self._tw = TerminalWriter(sys.stdout)

    def write_line(self, line: str, **markup: bool) -> None:
        self._tw.line(line, **markup)

    def write_sep(self, sep: str, title: str, **markup: bool) -> None:
        self._tw.sep(sep, title, **markup)
