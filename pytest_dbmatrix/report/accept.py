"""`dbmatrix accept REPORT.json > accepted.ini`: accept every current finding, to start from green.

The output is a pytest ini fragment (`[pytest]` with `dbmatrix_accept` lines), read back with
`--dbmatrix-accept-file accepted.ini` (ini `dbmatrix_accept_file`) or pasted into the project's
ini. One line per hazard and place, with the backends it is found on; a finding already accepted
keeps its reason, the others get their severity and message as a reason to edit.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pytest_dbmatrix.findings import Finding
from pytest_dbmatrix.triage import INI_KEY, backends_of, places_of

EXIT_BAD_INPUT = 2


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    parser.add_argument("report", metavar="REPORT",
                        help="a JSON report (--dbmatrix-report, or dbmatrix merge --json)")
    parser.add_argument("--status", choices=("all", "failed"), default="all",
                        help="accept every finding (default), or only those that failed")


def run_accept(args: argparse.Namespace) -> int:
    from pytest_dbmatrix.report.merge.inputs import MergeError, read_json

    path = Path(args.report)
    try:
        data = read_json(path, path.read_text(encoding="utf-8")).sections
    except OSError as exc:
        print(f"dbmatrix accept: error: {path}: cannot read it ({exc.strerror})",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    except MergeError as exc:
        print(f"dbmatrix accept: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if "findings" not in data:
        print(f"dbmatrix accept: error: {path}: a report without findings (written by an "
              f"older plugin, or a run without the conformance suite or migration checks)",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    found = [Finding.from_dict(f) for f in data["findings"]]
    chosen = [f for f in found if f.status != "note"
              and (args.status == "all" or f.status == "failed")]
    sys.stdout.write(render(chosen, str(path)))
    return 0


def render(findings: list[Finding], source: str) -> str:
    lines = [f"# dbmatrix accept {source}: {len(findings)} finding(s); give each a reason",
             "[pytest]", f"{INI_KEY} ="]
    for (hazard, place), group in _grouped(findings).items():
        backends = ",".join(sorted({b for f in group for b in backends_of(f)}))
        lines.append(f"    {hazard}:{place}:{backends}  # {_reason(group[0])}")
    return "\n".join(lines) + "\n"


def _grouped(findings: list[Finding]) -> dict[tuple[str, str], list[Finding]]:
    groups: dict[tuple[str, str], list[Finding]] = {}
    for finding in findings:
        groups.setdefault((finding.hazard, places_of(finding)[0]), []).append(finding)
    return dict(sorted(groups.items()))


def _reason(finding: Finding) -> str:
    if finding.reason:
        return finding.reason
    text = " ".join(finding.message.split()).replace("#", "No.")
    return f"{finding.severity}: {text[:100]}"
