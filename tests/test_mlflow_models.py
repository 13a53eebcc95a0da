"""MLflow's tracking and model-registry models as the conformance suite's acceptance corpus.

MLflow (mlflow-skinny, pinned in the test extra so the counts hold) declares 64 tables that its
users deploy on SQLite, PostgreSQL, MySQL and SQL Server. The suite runs on them live on the
four servers here (mysql: the dialect against MariaDB) and statically for mssql and oracle; the
digest below is what it finds. No MLflow code is committed: the models are imported from the
installed package.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from tests.conftest import LIVE

MODELS = """
import os

import sqlalchemy as sa

import mlflow.store.model_registry.dbmodels.models  # noqa: F401
import mlflow.store.tracking.dbmodels.models  # noqa: F401
from mlflow.store.db.base_sql_model import Base

if os.environ.get("DBM_DOUBLE_BUDGET"):  # the one model change of the acceptance test
    Base.metadata.tables["budget_policies"].c.budget_amount.type = sa.Double()
"""

DIGEST = {
    "length-unenforced": ("error", 155, ("sqlite",)),
    "unique-case-insensitive": ("error", 42, ("mariadb", "mysql")),
    "unique-pad-space": ("error", 42, ("mariadb", "mysql")),
    "unrenderable-type": ("error", 26, ("oracle",)),
    "ddl-rejected": ("error", 8, ("mariadb", "mysql", "postgresql", "sqlite")),
    "value-rejected": ("error", 6, ("mariadb", "mysql", "postgresql")),
    "fk-unenforced": ("error", 5, ("sqlite",)),
    "float-precision": ("error", 4, ("mariadb", "mysql")),
    "fk-target-not-unique": ("error", 3, ("postgresql", "sqlite")),
    "mssql-cascade-paths": ("error", 3, ("mssql",)),
    "index-key-size": ("error", 2, ("mariadb",)),
    "unique-multiple-nulls": ("error", 1, ("mssql",)),
    "case-insensitive-compare": ("warning", 183, ("mariadb", "mysql", "postgresql", "sqlite")),
    "collation-order": ("warning", 183, ("mariadb", "mysql", "postgresql", "sqlite")),
    "compare-trailing-space": ("warning", 183, ("mariadb", "mysql", "postgresql", "sqlite")),
    "length-semantics": ("warning", 183, ("mariadb", "mysql", "postgresql", "sqlite")),
    "reserved-word": ("warning", 63, ("mariadb", "mssql", "mysql", "sqlite")),
    "boolean-unenforced": ("warning", 35, ("mariadb", "mysql", "oracle", "sqlite")),
    "check-enforcement": ("warning", 10, ("mariadb", "mysql")),
}
"""hazard -> (severity, findings, backends) on mlflow-skinny 3.17.2."""

CHECKED_BY_HAND = {
    "ddl-rejected": ("trace_tags", "MLflow declares Index('index_trace_tags_request_id') with no "
                     "columns (and trace_request_metadata the same): CREATE INDEX ... ON "
                     "trace_tags () is a syntax error on every backend"),
    "fk-target-not-unique": ("input_tags", "input_tags.input_uuid references inputs.input_uuid, "
                             "which is neither inputs' primary key (the four source/destination "
                             "columns) nor unique: PostgreSQL 42830 at CREATE, SQLite 'foreign "
                             "key mismatch' on every write to inputs; MariaDB accepts"),
    "index-key-size": ("sql_span_cost_daily_rollups", "idx_span_cost_rollups_lookup gives "
                       "prefix lengths as mysql_length only; SQLAlchemy's mariadb dialect reads "
                       "mariadb_length, so on mariadb:// the key is 5208 bytes and MariaDB "
                       "refuses it (1071), while the mysql dialect on the same server works"),
    "float-precision": ("budget_policies", "Float() without precision is a 4-byte FLOAT on "
                        "MySQL/MariaDB: budget_amount 1.23456789 reads back rounded"),
    "unrenderable-type": ("metrics", "Float(precision=53) raises ArgumentError on Oracle, which "
                          "wants binary_precision through .with_variant()"),
    "value-rejected": ("webhooks", "webhooks.secret is an EncryptedString over VARCHAR(1000): "
                       "a 1000-character secret is longer once encrypted; the servers refuse "
                       "it, SQLite stores it (length-unenforced)"),
    "unique-case-insensitive": ("assessments", "assessment_id is a String key; under MariaDB's "
                                "default utf8mb4_general_ci 'vAL1' duplicates 'Val1' (1062)"),
    "reserved-word": ("experiment_tags", "'key' is reserved on MySQL/MariaDB; SQLAlchemy quotes "
                      "it, so a warning, not an error"),
    "check-enforcement": ("runs", "MariaDB raises OperationalError 4025 for runs.status's "
                          "CHECK where the others raise IntegrityError: enforced, so a warning"),
}
"""Kinds checked by hand against MLflow's source and the servers, with why each is right. Not
checked by hand: fk-unenforced on sqlite (deleting an experiments row that logged_model_* rows
reference is accepted there; the rows are also reachable through ON DELETE CASCADE paths) and
the counts of the differential warnings (one per string column)."""


def _run(pytester: pytest.Pytester, name: str, *args: str,
         double: bool = False) -> tuple[pytest.RunResult, dict[str, Any]]:
    """One run in its own process: the model change alters MLflow's shared MetaData."""
    pytester.makepyfile(mlflow_models=MODELS)
    with pytest.MonkeyPatch.context() as patch:
        if double:
            patch.setenv("DBM_DOUBLE_BUDGET", "1")
        report = pytester.path / f"{name}.json"
        result = pytester.runpytest_subprocess(
            "--dbmatrix-conformance", "--dbmatrix-metadata=mlflow_models:Base",
            f"--dbmatrix={LIVE}", "--dbmatrix-strict", "-p", "no:cacheprovider",
            f"--dbmatrix-report={report}", *args)
    return result, json.loads(report.read_text())


