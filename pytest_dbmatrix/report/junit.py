"""JUnit XML of report data: one testcase per test and backend, with the plugin's properties,
so CI test viewers show the merged matrix and `dbmatrix merge` can read it back."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any


def render(data: dict[str, Any]) -> str:
    suite = ET.Element("testsuite", name="dbmatrix", tests="0", failures="0", errors="0",
                       skipped="0", timestamp=str(data.get("created") or ""))
    props = ET.SubElement(suite, "properties")
    ET.SubElement(props, "property", name="dbmatrix_label",
                  value=str((data.get("run") or {}).get("label") or "merge"))
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for row in data["tests"]:
        for backend, cell in row["results"].items():
            counts["tests"] += 1
            _case(suite, row["test"], backend, cell, data["backends"].get(backend, {}), counts)
    suite.attrib.update({k: str(v) for k, v in counts.items()})
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _case(suite: ET.Element, test: str, backend: str, cell: dict[str, Any],
          info: dict[str, Any], counts: dict[str, int]) -> None:
    where, _, name = test.rpartition("::")
    case = ET.SubElement(suite, "testcase", classname=where.replace("/", ".").removesuffix(".py"),
                         name=f"{name}[{backend}]", time=f"{float(cell.get('duration') or 0):.3f}")
    props = ET.SubElement(case, "properties")
    values = [("dbmatrix_backend", backend), ("dbmatrix_test", test),
              ("dbmatrix_server", info.get("server")), ("dbmatrix_dialect", info.get("dialect")),
              ("dbmatrix_provider", info.get("provider"))]
    if cell.get("error"):
        values.append(("dbmatrix_error", json.dumps(cell["error"], default=str)))
    for key, value in values:
        if value is not None:
            ET.SubElement(props, "property", name=key, value=str(value))
    outcome = cell["outcome"]
    line = (cell.get("error") or {}).get("line") or cell.get("reason") or outcome
    if outcome == "failed":
        counts["failures"] += 1
        ET.SubElement(case, "failure", message=line)
    elif outcome in ("error", "missing"):
        counts["errors"] += 1
        ET.SubElement(case, "error", message=line if outcome == "error" else
                      "not run: its job's report is partial")
    elif outcome in ("skipped", "xfailed"):
        counts["skipped"] += 1
        ET.SubElement(case, "skipped", message=str(line).removeprefix("Skipped: "),
                      type="pytest.xfail" if outcome == "xfailed" else "pytest.skip")


def write(data: dict[str, Any], path: str | Path) -> None:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render(data), encoding="utf-8")
