"""Run Alembic on one backend's migration database through config.attributes["connection"]."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext, MigrationStep
from alembic.script import Script
from sqlalchemy.engine import URL, Connection, Engine

from pytest_dbmatrix.event_loops import outside_a_running_loop
from pytest_dbmatrix.migrations import snapshot
from pytest_dbmatrix.migrations.baseline import Baseline
from pytest_dbmatrix.migrations.database import MigrationDatabase
from pytest_dbmatrix.migrations.history import History

WRITE = re.compile(r"^\s*(CREATE|ALTER|DROP|RENAME|TRUNCATE|COMMENT|INSERT|UPDATE|DELETE|"
                   r"EXEC|sp_rename)\b", re.I)
DDL = re.compile(r"^\s*(CREATE|ALTER|DROP|RENAME|TRUNCATE|COMMENT|EXEC|sp_rename)\b", re.I)
CONTRACT_HELP = (
    'let env.py connect to the database it is given: use config.attributes.get("connection") '
    'when it is set (or its engine), else the sqlalchemy.url of the Config, which the plugin '
    "points at the run's own migration database"
)
LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
Reflection = snapshot.Reflection  # the module is shadowed by Runner.snapshot in the class


class ContractBroken(Exception):
    """env.py configured Alembic with a connection to another database than the run's own."""


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

    def watch(self, conn: Connection) -> None:
        sa.event.listen(conn, "before_cursor_execute", self.on_execute)
        sa.event.listen(conn, "after_cursor_execute", self.after_execute)

    def unwatch(self, conn: Connection) -> None:
        sa.event.remove(conn, "before_cursor_execute", self.on_execute)
        sa.event.remove(conn, "after_cursor_execute", self.after_execute)


@dataclass
class EnvFacts:
    """What env.py configured: its options (target_metadata ...) and the current heads."""

    heads: tuple[str, ...] = ()
    opts: dict[str, Any] = field(default_factory=dict)
    shape: str | None = None
    """How env.py connected: "connection" (the one handed over), "engine" (its own on the
    handed one's engine) or "url" (an engine of its own from sqlalchemy.url)."""


def _identity(url: URL) -> tuple[str | None, int | None, str | None]:
    """Where a URL leads: host (loopback names as one), port, database (file paths resolved)."""
    host = "loopback" if url.host in LOOPBACK else url.host
    database = url.database
    if not url.host and database and database != ":memory:":
        database = str(Path(database).resolve())
    return host, url.port, database


def same_database(ours: URL, theirs: URL) -> bool:
    """Whether `theirs` names the database of `ours` (a port left out matches any)."""
    (host, port, database), (t_host, t_port, t_database) = _identity(ours), _identity(theirs)
    return (host, database) == (t_host, t_database) and (port == t_port or None in (port, t_port))


def connection_shape(handed: Connection, engine: Engine, given: Any) -> str | None:
    """How env.py reached the run's database (EnvFacts.shape); None for another database."""
    mine = _dbapi(handed)
    if given is handed or (mine is not None and _dbapi(given) is mine):
        return "connection"
    given_engine = getattr(given, "engine", None)
    if given_engine is engine:
        return "engine"
    if isinstance(given_engine, Engine) and same_database(engine.url, given_engine.url):
        return "url"
    return None


def _dbapi(conn: Any) -> Any:
    return getattr(getattr(conn, "connection", None), "dbapi_connection", None)


def _describe(conn: Any) -> str:
    if conn is None:
        return "no connection"
    engine = getattr(conn, "engine", None)
    return engine.url.render_as_string(hide_password=True) if engine is not None else repr(conn)


class ConnectionGuard:
    """Wraps an EnvironmentContext's configure(): a connection to another database is refused
    there, before Alembic reads or writes anything through it; the run's is watched."""

    def __init__(self, env: EnvironmentContext, handed: Connection, engine: Engine,
                 facts: EnvFacts, capture: Capture | None) -> None:
        self.env_configure = env.configure
        self.handed, self.engine, self.facts, self.capture = handed, engine, facts, capture
        self.watched: list[Connection] = []
        env.configure = self.configure  # type: ignore[method-assign]  # the module proxy
        # calls the instance's attribute

    def configure(self, connection: Connection | None = None, *args: Any, **kw: Any) -> None:
        shape = connection_shape(self.handed, self.engine, connection)
        if shape is None:
            ours = self.engine.url.render_as_string(hide_password=True)
            raise ContractBroken(
                f"env.py configured Alembic with {_describe(connection)}, not the run's "
                f"migration database {ours}: refused before anything ran on it; {CONTRACT_HELP}")
        self.facts.shape = shape
        if self.capture is not None and connection is not None:
            self.capture.watch(connection)
            self.watched.append(connection)
        self.env_configure(connection, *args, **kw)

    def unwatch(self) -> None:
        for connection in self.watched:
            assert self.capture is not None
            self.capture.unwatch(connection)
        self.watched.clear()