def _digest(report: dict[str, Any]) -> dict[str, tuple[str, int, tuple[str, ...]]]:
    return {e["hazard"]: (e["severity"], e["count"], tuple(e["backends"]))
            for e in report["digest"]}


def test_mlflow_models_digest_and_acceptance(pytester: pytest.Pytester,
                                             live_urls: dict[str, str]) -> None:
    # 1. With budget_amount made a Double: every hazard but that one float-precision pair.
    fixed, first = _run(pytester, "fixed", double=True)
    assert fixed.ret == pytest.ExitCode.TESTS_FAILED
    assert _digest(first)["float-precision"] == ("error", 2, ("mariadb", "mysql"))
    assert all(f["hazard"] and f["severity"] for f in first["findings"])
    assert len(fixed.stdout.lines) < 400, "the default run prints a digest, not 20,000 lines"
    assert not any("= FAILURES =" in line for line in fixed.stdout.lines)

    # 2. Accept what it found: the same run passes, and no acceptance is stale.
    written = subprocess.run([sys.executable, "-m", "pytest_dbmatrix", "accept",
                              str(pytester.path / "fixed.json")],
                             capture_output=True, text=True, timeout=60, check=True)
    (pytester.path / "accepted.ini").write_text(written.stdout)
    green, accepted = _run(pytester, "green", "--dbmatrix-accept-file=accepted.ini", double=True)
    assert green.ret == pytest.ExitCode.OK, green.stdout.str()[-3000:]
    assert {f["status"] for f in accepted["findings"]} == {"accepted"}
    assert not [a for a in accepted["acceptances"] if a["stale"]]

    # 3. The models as MLflow ships them: exactly that finding is new, the rest accepted.
    shipped, report = _run(pytester, "shipped", "--dbmatrix-accept-file=accepted.ini")
    assert _digest(report) == DIGEST
    new = {(f["hazard"], f["table"], f["column"], f["backend"])
           for f in report["findings"] if f["status"] != "accepted"}
    assert new == {("float-precision", "budget_policies", "budget_amount", "mysql"),
                   ("float-precision", "budget_policies", "budget_amount", "mariadb")}
    assert shipped.ret == pytest.ExitCode.TESTS_FAILED
    failed = [line for line in shipped.stdout.lines if line.startswith("FAILED ")]
    assert len(failed) == 2 and all("roundtrip[budget_policies]" in line for line in failed)
    for hazard, (table, why) in CHECKED_BY_HAND.items():
        entry = next(e for e in report["digest"] if e["hazard"] == hazard)
        assert table in entry["tables"], (hazard, why)
