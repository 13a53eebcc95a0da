"""Fixtures for migration tests of your own: seed rows before a revision, assert them after.

Alembic is imported when a fixture that needs it runs, not with the plugin: runs without
migration tests do not pay for it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pytest_dbmatrix.provision import LiveBackend
from pytest_dbmatrix.run_state import get_state

if TYPE_CHECKING:
    from alembic.config import Config

    from pytest_dbmatrix.migrations.alembic_run import Runner
    from pytest_dbmatrix.migrations.database import MigrationDatabase

RevisionData = dict[str, dict[str, list[dict[str, Any]]]]
"""revision -> table -> rows."""


def config_base(config: pytest.Config, source: str) -> Path:
    """Where a relative alembic.ini is found: the ini file's directory, else the invocation dir."""
    if source.startswith("ini"):
        return config.rootpath
    return config.invocation_params.dir


def alembic_config_from_settings(config: pytest.Config) -> Config:
    from pytest_dbmatrix.migrations.history import HistoryError, load_config

    setting = get_state(config).settings.alembic_ini
    if setting.value is None:
        raise HistoryError("dbmatrix: no Alembic project: set dbmatrix_alembic_ini (or "
                           "--dbmatrix-alembic-ini), or override the dbmatrix_alembic_config "
                           "fixture")
    return load_config(setting.value, config_base(config, setting.source), setting.source)


class AlembicHelper:
    """Migrate one backend's empty database step by step and put rows in between."""

    def __init__(self, runner: Runner, before: RevisionData, at: RevisionData) -> None:
        self.runner = runner
        self.history = runner.history
        self.before_revision_data = before
        self.at_revision_data = at
        self.position = 0

    @property
    def heads(self) -> list[str]:
        return self.history.heads

    def current(self) -> tuple[str, ...]:
        return self.runner.heads()

    def _index(self, revision: str) -> int:
        if revision in ("head", "heads"):
            return len(self.history.ordered)
        script = self.history.script.get_revision(revision)
        if script is None:
            raise ValueError(f"unknown revision {revision!r}")
        return self.history.index(script.revision) + 1

    def migrate_up_to(self, revision: str = "heads") -> None:
        """Apply revisions one at a time up to `revision`, inserting the revision data."""
        self._up_until(self._index(revision))

    def _up_until(self, position: int) -> None:
        for script in self.history.ordered[self.position:position]:
            self._insert(self.before_revision_data.get(script.revision, {}))
            self.runner.apply([script])
            self.position += 1
            self._insert(self.at_revision_data.get(script.revision, {}))

    def migrate_up_before(self, revision: str) -> None:
        """Apply every revision before `revision` (and their revision data)."""
        self._up_until(self._index(revision) - 1)

    def migrate_up_one(self) -> None:
        self._up_until(self.position + 1)

    def migrate_down_one(self) -> None:
        self.position -= 1
        self.runner.apply([self.history.ordered[self.position]], up=False)

    def migrate_down_to(self, revision: str) -> None:
        target = 0 if revision == "base" else self._index(revision)
        while self.position > target:
            self.migrate_down_one()

    def connection(self) -> AbstractContextManager[Connection]:
        return self.runner.connection()

    def _insert(self, tables: dict[str, list[dict[str, Any]]]) -> None:
        for table, rows in tables.items():
            self.insert_into(table, rows)

    def insert_into(self, table: str, rows: list[dict[str, Any]] | dict[str, Any]) -> None:
        """Insert rows into a table as it is now (reflected), and commit."""
        with self.connection() as conn:
            target = sa.Table(table, sa.MetaData(), autoload_with=conn)
            conn.execute(target.insert(), rows if isinstance(rows, list) else [rows])
            conn.commit()

    def rows(self, table: str) -> list[dict[str, Any]]:
        """Every row of a table as dicts, ordered by primary key."""
        with self.connection() as conn:
            target = sa.Table(table, sa.MetaData(), autoload_with=conn)
            query = sa.select(target).order_by(*target.primary_key.columns)
            return [dict(r) for r in conn.execute(query).mappings()]

    def table_names(self) -> list[str]:
        from pytest_dbmatrix.migrations.data import reflect

        with self.connection() as conn:
            return sorted(t.name for t in reflect(conn).sorted_tables)


@pytest.fixture(scope="session")
def dbmatrix_alembic_config(request: pytest.FixtureRequest) -> Config:
    """The Alembic Config migrations run with: dbmatrix_alembic_ini; override to choose."""
    from pytest_dbmatrix.migrations.history import HistoryError

    try:
        return alembic_config_from_settings(request.config)
    except HistoryError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def dbmatrix_before_revision_data() -> RevisionData:
    """Rows inserted right before a revision is applied: {revision: {table: [rows]}}."""
    return {}


@pytest.fixture(scope="session")
def dbmatrix_at_revision_data() -> RevisionData:
    """Rows inserted right after a revision is applied: {revision: {table: [rows]}}."""
    return {}


@pytest.fixture(scope="session")
def dbmatrix_alembic_database(dbmatrix_backend: LiveBackend, request: pytest.FixtureRequest,
                              tmp_path_factory: pytest.TempPathFactory
                              ) -> Iterator[MigrationDatabase]:
    """A database of the run per backend for `dbmatrix_alembic`, dropped at the end."""
    from pytest_dbmatrix.migrations.database import MigrationDatabase

    database = MigrationDatabase(dbmatrix_backend, tmp_path_factory.getbasetemp(),
                                 get_state(request.config).settings, suffix="_fix")
    yield database
    database.close()


@pytest.fixture
def dbmatrix_alembic(request: pytest.FixtureRequest,
                     dbmatrix_alembic_database: MigrationDatabase,
                     dbmatrix_alembic_config: Config,
                     dbmatrix_before_revision_data: RevisionData,
                     dbmatrix_at_revision_data: RevisionData) -> AlembicHelper:
    """An empty database on this backend (with dbmatrix_alembic_baseline's schema) and the
    methods to migrate it and seed rows."""
    from pytest_dbmatrix.migrations import baseline
    from pytest_dbmatrix.migrations.alembic_run import Runner
    from pytest_dbmatrix.migrations.history import History, HistoryError

    history = History(dbmatrix_alembic_config)
    try:
        history.script  # noqa: B018 - applies prepend_sys_path, which the baseline may need
        runner = Runner(history, dbmatrix_alembic_database,
                        baseline.from_settings(get_state(request.config).settings))
    except HistoryError as exc:
        problem: str | None = str(exc)  # failed outside the handler: no chained traceback
    else:
        problem = None
    if problem:
        pytest.fail(problem, pytrace=False)
    runner.reset()
    return AlembicHelper(runner, dbmatrix_before_revision_data, dbmatrix_at_revision_data)
