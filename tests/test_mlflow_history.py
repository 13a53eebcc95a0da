"""Acceptance: MLflow's tracking-store history, its own unmodified env.py, on four backends.

MLflow (mlflow-skinny, in the test extra) ships `mlflow/store/db_migrations`: about 70
revisions, 16 of which branch on the dialect, and an env.py that opens its own connection on
the handed connection's engine. It starts from `initial_models.Base` (its own initialisation
runs create_all before upgrading), given here as the baseline. The history is used where pip
installed it; nothing of it is copied.

Checks: single_head, env_contract, upgrade and hazards; data_preserved, and downgrade with
up_down_up, in tests of their own (about half a minute each on four backends). model_match,
atomicity and offline_sql are covered on small histories by tests/test_migrations.py and
tests/test_migration_envs.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import LIVE
from tests.test_migrations import findings, report, run_migrations

mlflow = pytest.importorskip("mlflow")
HISTORY = Path(mlflow.__file__).parent / "store" / "db_migrations"
BASELINE = "mlflow.store.tracking.dbmodels.initial_models:Base"
MARIADB_INDEX = "75868b020152"
"""Creates idx_span_cost_rollups_lookup with mysql_length={...}: SQLAlchemy's mariadb dialect
reads mariadb_length, not mysql_length (checked by compiling the CreateIndex with both
dialects: `(model_name(64), ...)` on mysql, no prefix lengths on mariadb), so on a
mariadb:// URL the index key is over MariaDB's 3072 bytes. MLflow's own bug on that dialect,
found by hand to be real; a mysql:// URL to the same server upgrades fine."""
NULLABLE_ALREADY = {("cfd24bdc0731", "mysql"), ("4465047574b1", "mysql"),
                    ("cfd24bdc0731", "mariadb")}
"""alter_column(type_=...) without existing_nullable: statically a lost NOT NULL on MySQL, but
runs.status and datasets.dataset_schema are NULL-able before those revisions (checked in
initial_models and the live snapshots): notes, not failures. 4465047574b1 runs only where
engine.name == "mysql", so not on the mariadb dialect."""


def run_mlflow(pytester: pytest.Pytester, checks: str) -> pytest.RunResult:
    """MLflow's history with its own env.py and its baseline, `checks` on the live backends."""
    (pytester.path / "alembic.ini").write_text(
        f"[alembic]\nscript_location = {HISTORY}\nsqlalchemy.url = sqlite:///never-used.db\n")
    pytester.makeini("[pytest]\ndbmatrix_alembic_ini = alembic.ini\n"
                     f"dbmatrix_alembic_baseline = {BASELINE}\n"
                     f"dbmatrix_alembic_checks = {checks}\n")
    return run_migrations(pytester, f"--dbmatrix={LIVE}")


def test_mlflow_history_with_its_own_env_py_and_baseline(
        pytester: pytest.Pytester, live_urls: dict[str, str]) -> None:
    result = run_mlflow(pytester, "single_head env_contract upgrade hazards")
    report = json.loads((pytester.path / "report.json").read_text())
    migrations = report["migrations"]
    rows = {t["test"]: t["results"] for t in report["tests"]}
    backends = LIVE.split(",")
    assert migrations["env_shapes"] == dict.fromkeys(backends, "engine")
    assert {b: rows["migrations::env_contract"][b]["outcome"] for b in backends} == dict.fromkeys(
        backends, "passed")
    upgrade = {b: rows["migrations::upgrade"][b]["outcome"] for b in backends}
    assert upgrade == {"sqlite": "passed", "postgresql": "passed", "mysql": "passed",
                       "mariadb": "failed"}, result.stdout.str()
    # Every static hazard of a dialect-guarded operation is gone: none is a finding, and the
    # only findings are the one real failure above.
    assert findings(pytester) == {("upgrade", "index-key-size", MARIADB_INDEX, "mariadb")}
    failed = next(f for f in migrations["findings"] if f["hazard"] == "index-key-size")
    assert "OperationalError[1071]: Specified key was too long; max key length is 3072 bytes" in (
        failed["message"])
    assert (failed["severity"], failed["status"]) == ("error", "failed")
    result.stdout.fnmatch_lines(["ERROR   index-key-size: 1 on mariadb (1 failed)",
                                 f"        in {MARIADB_INDEX}"])
    notes = {(n["revision"], n["backend"]) for n in migrations["notes"]}
    assert notes == NULLABLE_ALREADY
    assert all("NULL-able before the revision already" in n["message"]
               for n in migrations["notes"])
    assert not (pytester.path / "never-used.db").exists()


