"""The env.py shapes the migration checks accept, and the one they refuse (another database)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import alembic
import pytest
import sqlalchemy as sa

from tests.conftest import LIVE, LIVE_URLS
from tests.test_migrations import (
    INI,
    findings,
    report,
    run_migrations,
    write_history,
)

STOCK_ENV = Path(alembic.__file__).parent / "templates" / "generic" / "env.py"
"""The env.py that `alembic init` writes: connects with sqlalchemy.url, ignores attributes."""
ASYNC_ENV = Path(alembic.__file__).parent / "templates" / "async" / "env.py"
"""`alembic init -t async`: async_engine_from_config(sqlalchemy.url), asyncio.run, run_sync."""
ENGINE_ENV = '''
from alembic import context
from sqlalchemy import engine_from_config, pool

from models import metadata

config = context.config
connection = config.attributes.get("connection")
engine = connection.engine if connection is not None else engine_from_config(
    config.get_section(config.config_ini_section), prefix="sqlalchemy.", poolclass=pool.NullPool)
with engine.connect() as connection:  # its own connection on the handed one's engine
    context.configure(connection=connection, target_metadata=metadata)
    with context.begin_transaction():
        context.run_migrations()
'''
FOREIGN_ENV = '''
import os

import sqlalchemy as sa
from alembic import context

engine = sa.create_engine(os.environ["OTHER_DATABASE_URL"])
with engine.connect() as connection:
    context.configure(connection=connection, version_table="dbmatrix_refused_version")
    with context.begin_transaction():
        context.run_migrations()
'''
CREATE = ('op.create_table("item", sa.Column("id", sa.Integer, primary_key=True), '
          'sa.Column("name", sa.String(50), nullable=False))', 'op.drop_table("item")')
TWO_COLUMNS = ('op.add_column("item", sa.Column("a", sa.Integer))\n    '
               'op.add_column("item", sa.Column("b", sa.Integer))',
               'op.drop_column("item", "b")\n    op.drop_column("item", "a")')
CHECKS = "dbmatrix_alembic_checks = env_contract upgrade downgrade data_preserved atomicity\n"


def shapes(pytester: pytest.Pytester) -> dict[str, str]:
    data = json.loads((pytester.path / "report.json").read_text())
    return dict(data["migrations"]["env_shapes"])


@pytest.mark.parametrize("shape", ["connection", "engine", "url", "async"])
def test_every_common_env_py_shape_migrates_the_runs_own_database(
        pytester: pytest.Pytester, live_urls: dict[str, str], shape: str) -> None:
    write_history(pytester.path, {"e01": CREATE, "e02": TWO_COLUMNS})
    env = pytester.path / "migrations" / "env.py"
    if shape == "engine":
        env.write_text(ENGINE_ENV)
    elif shape == "url":
        shutil.copy(STOCK_ENV, env)
    elif shape == "async":
        shutil.copy(ASYNC_ENV, env)
    pytester.makeini(INI + CHECKS)
    result = run_migrations(pytester, f"--dbmatrix={LIVE}")
    # e02 runs two DDL statements: atomicity fails on MySQL and MariaDB, so the failure it
    # injects reached env.py's own connection; every other check passes on every backend.
    # The stock template's own SQLite engine is pysqlite's default, which commits DDL at
    # once (no BEGIN before it): the revision is not atomic there either, as in production.
    own_engine = shape in ("url", "async")  # aiosqlite commits DDL at once like pysqlite
    non_atomic = ["mysql", "mariadb"] + (["sqlite"] if own_engine else [])
    assert findings(pytester) == {("atomicity", "non-atomic-revision", "e02", backend)
                                  for backend in non_atomic}, result.stdout.str()
    assert "skipped" not in result.parseoutcomes()
    assert shapes(pytester) == dict.fromkeys(LIVE.split(","), "url" if own_engine else shape)
    assert not (pytester.path / "never-used.db").exists()  # the ini's sqlalchemy.url


def test_an_env_py_connecting_elsewhere_is_refused_before_it_touches_anything(
        pytester: pytest.Pytester, live_urls: dict[str, str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    write_history(pytester.path, {"e01": CREATE})
    (pytester.path / "migrations" / "env.py").write_text(FOREIGN_ENV)
    user_url = LIVE_URLS["postgresql"]  # the user's database, not the run's
    monkeypatch.setenv("OTHER_DATABASE_URL", user_url)
    pytester.makeini(INI + "dbmatrix_alembic_checks = all -offline_sql\n")
    result = run_migrations(pytester, "--dbmatrix=sqlite,postgresql")
    result.assert_outcomes(passed=4, failed=2, skipped=12)  # single_head, static hazards
    masked = sa.make_url(user_url).render_as_string(hide_password=True)
    refused = next(f for f in report(pytester)["findings"] if f["hazard"] == "env-contract")
    assert refused["message"].startswith(
        f"env.py configured Alembic with {masked}, not the run's migration database ")
    assert re.search(r"not the run's migration database \S+/dbmatrix_\w+: refused before "
                     r"anything ran on it; let env.py connect to the database it is given",
                     refused["message"]), refused["message"]
    result.stdout.fnmatch_lines(["ERROR   env-contract: 2 on postgresql, sqlite (2 failed)"])
    engine = sa.create_engine(user_url)
    try:
        with engine.connect() as conn:
            tables = set(sa.inspect(conn).get_table_names())
    finally:
        engine.dispose()
    assert "dbmatrix_refused_version" not in tables and "item" not in tables


BASELINE_MODELS = '''
import sqlalchemy as sa

metadata = sa.MetaData()
sa.Table("legacy", metadata, sa.Column("id", sa.Integer, primary_key=True),
         sa.Column("name", sa.String(50), nullable=False))


def create(connection):
    """The callable form: the same schema."""
    metadata.create_all(connection)
'''
HEAD_MODELS = BASELINE_MODELS.replace(
    'nullable=False))', 'nullable=False),\n         sa.Column("note", sa.String(100)))')
ON_LEGACY = ('op.add_column("legacy", sa.Column("note", sa.String(100)))',
             'op.drop_column("legacy", "note")')
FIXTURE_TEST = '''
def test_the_fixture_starts_from_the_baseline(dbmatrix_alembic):
    assert dbmatrix_alembic.table_names() == ["legacy"]
    dbmatrix_alembic.insert_into("legacy", {"id": 1, "name": "old"})
    dbmatrix_alembic.migrate_up_to("heads")
    assert dbmatrix_alembic.rows("legacy") == [{"id": 1, "name": "old", "note": None}]
'''


def baseline_project(pytester: pytest.Pytester) -> None:
    """A history whose first revision alters a table it never created: the baseline's."""
    write_history(pytester.path, {"b01": ON_LEGACY})
    (pytester.path / "baseline_models.py").write_text(BASELINE_MODELS)
    (pytester.path / "models.py").write_text(HEAD_MODELS)
    pytester.makepyfile(test_fixture=FIXTURE_TEST)


