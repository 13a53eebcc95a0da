"""The `dbmatrix` command as users run it: a subprocess of `python -m pytest_dbmatrix`."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import LIVE_URLS


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest_dbmatrix", *args],
                          capture_output=True, text=True, timeout=120, check=False)


def test_help_lists_every_command() -> None:
    result = run("--help")
    assert result.returncode == 0
    for command in ("up", "down", "status", "doctor"):
        assert command in result.stdout


def test_doctor_json_through_the_console_entry() -> None:
    result = run("doctor", LIVE_URLS["postgresql"], "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert "PostgreSQL 15" in json.dumps(report)


def test_unknown_command_is_a_usage_error() -> None:
    result = run("explode")
    assert result.returncode == 2
    assert "invalid choice: 'explode'" in result.stderr