class Runner:
    """Steps revisions up and down one at a time on a `MigrationDatabase`."""

    def __init__(self, history: History, database: MigrationDatabase,
                 baseline: Baseline | None = None) -> None:
        self.history = history
        self.database = database
        self.baseline = baseline

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
                                                        Iterable[Any]],
                 capture: Capture | None = None, **kw: Any) -> EnvFacts:
        facts = EnvFacts()

        def fn(heads: Any, context: MigrationContext) -> Iterable[Any]:
            facts.heads = tuple(heads)
            facts.opts = dict(context.opts)
            return work(facts.heads, context)

        url = self._env_url().render_as_string(hide_password=False)
        with self._config(conn, url) as config:
            env = EnvironmentContext(config, self.script, fn=fn, as_sql=False, **kw)
            guard = ConnectionGuard(env, conn, self.database.engine, facts, capture)
            try:
                with env:
                    outside_a_running_loop(self.script.run_env)
            finally:
                guard.unwatch()
        if not facts.opts:
            raise ContractBroken("env.py never called context.run_migrations() on the "
                                 f"database it was given; {CONTRACT_HELP}")
        return facts

    def _env_url(self) -> URL:
        """The run's migration database for sqlalchemy.url: through an async driver (the
        backend's, or the family's default) when env.py makes an async engine."""
        url = self.database.url
        if not self.history.env_is_async:
            return url
        spec = self.database.live.spec
        return spec.family.async_url(url, spec.async_driver.value if spec.async_driver else None)

    def _connected(self, work: Callable[[Connection], EnvFacts]) -> EnvFacts:
        with self.database.engine.connect() as conn:
            try:
                facts = work(conn)
                if conn.in_transaction():
                    conn.commit()
            except BaseException:
                if conn.in_transaction():
                    conn.rollback()
                raise
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
        return self._connected(lambda c: self._run_env(c, lambda h, ctx: steps, capture))

    def apply_moves(self, moves: Sequence[tuple[Script, bool]],
                    between: Callable[[int, MigrationContext], None],
                    capture: Capture | None = None) -> tuple[int, Exception | None]:
        """Apply each (script, up) in order in one env.py run, committing after each, and
        call `between(i, context)` after the i-th (and with -1 before the first) on env.py's
        connection: the transactions of one env.py run per move, without a module load, a
        version-table probe and a commit per move. Returns how many moves were applied and
        the error of the one that failed; an error raised by `between` is raised as is."""
        revision_map = self.script.revision_map
        steps = [(MigrationStep.upgrade_from_script if up else
                  MigrationStep.downgrade_from_script)(revision_map, script)
                 for script, up in moves]
        done = 0
        ours: list[BaseException] = []

        def call(index: int, context: MigrationContext) -> None:
            try:
                between(index, context)
            except BaseException as exc:
                ours.append(exc)
                raise

        def work(heads: tuple[str, ...], context: MigrationContext) -> Iterator[Any]:
            nonlocal done
            call(-1, context)  # in Alembic's transaction, with its version table if new
            for index, step in enumerate(steps):
                yield step  # Alembic runs it before asking for the next
                _commit(context.connection)
                call(index, context)
                _commit(context.connection)
                done = index + 1

        try:
            self._connected(lambda c: self._run_env(c, work, capture))
        except Exception as exc:
            if ours and exc is ours[0]:
                raise
            return done, exc
        return done, None

    def reset(self) -> None:
        """An empty database, then the baseline schema the first revision starts from."""
        self.database.reset()
        if self.baseline is not None:
            with self.database.engine.connect() as conn:
                self.baseline(conn)
                conn.commit()

    def drop_version_table(self, opts: dict[str, Any]) -> None:
        """Drop the version table env.py configured (if there): a reset leaves none."""
        table = sa.Table(opts.get("version_table") or snapshot.VERSION_TABLE, sa.MetaData(),
                         schema=opts.get("version_table_schema"))
        with self.database.engine.connect() as conn:
            table.drop(conn, checkfirst=True)
            conn.commit()

    def snapshot(self) -> snapshot.Snapshot:
        with self.database.engine.connect() as conn:
            return snapshot.take(conn)

    def printed_reflection(self) -> tuple[Reflection, str | None]:
        """A reflection and the fingerprint of the same schema (None where the dialect has
        none)."""
        with self.database.engine.connect() as conn:
            return snapshot.reflect(conn), snapshot.fingerprint(conn)

    def fingerprint(self) -> str | None:
        with self.database.engine.connect() as conn:
            return snapshot.fingerprint(conn)

    def heads(self) -> tuple[str, ...]:
        return self.inspect_env().heads

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        with self.database.engine.connect() as conn:
            yield conn


def _commit(connection: Connection | None) -> None:
    """End the transaction a move (or the work between two) ran in, as its own run would."""
    if connection is not None and connection.in_transaction():
        connection.commit()