def test_baseline_schema_is_created_before_every_run_from_base(
        pytester: pytest.Pytester, live_urls: dict[str, str]) -> None:
    baseline_project(pytester)
    pytester.makeini(INI + "dbmatrix_alembic_baseline = baseline_models:metadata\n")
    result = run_migrations(pytester, f"--dbmatrix={LIVE}")
    # 10 checks on 4 backends, 2 offline dialects, the fixture's test on 4 backends
    result.assert_outcomes(passed=10 * 4 + 2 + 4)
    assert findings(pytester) == set()


def test_baseline_callable_and_without_a_baseline(pytester: pytest.Pytester) -> None:
    baseline_project(pytester)
    checks = "dbmatrix_alembic_checks = upgrade downgrade up_down_up data_preserved\n"
    pytester.makeini(INI + checks)
    result = run_migrations(pytester, "--dbmatrix=sqlite", "-k", "not fixture")
    failed = [f for f in report(pytester)["findings"] if f["hazard"] == "upgrade-failed"]
    assert failed[0]["revision"] == "b01" and "no such table: legacy" in failed[0]["message"]
    result = run_migrations(pytester, "--dbmatrix=sqlite",
                            "--dbmatrix-alembic-baseline=baseline_models:create")
    result.assert_outcomes(passed=5)


def test_a_baseline_that_cannot_be_loaded_names_the_option(pytester: pytest.Pytester) -> None:
    baseline_project(pytester)
    pytester.makeini(INI + "dbmatrix_alembic_checks = upgrade\n")
    result = run_migrations(pytester, "--dbmatrix=sqlite",
                            "--dbmatrix-alembic-baseline=baseline_models:Missing")
    result.assert_outcomes(failed=1, errors=1)  # the check, the fixture's test
    result.stdout.fnmatch_lines([
        "*dbmatrix: option --dbmatrix-alembic-baseline names 'baseline_models:Missing', which "
        "cannot be loaded (AttributeError: *Missing*); give module:attribute of a MetaData*"])


ASYNC_FIXTURE_TEST = '''
import asyncio

import pytest


@pytest.mark.asyncio
async def test_migrates_inside_a_running_loop(dbmatrix_alembic):
    asyncio.get_running_loop()  # the async env.py's asyncio.run() cannot start here
    dbmatrix_alembic.migrate_up_to("heads")
    assert "item" in dbmatrix_alembic.table_names()
'''


def test_async_env_py_runs_from_an_async_test(pytester: pytest.Pytester,
                                              live_urls: dict[str, str]) -> None:
    """Alembic's async template under a running event loop: env.py runs in a thread of its own."""
    write_history(pytester.path, {"e01": CREATE})
    shutil.copy(ASYNC_ENV, pytester.path / "migrations" / "env.py")
    pytester.makepyfile(test_async_fixture=ASYNC_FIXTURE_TEST)
    pytester.makeini(INI + "dbmatrix_alembic_checks = upgrade\n")
    result = run_migrations(pytester, f"--dbmatrix={LIVE}")
    result.assert_outcomes(passed=2 * 4)  # the check and the async test on four backends
