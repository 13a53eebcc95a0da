"""`dbmatrix doctor` on SQL Server, from recorded answers (no SQL Server runs here)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_dbmatrix import doctor
from pytest_dbmatrix.facts import Fact, ProbeError, environment

DATA = Path(__file__).parent / "data"


class RecordedProbe:
    """Answers each statement from a recording; an unrecorded statement fails the test."""

    def __init__(self, name: str) -> None:
        self.answers: dict[str, Any] = json.loads((DATA / name).read_text())
        self.asked: list[str] = []

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        self.asked.append(sql)
        if sql not in self.answers:
            raise AssertionError(f"no recorded answer for: {sql}")
        answer = self.answers[sql]
        if isinstance(answer, dict):
            raise ProbeError(answer["error"])
        return [tuple(row) for row in answer]


def by_key(facts: list[Fact]) -> dict[str, Fact]:
    return {f.key: f for f in facts}


def test_sql_server_2022_passes() -> None:
    probe = RecordedProbe("mssql_2022_answers.json")
    facts = by_key(doctor.diagnose(probe, "mssql", token="test"))
    assert facts["server"].value == "SQL Server 16.0.4135.4"
    assert facts["version_supported"].verdict == "ok"
    assert facts["connected_as"].value == "app"
    assert facts["collation"].value == "SQL_Latin1_General_CP1_CI_AS"
    assert (facts["case_sensitive"].value, facts["case_sensitive"].verdict) == (False, "warn")
    assert facts["encoding"].finding == "mssql-varchar-codepage"
    assert (facts["strict_mode"].value, facts["strict_mode"].detail) == (True, "ANSI_WARNINGS ON")
    assert facts["isolation"].value == "READ COMMITTED"
    assert "READ_COMMITTED_SNAPSHOT OFF" in facts["isolation"].detail
    assert (facts["time_zone"].value, facts["time_zone"].verdict) == ("+00:00", "ok")
    assert facts["identifier_limit"].value == 128
    assert facts["transactional_ddl"].value is True
    assert "confirmed on scratch objects" in facts["transactional_ddl"].detail
    assert "confirmed on scratch objects" in facts["foreign_keys"].detail
    assert facts["privileges"].verdict == "ok"
    assert facts["scratch"].value == "dbmatrix_doctor_test"
    assert doctor.exit_code(list(facts.values())) == doctor.EXIT_OK
    assert probe.asked[-1] == "DROP SCHEMA IF EXISTS [dbmatrix_doctor_test]"


def test_restricted_sql_server_2016_is_blocking() -> None:
    probe = RecordedProbe("mssql_2016_restricted_answers.json")
    facts = doctor.diagnose(probe, "mssql", token="test")
    found = by_key(facts)
    assert doctor.exit_code(facts) == doctor.EXIT_BLOCKING
    assert (found["version_supported"].verdict, found["version_supported"].finding) == (
        "block", "version-unsupported")
    assert (found["strict_mode"].verdict, found["strict_mode"].finding) == (
        "block", "mssql-ansi-warnings-off")
    assert found["case_sensitive"].value is True
    assert (found["time_zone"].verdict, found["time_zone"].finding) == ("warn",
                                                                        "time-zone-not-utc")
    assert "READ_COMMITTED_SNAPSHOT ON" in found["isolation"].detail
    assert found["scratch"].finding == "scratch-schema-denied"
    assert found["privileges"].verdict == "block"
    assert "CREATE TABLE permission denied" in found["privileges"].detail
    assert "transactional_ddl" in found and "measured" not in found["transactional_ddl"].detail
    assert "scratch_left" not in found
    assert {"DROP TABLE IF EXISTS [dbmatrix_doctor_test_parent]",
            "DROP TABLE IF EXISTS [dbmatrix_doctor_test_child]"} <= set(probe.asked)


def test_restricted_table_and_json_output() -> None:
    facts = doctor.diagnose(RecordedProbe("mssql_2016_restricted_answers.json"), "mssql",
                            token="test")
    table = doctor.render_table(facts, "dbmatrix doctor: mssql+pyodbc://reader:***@db/appdb")
    assert "BLOCK    strict values" in table
    assert "fix: SET ANSI_WARNINGS ON" in table
    assert "3 blocking problem(s)" in table
    data = doctor.as_json("mssql+pyodbc://reader:***@db/appdb", "mssql", facts, 1)
    assert data["blocking"] == 3 and data["exit_code"] == 1
    assert json.loads(json.dumps(data)) == data


def test_unreadable_topic_is_a_warning_not_a_crash() -> None:
    probe = RecordedProbe("mssql_2022_answers.json")
    del probe.answers["SELECT CAST(SESSIONPROPERTY('ANSI_WARNINGS') AS INT)"]
    probe.answers["SELECT CAST(SESSIONPROPERTY('ANSI_WARNINGS') AS INT)"] = {
        "error": "ProgrammingError[42000]: VIEW SERVER STATE permission denied (300)"}
    facts = by_key(environment(probe, "mssql"))
    unreadable = [f for f in facts.values() if f.key.startswith("unreadable_")]
    assert len(unreadable) == 1 and unreadable[0].verdict == "warn"
    assert "permission denied" in unreadable[0].detail
    assert facts["collation"].value == "SQL_Latin1_General_CP1_CI_AS"


def test_unknown_dialect_is_refused() -> None:
    with pytest.raises(ValueError, match="no environment facts for dialect 'oracle'"):
        environment(RecordedProbe("mssql_2022_answers.json"), "oracle")
