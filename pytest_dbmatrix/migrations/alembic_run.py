"""Run Alembic on one backend's migration database through config.attributes["connection"]."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext, MigrationStep
from alembic.script import Script
from sqlalchemy.engine import Connection

from pytest_dbmatrix.migrations import snapshot
from pytest_dbmatrix.migrations.database import MigrationDatabase
from pytest_dbmatrix.migrations.history import History

WRITE = re.compile(r"^\s*(CREATE|ALTER|DROP|RENAME|TRUNCATE|COMMENT|INSERT|UPDATE|DELETE|"
                   r"EXEC|sp_rename)\b", re.I)
DDL = re.compile(r"^\s*(CREATE|ALTER|DROP|RENAME|TRUNCATE|COMMENT|EXEC|sp_rename)\b", re.I)
CONTRACT_HELP = (
    'make env.py use the connection it is given: connectable = config.attributes.get('
    '"connection"); if it is not None, call context.configure(connection=connectable, ...) '
    "instead of creating an engine"
)


class ContractBroken(Exception):
    """env.py configured Alembic with a connection other than the one passed to it."""


class InjectedFailure(Exception):
    """Raised on purpose inside a revision by the atomicity check."""


@dataclass
class Capture:
    """Statements a run sent, and an optional failure injected after the n-th write."""

    fail_after_writes: int | None = None
    statements: list[str] = field(default_factory=list)

    def writes(self, version_table: str = snapshot.VERSION_TABLE) -> list[str]:
        return [s for s in self.statements if WRITE.match(s) and version_table not in s]

    def on_execute(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.statements.append(statement.strip())

    def after_execute(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        limit = self.fail_after_writes
        if limit is not None and len(self.writes()) >= limit:
            self.fail_after_writes = None
            raise InjectedFailure(f"dbmatrix stopped the revision after {limit} statement(s)")


@dataclass
class EnvFacts:
    """What env.py configured: its options (target_metadata ...) and the current heads."""

    heads: tuple[str, ...]
    opts: dict[str, Any]
    used_connection: bool
    foreign: str | None = None


def _same_connection(ours: Connection, theirs: Any) -> bool:
    if theirs is ours:
        return True
    mine = getattr(getattr(ours, "connection", None), "dbapi_connection", None)
    other = getattr(getattr(theirs, "connection", None), "dbapi_connection", None)
    return mine is not None and mine is other


def _describe(conn: Any) -> str:
    engine = getattr(conn, "engine", None)
    return engine.url.render_as_string(hide_password=True) if engine is not None else repr(conn)


class Runner:
    """Steps revisions up and down one at a time on a `MigrationDatabase`."""

    def __init__(self, history: History, database: MigrationDatabase) -> None:
        self.history = history
        self.database = database

    @property
    def script(self) -> Any:
        return self.history.script

    @property
    def dialect(self) -> str:
        return self.database.engine.dialect.name

    @contextmanager
    def _config(self, conn: Connection | None, url: str) -> Iterator[Any]:
        """The project's Config pointed at `url` and `conn`; env.py's fileConfig is skipped."""
        config = self.history.config
        config.file_config  # noqa: B018 - read the ini before hiding its name
        saved = config.config_file_name
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
        if conn is not None:
            config.attributes["connection"] = conn
        config.config_file_name = None
        try:
            yield config
        finally:
            config.config_file_name = saved
            config.attributes.pop("connection", None)

    def _run_env(self, conn: Connection, work: Callable[[tuple[str, ...], MigrationContext],
                                                        Sequence[Any]],
                 **kw: Any) -> EnvFacts:
        facts = EnvFacts((), {}, False)

        def fn(heads: Any, context: MigrationContext) -> Sequence[Any]:
            facts.heads = tuple(heads)
            facts.opts = dict(context.opts)
            facts.used_connection = _same_connection(conn, context.connection)
            if not facts.used_connection:
                facts.foreign = _describe(context.connection)
                raise ContractBroken(
                    f"env.py ignored config.attributes['connection'] and configured Alembic "
                    f"with {facts.foreign}; {CONTRACT_HELP}")
            return work(facts.heads, context)

        url = self.database.url.render_as_string(hide_password=False)
        with self._config(conn, url) as config, EnvironmentContext(
                config, self.script, fn=fn, as_sql=False, **kw):
            self.script.run_env()
        if not facts.opts:
            raise ContractBroken("env.py never called context.run_migrations() on the "
                                 f"connection it was given; {CONTRACT_HELP}")
        return facts

    def _connected(self, work: Callable[[Connection], EnvFacts],
                   capture: Capture | None = None) -> EnvFacts:
        with self.database.engine.connect() as conn:
            if capture is not None:
                sa.event.listen(conn, "before_cursor_execute", capture.on_execute)
                sa.event.listen(conn, "after_cursor_execute", capture.after_execute)
            try:
                facts = work(conn)
                if conn.in_transaction():
                    conn.commit()
            except BaseException:
                if conn.in_transaction():
                    conn.rollback()
                raise
            finally:
                if capture is not None:
                    sa.event.remove(conn, "before_cursor_execute", capture.on_execute)
                    sa.event.remove(conn, "after_cursor_execute", capture.after_execute)
            return facts

    def inspect_env(self) -> EnvFacts:
        """Run env.py without migrating: the contract, its options and the current heads."""
        return self._connected(lambda c: self._run_env(c, lambda h, ctx: [], dont_mutate=True))

    def apply(self, scripts: Sequence[Script], up: bool = True,
              capture: Capture | None = None) -> EnvFacts:
        """Apply `scripts` in the given order (downgrade each when up=False), one env.py run."""
        revision_map = self.script.revision_map
        make = MigrationStep.upgrade_from_script if up else MigrationStep.downgrade_from_script
        steps = [make(revision_map, s) for s in scripts]
        return self._connected(lambda c: self._run_env(c, lambda h, ctx: steps), capture)

    def upgrade_to(self, index: int) -> None:
        """From an empty database, apply revisions [0, index) in one run."""
        self.database.reset()
        if index:
            self.apply(self.history.ordered[:index])

    def snapshot(self) -> snapshot.Snapshot:
        with self.database.engine.connect() as conn:
            return snapshot.take(conn)

    def heads(self) -> tuple[str, ...]:
        return self.inspect_env().heads

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        with self.database.engine.connect() as conn:
            yield conn
