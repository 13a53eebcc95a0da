"""The env.py shapes the migration checks accept, and the one they refuse (another database)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import alembic
import pytest
import sqlalchemy as sa

from tests.conftest import LIVE, LIVE_URLS
from tests.test_migrations import (
    INI,
    findings,
    run_migrations,
    write_history,
)

STOCK_ENV = Path(alembic.__file__).parent / "templates" / "generic" / "env.py"
"""The env.py that `alembic init` writes: connects with sqlalchemy.url, ignores attributes."""
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


@pytest.mark.parametrize("shape", ["connection", "engine", "url"])
def test_every_common_env_py_shape_migrates_the_runs_own_database(
        pytester: pytest.Pytester, live_urls: dict[str, str], shape: str) -> None:
    write_history(pytester.path, {"e01": CREATE, "e02": TWO_COLUMNS})
    env = pytester.path / "migrations" / "env.py"
    if shape == "engine":
        env.write_text(ENGINE_ENV)
    elif shape == "url":
        shutil.copy(STOCK_ENV, env)
    pytester.makeini(INI + CHECKS)
    result = run_migrations(pytester, f"--dbmatrix={LIVE}")
    # e02 runs two DDL statements: atomicity fails on MySQL and MariaDB, so the failure it
    # injects reached env.py's own connection; every other check passes on every backend.
    # The stock template's own SQLite engine is pysqlite's default, which commits DDL at
    # once (no BEGIN before it): the revision is not atomic there either, as in production.
    non_atomic = ["mysql", "mariadb"] + (["sqlite"] if shape == "url" else [])
    assert findings(pytester) == {("atomicity", "non-atomic-revision", "e02", backend)
                                  for backend in non_atomic}, result.stdout.str()
    assert "skipped" not in result.parseoutcomes()
    assert shapes(pytester) == dict.fromkeys(LIVE.split(","), shape)
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
    result.stdout.fnmatch_lines([
        f"*env-contract: env.py configured Alembic with {masked}, not the run's migration "
        "database *_mig: refused before anything ran on it; let env.py connect to the database "
        "it is given*"])
    engine = sa.create_engine(user_url)
    try:
        with engine.connect() as conn:
            tables = set(sa.inspect(conn).get_table_names())
    finally:
        engine.dispose()
    assert "dbmatrix_refused_version" not in tables and "item" not in tables
