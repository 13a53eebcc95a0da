"""conformance/check.py: the main job's verdict on a sample's report."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check", ROOT / "conformance" / "check.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _report(tmp_path: Path, findings: list[dict[str, Any]]) -> Path:
    path = tmp_path / "report.json"
    path.write_text(json.dumps({"conformance": {"live_backends": ["sqlite"],
                                                "findings": findings}}))
    return path


def _expected_on(backends: set[str]) -> list[dict[str, Any]]:
    """The sample's expected findings as a report lists them (the hazard under `hazard`)."""
    expected = json.loads((ROOT / "conformance/shop/expected.json").read_text())
    return [{"hazard": f["category"], **{k: v for k, v in f.items() if k != "category"}}
            for f in expected["findings"] if f["backend"] in backends]


def test_sqlite_run_with_exactly_the_expected_findings_passes(tmp_path: Path) -> None:
    findings = _expected_on({"sqlite", "mssql", "oracle"})
    assert findings
    assert _checker().check(ROOT / "conformance/shop", _report(tmp_path, findings)) == []


def test_missing_and_unexpected_findings_are_named(tmp_path: Path) -> None:
    findings = _expected_on({"sqlite", "mssql", "oracle"})
    dropped = findings.pop()
    findings.append({"table": "customers", "column": "name", "hazard": "array",
                     "backend": "sqlite"})
    problems = _checker().check(ROOT / "conformance/shop", _report(tmp_path, findings))
    assert problems == [
        f"missing: {dropped['table']} / {dropped['column']} / {dropped['hazard']} / "
        f"{dropped['backend']}",
        "unexpected: customers / name / array / sqlite",
    ]
