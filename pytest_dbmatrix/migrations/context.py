"""One backend's migration work for the session: its database, runner and the upgrade timeline."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from alembic.runtime.migration import MigrationContext
from alembic.script import Script

from pytest_dbmatrix.errors import normalise
from pytest_dbmatrix.migrations import snapshot
from pytest_dbmatrix.migrations.alembic_run import Capture, ContractBroken, EnvFacts, Runner
from pytest_dbmatrix.migrations.baseline import Baseline
from pytest_dbmatrix.migrations.database import MigrationDatabase
from pytest_dbmatrix.migrations.history import History
from pytest_dbmatrix.provision import LiveBackend


@dataclass
class Step:
    """One revision applied on its own during the step-by-step upgrade."""

    script: Script
    heads_before: tuple[str, ...]
    before: snapshot.Snapshot
    after: snapshot.Snapshot | None = None
    statements: list[str] = field(default_factory=list)
    writes: list[str] = field(default_factory=list)
    error: BaseException | None = None
    before_print: str | None = None
    """snapshot.fingerprint of `before` (and of `after`): a schema with the same fingerprint
    has the same snapshot, so comparing with one needs no reflection."""
    after_print: str | None = None
    after_reflection: snapshot.Reflection | None = None
    """What `after` was made from: tables for the rows checks without a second reflection."""


@dataclass
class Timeline:
    """The upgrade from base to head, one revision at a time, with a snapshot around each."""

    steps: list[Step]
    final_heads: tuple[str, ...] = ()

    @property
    def failure(self) -> Step | None:
        return self.steps[-1] if self.steps and self.steps[-1].error else None

    @property
    def reachable(self) -> int:
        """How many revisions (in order) upgrade cleanly."""
        return len(self.steps) - (1 if self.failure else 0)


def _close(step: Step, capture: Capture, start: int) -> None:
    """The statements the step sent: those captured since `start`."""
    step.statements = capture.statements[start:]
    step.writes = Capture(statements=step.statements).writes()


class BackendMigrations:
    """Per backend and worker: built lazily, shared by every check of that backend."""

    def __init__(self, live: LiveBackend, history: History, database: MigrationDatabase,
                 baseline: Baseline | None = None, checks: Collection[str] = ()):
        self.live = live
        self.checks = frozenset(checks)
        """The checks that will run on this backend: a walk does what they need (empty: all)."""
        self.walks: dict[str, Any] = {}
        """Results of a walk that serves several checks (the downgrade's), by walk."""
        self.history = history
        self.database = database
        self.runner = Runner(history, database, baseline)
        self.position: int | None = None
        """Revisions [0, position) applied and nothing else changed; None when unknown."""
        self._contract: EnvFacts | ContractBroken | None = None
        self._empty_print: str | None = None
        """The fingerprint of the database just reset, for `_rewind` (None: not known)."""

    @property
    def name(self) -> str:
        return self.live.name

    def runs(self, check: str) -> bool:
        return not self.checks or check in self.checks

    @property
    def dialect(self) -> str:
        return self.live.dialect

    def contract(self) -> EnvFacts | ContractBroken:
        """Whether env.py uses the connection it is given (run once, read-only)."""
        if self._contract is None:
            self._reset()
            self.position = 0
            try:
                self._contract = self.runner.inspect_env()
            except ContractBroken as exc:
                self._contract = exc
        return self._contract

    @cached_property
    def timeline(self) -> Timeline:
        if self.position != 0:  # contract() leaves the database just reset: reuse it
            self._reset()
            self.position = 0
        scripts = self.history.ordered
        reflection, before_print = self.runner.printed_reflection()
        before = snapshot.of(reflection, self.database.engine.dialect)
        if not scripts:
            return Timeline([], self.runner.heads())
        steps = [Step(scripts[0], (), before, before_print=before_print)]
        capture = Capture()
        start = [0]  # where the running step's statements begin in capture
        last = [reflection]  # the reflection of the schema before the running step

        def record(index: int, context: MigrationContext) -> None:
            """After revision `index`: its statements, the schema, the next step."""
            step = steps[-1]
            if index < 0:
                step.heads_before = tuple(context.get_current_heads())
            else:
                _close(step, capture, start[0])
                conn = context.connection
                assert conn is not None
                try:
                    step.after_print = snapshot.fingerprint(conn)
                    step.after_reflection = snapshot.reflect_since(
                        conn, last[0], step.before_print, step.after_print)
                    step.after = snapshot.of(step.after_reflection, conn.dialect)
                    last[0] = step.after_reflection
                except Exception as exc:
                    step.error = exc
                    raise
                self.position = index + 1
                if index + 1 < len(scripts):
                    steps.append(Step(scripts[index + 1], tuple(context.get_current_heads()),
                                      step.after, before_print=step.after_print))
            start[0] = len(capture.statements)

        self.position = None
        try:
            _done, error = self.runner.apply_moves([(s, True) for s in scripts], record, capture)
        except Exception as exc:  # the snapshot after a revision failed: that revision's
            error = exc
        if error is None:
            return Timeline(steps, self.runner.heads())
        if steps[-1].error is None:
            steps[-1].error = error
            _close(steps[-1], capture, start[0])
        self.position = None
        return Timeline(steps)

    def go_to(self, index: int) -> None:
        """Have revisions [0, index) applied: reuse the database when it is there already,
        else start from base (rewound or reset) and upgrade in one run."""
        if self.position == index:
            return
        start, self.position = self.position, None
        if start is None or not self._rewind(start):
            self._reset()
        if index:
            self.runner.apply(self.history.ordered[:index])
        self.position = index

    def _reset(self) -> None:
        """An empty database (and the baseline); its fingerprint is kept for `_rewind`."""
        self.runner.reset()
        self._empty_print = (self.runner.fingerprint() if self.live.family.server_backed
                             and self.runner.baseline is None else None)

    def _rewind(self, start: int) -> bool:
        """Back to base from revisions [0, start) by downgrading, instead of a reset: a DROP
        DATABASE on PostgreSQL waits for a checkpoint (0.1-1.2 s here). Only without a
        baseline, so that no table (nor row) can remain at base, and only when the schema
        fingerprint then equals the empty database's; False (reset instead) otherwise."""
        empty, facts = self._empty_print, self._contract
        if empty is None or not isinstance(facts, EnvFacts):
            return False
        try:
            if start:
                self.runner.apply(self.history.ordered[start - 1::-1], up=False)
            self.runner.drop_version_table(facts.opts)
        except Exception:
            return False  # the state is unknown: reset
        return self.runner.fingerprint() == empty

    def error_line(self, exc: BaseException) -> str:
        return normalise(exc, ()).line

    def close(self) -> None:
        self.database.close()