IS_NAN_DEFAULT = "39d1c3be5f05"
"""alter_column("is_nan", type_=Boolean(create_constraint=True), nullable=False) without
existing_server_default: MySQL's MODIFY re-states the column, so the server default '0' that
181f10493468 gave metrics.is_nan is gone (checked by hand on MariaDB 10.11: `ALTER TABLE t
MODIFY is_nan BOOL NOT NULL` on a column with DEFAULT 0 leaves no default). PostgreSQL's ALTER
COLUMN TYPE keeps it; SQLite's batch copy keeps it."""
BATCH_REFERENCED = "a8c4a736bde6"
"""batch_alter_table("model_versions") with rows in model_version_tags referencing it: with
foreign keys on, SQLite refuses to drop the old copy (the plugin's seeded rows only reveal it;
MLflow runs SQLite without PRAGMA foreign_keys)."""


def test_mlflow_rows_survive_its_history_except_where_checked_by_hand(
        pytester: pytest.Pytester, live_urls: dict[str, str]) -> None:
    """data_preserved on MLflow's history: seeded rows through every revision. Before, 9 more
    findings were false: a primary key extended by a column (1b5f0d9ad7c1 adds `workspace`)
    made every row look gone, a rename (5d2d30f0abce, alter_column new_column_name) looked like
    a dropped column, and a nullable=True asked for through `batch_alter_table(SqlModelVersion.
    __tablename__)` looked like a lost NOT NULL (a8c4a736bde6)."""
    run_mlflow(pytester, "data_preserved")
    assert findings(pytester) == {
        ("data_preserved", "sqlite-batch-referenced", BATCH_REFERENCED, "sqlite"),
        ("data_preserved", "constraint-dropped", IS_NAN_DEFAULT, "mysql"),
        ("data_preserved", "constraint-dropped", IS_NAN_DEFAULT, "mariadb")}
    found = report(pytester)["migrations"]["findings"]
    assert {f["message"] for f in found if f["hazard"] == "constraint-dropped"} == {
        "metrics.is_nan lost its server default 0"}


IRREVERSIBLE = "17e22815139b"
"""The highest of MLflow's revisions whose downgrade() is `pass` (30 of them): the history
cannot be downgraded below it. One warning per backend, not a mismatch per revision."""
DOWNGRADE_FAILURES = {
    # downgrade drops registered_models before model_versions, which references it
    ("up_down_up", "up-down-up-failed", "2b4d017a5e9b", "postgresql"),
    ("up_down_up", "up-down-up-failed", "2b4d017a5e9b", "mysql"),
    ("up_down_up", "up-down-up-failed", "2b4d017a5e9b", "mariadb"),
    # batch drop_column on spans, whose duration_ns is a generated column: the batch copy's
    # INSERT names it ('cannot INSERT into generated column "duration_ns"')
    ("up_down_up", "up-down-up-failed", "c8d9e0f1a2b3", "sqlite"),
    # drops index_job_locks_job_id, which MySQL needs for fk_job_locks_job_id (1553), before
    # the table; past the mariadb dialect's upgrade failure, so only on mysql
    ("downgrade", "downgrade-failed", "dc11669786a5", "mysql"),
}
"""Each read in MLflow's downgrade() by hand: real failures of its downgrades."""


def test_mlflow_downgrades_what_is_left_is_real(
        pytester: pytest.Pytester, live_urls: dict[str, str]) -> None:
    """downgrade and up_down_up on MLflow's history: before, 20 downgrade mismatches on
    PostgreSQL alone, cascades of its empty downgrades."""
    run_mlflow(pytester, "downgrade up_down_up")
    assert findings(pytester) == DOWNGRADE_FAILURES | {
        ("downgrade", "downgrade-empty", IRREVERSIBLE, b) for b in LIVE.split(",")}
