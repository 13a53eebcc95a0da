"""The built-in migration checks: each runs for one backend and reports findings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import produce_migrations, render_python_code
from alembic.runtime.migration import MigrationContext
from alembic.script import Script
from sqlalchemy.engine import Connection

from pytest_dbmatrix.backends import for_dialect
from pytest_dbmatrix.catalogue import ENTRIES, find_hazard
from pytest_dbmatrix.findings import Finding, FindingsFailure
from pytest_dbmatrix.migrations import data, offline, orphans, snapshot
from pytest_dbmatrix.migrations.alembic_run import DDL, Capture, ContractBroken, InjectedFailure
from pytest_dbmatrix.migrations.context import BackendMigrations, Step
from pytest_dbmatrix.migrations.history import History
from pytest_dbmatrix.migrations.revision_scan import (
    ANY_TABLE,
    StaticHazard,
    op_calls,
    scan,
)
from pytest_dbmatrix.triage import Triage, failing

ALLOW_LOSS_ATTRIBUTE = "dbmatrix_allow_data_loss"
"""A revision module may list "table.column" (or "table") whose data it drops on purpose."""
COMPARE_OPTIONS = ("include_object", "include_name", "include_schemas", "version_table",
                   "version_table_schema", "render_as_batch", "compare_type",
                   "compare_server_default")


AFTER_A_DOWNGRADE = frozenset({"up_down_up"})
"""Checks that upgrade again after a downgrade: only there is a leftover a downgrade's leak."""
NOT_AFTER_A_DOWNGRADE = {"pg-enum-type-leak": "pg-type-exists"}
"""What the same error is when no downgrade ran before it."""


@dataclass
class CheckRun:
    """One check on one backend (or one dialect offline): collects findings and context."""

    check: str
    backend: str
    dialect: str
    history: History
    bm: BackendMigrations | None = None
    artifacts: Path | None = None
    findings: list[Finding] = field(default_factory=list)
    sections: list[tuple[str, str]] = field(default_factory=list)
    partial: str | None = None
    notes: list[Finding] = field(default_factory=list)
    """Static findings the live run disproved on this backend: reported, never failing."""
    env_shape: str | None = None
    """How env.py connected (EnvFacts.shape), once env_contract has seen it."""
    triage: Triage = field(default_factory=Triage)
    judged: list[Finding] = field(default_factory=list)
    """The findings and notes with their status, once the check has finished."""

    @property
    def migrations(self) -> BackendMigrations:
        assert self.bm is not None
        return self.bm

    def add(self, kind: str, message: str, revision: str | None = None,
            **details: Any) -> None:
        table, column = details.pop("table", None), details.pop("column", None)
        self.findings.append(Finding(kind, self.check, self.backend, message, self.dialect,
                                     table, column, revision, details=details))

    def error(self, exc: BaseException, default_kind: str, revision: str | None,
              what: str) -> None:
        line = self.migrations.error_line(exc) if self.bm else f"{type(exc).__name__}: {exc}"
        hazard = find_hazard(line, self.dialect)
        # a step that failed is a failure: a warning hazard of the same message (MySQL's 1451
        # is integrity-error-codes, "codes differ") would report it as passing
        kind = hazard.id if hazard and hazard.severity == "error" else default_kind
        if kind in NOT_AFTER_A_DOWNGRADE and self.check not in AFTER_A_DOWNGRADE:
            kind = NOT_AFTER_A_DOWNGRADE[kind]
        self.add(kind, f"{what} failed: {line}", revision, error=line)

    def section_for(self, script: Script, statements: list[str] | None = None) -> None:
        label = self.history.label(script)
        self.sections.append(("revision", f"{label}\nfile: {script.path}"))
        if statements:
            self.sections.append(("SQL", ";\n".join(statements[-10:]) + ";"))

    def finish(self) -> None:
        backend = (f"{self.backend} ({self.bm.live.info.label}, dialect {self.dialect})"
                   if self.bm else f"{self.backend} (offline, dialect {self.dialect})")
        self.judged = self.triage.judge(self.findings) + self.notes
        failed = failing(self.judged)
        if failed:
            raise FindingsFailure(failed, [*self.sections, ("backend", backend)])
        if self.partial:
            pytest.skip(self.partial)


def _require_contract(run: CheckRun) -> None:
    result = run.migrations.contract()
    if isinstance(result, ContractBroken):
        pytest.skip(f"env.py does not use the connection pytest-dbmatrix passes: see "
                    f"migrations::env_contract[{run.backend}]")


def _reachable(run: CheckRun) -> int:
    """Revisions that upgrade cleanly; marks the run partial when the upgrade fails later."""
    _require_contract(run)
    timeline = run.migrations.timeline
    failure = timeline.failure
    if failure is not None:
        run.partial = (f"checked the revisions before {failure.script.revision} only: the "
                       f"upgrade fails there (see migrations::upgrade[{run.backend}])")
    return timeline.reachable


# -- checks -------------------------------------------------------------------------------


def single_head(run: CheckRun) -> None:
    heads = run.history.heads
    if len(heads) != 1:
        run.add("multiple-heads", f"{len(heads)} heads: {', '.join(sorted(heads))}",
                heads=sorted(heads))


def env_contract(run: CheckRun) -> None:
    result = run.migrations.contract()
    if isinstance(result, ContractBroken):
        run.add("env-contract", str(result))
    else:
        run.env_shape = result.shape


def upgrade(run: CheckRun) -> None:
    _require_contract(run)
    timeline = run.migrations.timeline
    failure = timeline.failure
    if failure is not None and failure.error is not None:
        run.error(failure.error, "upgrade-failed", failure.script.revision,
                  f"upgrade to {failure.script.revision}")
        run.section_for(failure.script, failure.statements)


def _diff_line(diff: Any) -> tuple[str, str]:
    """(table, readable text) of one autogenerate difference."""
    op = diff[0]
    if op in ("add_table", "remove_table"):
        return diff[1].name, f"{op} {diff[1].name}"
    if op in ("add_column", "remove_column"):
        return diff[2], f"{op} {diff[2]}.{diff[3].name} {diff[3].type}"
    if op.startswith("modify_"):
        return diff[2], f"{op} {diff[2]}.{diff[3]}: database {diff[5]} -> models {diff[6]}"
    obj = diff[1]
    table = getattr(getattr(obj, "table", None), "name", "")
    columns = ", ".join(c.name for c in getattr(obj, "columns", []))
    return table, f"{op} {getattr(obj, 'name', None) or ''} on {table}({columns})"


def _noise(dialect: str, diff: Any) -> bool:
    family = for_dialect(dialect)
    for op, reflected, model in family.model_match_noise if family else ():
        if diff[0] == op and str(diff[5]).startswith(reflected) \
                and type(diff[6]).__name__.upper() == model:
            return True
    return False


def _flat(diffs: list[Any]) -> list[Any]:
    return [d for group in diffs for d in (group if isinstance(group, list) else [group])]


def model_match(run: CheckRun) -> None:
    reachable = _reachable(run)
    if run.partial:
        pytest.skip(run.partial)
    bm = run.migrations
    facts = bm.contract()
    assert not isinstance(facts, ContractBroken)
    metadata = facts.opts.get("target_metadata")
    if metadata is None:
        run.add("model-drift", "env.py passes no target_metadata to context.configure(): "
                "nothing to compare the migrated schema with")
        return
    bm.go_to(reachable)
    opts = {k: facts.opts[k] for k in COMPARE_OPTIONS if k in facts.opts}
    for key in ("compare_type", "compare_server_default"):
        opts[key] = opts[key] if callable(opts.get(key)) else True
    with bm.runner.connection() as conn:
        context = MigrationContext.configure(connection=conn, opts=opts | {
            "target_metadata": metadata})
        script = produce_migrations(context, metadata)
        assert script.upgrade_ops is not None
        diffs = [d for d in _flat(script.upgrade_ops.as_diffs()) if not _noise(run.dialect, d)]
        rendered = render_python_code(script.upgrade_ops) if diffs else ""
    for diff in diffs:
        _table, text = _diff_line(diff)
        run.add("model-drift", text, None, op=diff[0])
    if rendered:
        run.sections.append(("autogenerate would write", rendered))


def _compare(run: CheckRun, expected: snapshot.Snapshot, printed: str | None,
             kind_default: str, revision: str, what: str, seen: set[str],
             conn: Connection | None = None) -> None:
    """Report how the schema (seen through `conn`, else a new connection) differs."""
    if conn is None:
        with run.migrations.runner.connection() as own:
            _compare(run, expected, printed, kind_default, revision, what, seen, own)
        return
    if printed is not None and snapshot.fingerprint(conn) == printed:
        return  # the same schema as `expected`: no difference to report
    actual = snapshot.take(conn)
    new = [line for line in snapshot.diff(expected, actual) if line not in seen]
    seen.update(new)
    leaked = [line.removeprefix("enum type ").removesuffix(": left behind")
              for line in new if line.endswith(": left behind")]
    if leaked:
        run.add("pg-enum-type-leak", f"{what} leaves enum type(s) {', '.join(leaked)}",
                revision, enums=leaked)
        new = [line for line in new if not line.endswith(": left behind")]
    if new:
        run.add(kind_default, f"{what}: schema differs: " + "; ".join(new[:5]), revision,
                differences=new)


@dataclass
class DownWalk:
    """The downgrade from head to base, one revision at a time: the downgrade check's, and the
    start of the second upgrade (`UpAgain`) that up_down_up and data_preserved share."""

    run: CheckRun
    clean: bool = False
    """Every revision downgraded to the schema it had before its upgrade, down to base."""
    stop: Script | None = None
    """The highest revision whose downgrade() says it does nothing: the walk ends above it."""


def _down_walk(run: CheckRun, reachable: int) -> DownWalk:
    bm = run.migrations
    walked = bm.walks.get("down")
    if walked is None:
        walked = bm.walks["down"] = DownWalk(CheckRun("downgrade", run.backend, run.dialect,
                                                      run.history, bm))
        _walk_down(walked, reachable)
        if walked.stop is not None:
            rev = walked.stop.revision
            walked.run.add("downgrade-empty", f"the downgrade() of {rev} "
                           f"{run.history.irreversible[rev]}: the history cannot be downgraded "
                           f"below it, and what it changed stays", rev)
            walked.run.partial = (f"checked the downgrades down to {rev} only: its downgrade() "
                                  f"{run.history.irreversible[rev]}")
    return walked


def _walk_down(walk: DownWalk, reachable: int) -> None:
    """Downgrade revisions [0, reachable) from there to base in one env.py run, comparing the
    schema after each with the one the timeline saw before its upgrade."""
    run, bm = walk.run, walk.run.migrations
    steps = bm.timeline.steps
    order = list(reversed(range(reachable)))
    cut = next((at for at, i in enumerate(order)
                if steps[i].script.revision in run.history.irreversible), None)
    if cut is not None:  # a downgrade that does nothing: below it nothing is as expected
        walk.stop, end, order = steps[order[cut]].script, order[cut] + 1, order[:cut]
    seen: set[str] = set()

    def compare(move: int, context: MigrationContext) -> None:
        if move >= 0:
            step = steps[order[move]]
            _compare(run, step.before, step.before_print, "downgrade-mismatch",
                     step.script.revision, f"after downgrading {step.script.revision}", seen,
                     context.connection)

    bm.go_to(reachable)
    bm.position = None
    done, error = bm.runner.apply_moves([(steps[i].script, False) for i in order], compare)
    if error is not None:
        failed = steps[order[done]].script
        run.error(error, "downgrade-failed", failed.revision, f"downgrade of {failed.revision}")
        run.section_for(failed)
        return
    walk.clean = cut is None and not run.findings
    if run.findings:  # something a downgrade left: what comes next starts from a fresh base
        return
    bm.position = 0 if cut is None else end


def downgrade(run: CheckRun) -> None:
    walked = _down_walk(run, _reachable(run))
    run.findings += walked.run.findings
    run.sections += walked.run.sections
    run.partial = run.partial or walked.run.partial


@dataclass
class UpAgain:
    """The second upgrade from base, after the downgrade walk: data_preserved's rows walk
    (rows seeded before each revision, checked after it) and up_down_up's second upgrade in
    one. Each revision is then upgraded twice in all (the timeline, this walk) and downgraded
    once, where pytest-alembic's up-down test alone upgrades each twice. up_down_up compares
    each schema with the timeline's, silently: when all match after a clean downgrade walk
    it has nothing to report (`clean`); else it runs its own walk from base (up, down, up per
    revision on an empty database), which reports what it finds. A revision that fails here
    only because of the seeded rows is data_preserved's finding and sends up_down_up to its
    own walk too."""

    run: CheckRun
    """data_preserved's findings (none when it does not run on this backend)."""
    clean: bool = False


def _up_again(run: CheckRun, reachable: int) -> UpAgain:
    bm = run.migrations
    walked = bm.walks.get("up")
    if walked is None:
        walked = bm.walks["up"] = UpAgain(CheckRun("data_preserved", run.backend,
                                                   run.dialect, run.history, bm))
        compare = bm.runs("up_down_up") and _down_walk(run, reachable).clean
        _walk_up(walked, reachable, rows=bm.runs("data_preserved"), compare=compare)
    return walked


class _Differs(Exception):
    """The second upgrade, without rows, left the timeline's schema: up_down_up walks alone."""


def _walk_up(walk: UpAgain, reachable: int, rows: bool, compare: bool) -> None:
    run, bm = walk.run, walk.run.migrations
    bm.go_to(0)
    steps = bm.timeline.steps[:reachable]
    walk.clean = compare
    if not steps or not (rows or compare):
        return
    seeder, tables = data.Seeder(), data.Tables()
    bm.position = None
    seen: list[dict[str, data.TableRows]] = []  # the rows before the next revision
    if rows:
        with bm.runner.connection() as conn:
            schema = tables.of(snapshot.reflect(conn, snapshot.KEYS_AND_COLUMNS))
            seeder.seed(conn, schema)
            seen.append(data.read(conn, schema))

    def check(move: int, context: MigrationContext) -> None:
        """After a revision: its schema against the timeline's; its losses; then rows in
        every table for the next one (only the tables just seeded are read again)."""
        conn = context.connection
        if move < 0 or conn is None:
            return
        step = steps[move]
        reflection = _reflection_now(walk, step, conn)
        if not rows:
            if not walk.clean:
                raise _Differs
            return
        schema, after = _data_checked(run, step, conn, seen[-1], tables.of(reflection))
        if move + 1 < len(steps):
            written = seeder.seed(conn, schema, after)
            seen.append(after | data.read(conn, schema, only=written))

    try:
        done, error = bm.runner.apply_moves([(step.script, True) for step in steps], check)
    except _Differs:
        return  # up_down_up walks on its own: nothing more to see here
    if error is not None:
        walk.clean = False
        if rows:
            _failed_with_rows(run, error, steps[done].script)
        return
    bm.position = reachable
    if seeder.unseedable:
        run.sections.append(("tables not seeded", "\n".join(
            f"{t}: {why}" for t, why in seeder.unseedable.items())))


def _reflection_now(walk: UpAgain, step: Step, conn: Connection) -> snapshot.Reflection:
    """The schema after `step`, and whether it is still the timeline's (`walk.clean`): the same
    fingerprint says so at once and the timeline's reflection serves (one query instead of a
    reflection); else it is read, all of it while it is to be compared, else the keys and
    columns the rows checks build their tables from."""
    printed = snapshot.fingerprint(conn)
    if printed is not None and printed == step.after_print and step.after_reflection is not None:
        return step.after_reflection
    if not walk.clean or step.after is None:
        return snapshot.reflect(conn, snapshot.KEYS_AND_COLUMNS)
    reflection = snapshot.reflect(conn)
    walk.clean = not snapshot.diff(step.after, snapshot.of(reflection, conn.dialect))
    return reflection


UP_DOWN_UP = ((True, "upgrade"), (False, "downgrade"), (True, "second upgrade"))
"""up_down_up's moves for each revision."""


def up_down_up(run: CheckRun) -> None:
    reachable = _reachable(run)
    if _up_again(run, reachable).clean:
        return
    bm = run.migrations
    bm.go_to(0)
    steps = bm.timeline.steps[:reachable]
    seen: set[str] = set()
    # each revision up, down and up again; one whose downgrade does nothing only up (the
    # downgrade check reports it)
    plan = [(step, phase) for step in steps for phase in (
        (0,) if step.script.revision in run.history.irreversible else (0, 1, 2))]

    def compare(move: int, context: MigrationContext) -> None:
        if move < 0:
            return
        step, phase = plan[move]
        rev = step.script.revision
        if phase == 1:
            _compare(run, step.before, step.before_print, "downgrade-mismatch", rev,
                     f"after up and down of {rev}", seen, context.connection)
        elif phase == 2:
            assert step.after is not None
            _compare(run, step.after, step.after_print, "up-down-up-mismatch", rev,
                     f"after up, down, up of {rev}", seen, context.connection)

    if not steps:
        return
    bm.position = None
    done, error = bm.runner.apply_moves(
        [(step.script, UP_DOWN_UP[phase][0]) for step, phase in plan], compare)
    if error is not None:
        step, phase = plan[done]
        run.error(error, "up-down-up-failed", step.script.revision,
                  f"{UP_DOWN_UP[phase][1]} of {step.script.revision}")
        run.section_for(step.script)
        return
    bm.position = reachable


def _allowed(script: Script) -> set[str]:
    return set(getattr(script.module, ALLOW_LOSS_ATTRIBUTE, ()) or ())


def _dropped_constraints(run: CheckRun, step: Step) -> None:
    """NOT NULL or a server default that vanished without the revision asking for it."""
    if step.after is None:
        return
    intents = run.migrations.history.alter_intents(step.script)
    for table, info in step.before["tables"].items():
        after_table = step.after["tables"].get(table)
        if after_table is None:
            continue
        for column, old in info["columns"].items():
            new = after_table["columns"].get(column)
            asked = (intents.get((table, column), frozenset())
                     | intents.get((ANY_TABLE, column), frozenset()))
            if new is None:
                continue
            if not old["nullable"] and new["nullable"] and "nullable" not in asked:
                run.add("constraint-dropped", f"{table}.{column} lost NOT NULL (the revision "
                        f"did not ask for it)", step.script.revision, column=f"{table}.{column}")
            if old["default"] and not new["default"] and "server_default" not in asked:
                run.add("constraint-dropped", f"{table}.{column} lost its server default "
                        f"{old['default']}", step.script.revision, column=f"{table}.{column}")


def _data_checked(run: CheckRun, step: Step, conn: Connection, before: dict[str, data.TableRows],
                  schema: sa.MetaData) -> tuple[sa.MetaData, dict[str, data.TableRows]]:
    """Report what `step` did to the rows in `before` (`schema`: the tables now); returns the
    tables and rows now."""
    after = data.read(conn, schema)
    found = orphans.find(conn) if run.migrations.live.family.optional_foreign_keys else []
    allowed = _allowed(step.script)
    for loss in data.losses(before, after) + data.filled(before, after, schema):
        if loss.table in allowed or f"{loss.table}.{loss.column}" in allowed:
            continue
        run.add(loss.kind, loss.message, step.script.revision, table=loss.table,
                column=loss.column)
    for orphan in found:
        run.add("fk-orphans", orphan, step.script.revision)
    _dropped_constraints(run, step)
    return schema, after


def data_preserved(run: CheckRun) -> None:
    walked = _up_again(run, _reachable(run))
    run.findings += walked.run.findings
    run.sections += walked.run.sections
    run.partial = run.partial or walked.run.partial


def _failed_with_rows(run: CheckRun, exc: BaseException, script: Script) -> None:
    """A revision that upgraded on empty tables failed on the seeded ones: a constraint it
    adds that the generated rows break is the seeding's doing; anything else is the revision's
    (a NOT NULL column without a default, a narrowing type change)."""
    what = f"upgrade to {script.revision} with rows in the tables"
    line = run.migrations.error_line(exc)
    failed = f"{what} failed: {line}"
    if _rebuilt_a_referenced_table(run, script, line):
        run.add("sqlite-batch-referenced", failed, script.revision, error=line)
    elif _constraint_violation(exc, line) and not ENTRIES["not-null-added-to-rows"].matches(line):
        run.add("seeded-rows-rejected", failed, script.revision, error=line)
        run.partial = (f"checked the revisions before {script.revision} only: the rows dbmatrix "
                       f"seeded break a constraint it adds")
    else:
        run.error(exc, "fails-with-data", script.revision, what)
    run.section_for(script)


def _rebuilt_a_referenced_table(run: CheckRun, script: Script, line: str) -> bool:
    """SQLite's FOREIGN KEY failure in a revision that rebuilds tables (batch mode) and adds no
    foreign key: the rebuild dropped a table other rows reference, not a seeding fault."""
    if not (run.migrations.live.family.optional_foreign_keys
            and "FOREIGN KEY constraint failed" in line):
        return False
    calls = op_calls(run.history.source(script), dialect=run.dialect)
    return (any(c.in_batch for c in calls)
            and not any(c.name == "create_foreign_key" for c in calls))


def _constraint_violation(exc: BaseException, line: str) -> bool:
    """An IntegrityError, or MariaDB's OperationalError 4025 for a CHECK."""
    return isinstance(exc, sa.exc.IntegrityError) or ENTRIES["check-enforcement"].matches(line)


def _disproved(hazard: StaticHazard, step: Step | None) -> str | None:
    """Why the live upgrade of this backend shows the static hazard did not happen, if it does.

    A hazard predicting an error is disproved by the revision upgrading without one; one
    predicting a lost NOT NULL by the column having been NULL-able before or NOT NULL after."""
    if step is None or step.error is not None or step.after is None:
        return None
    if hazard.column is None:
        return "the live upgrade ran this revision without error on this backend"
    table, column = hazard.column
    before = step.before["tables"].get(table, {}).get("columns", {}).get(column)
    after = step.after["tables"].get(table, {}).get("columns", {}).get(column)
    if before is not None and before["nullable"]:
        return f"{table}.{column} was NULL-able before the revision already"
    if before is not None and after is not None and not after["nullable"]:
        return f"{table}.{column} is still NOT NULL after the live upgrade"
    return None


def hazards(run: CheckRun) -> None:
    bm = run.migrations
    history = bm.history
    live = not isinstance(bm.contract(), ContractBroken)
    steps = {s.script.revision: s for s in bm.timeline.steps} if live else {}
    for script in history.ordered:
        for hazard in scan(script, history.source(script), run.dialect):
            why = _disproved(hazard, steps.get(script.revision))
            if why:
                run.notes.append(Finding(hazard.kind, run.check, run.backend,
                                         f"{hazard.message} (not a failure: {why})",
                                         run.dialect, revision=hazard.revision,
                                         details={"line": hazard.line}, status="note"))
            else:
                run.add(hazard.kind, hazard.message, hazard.revision, line=hazard.line,
                        file=script.path)
    if not live:
        return
    reachable = bm.timeline.reachable
    for step in bm.timeline.steps[:reachable]:
        leftovers = snapshot.tmp_tables(step.after or step.before)
        if leftovers:
            run.add("sqlite-batch-leftovers", f"tables left behind: {', '.join(leftovers)}",
                    step.script.revision, tables=leftovers)
    bm.go_to(reachable)
    with bm.runner.connection() as conn:
        for orphan in orphans.find(conn):
            run.add("fk-orphans", orphan)


def _inject(run: CheckRun, index: int, step: Step) -> dict[str, Any]:
    """Abort the revision after its first write; does the version still match the schema?"""
    bm = run.migrations
    bm.go_to(index)
    bm.position = None
    capture = Capture(fail_after_writes=1)
    try:
        bm.runner.apply([step.script], capture=capture)
        stopped = False
    except InjectedFailure:
        stopped = True
    heads = bm.runner.heads()
    schema = bm.runner.snapshot()
    at_before = heads == step.heads_before and not snapshot.diff(step.before, schema)
    after = step.after or step.before
    at_after = heads != step.heads_before and not snapshot.diff(after, schema)
    rerun_error = None
    try:
        bm.runner.apply([step.script])
        converges = not snapshot.diff(after, bm.runner.snapshot())
    except Exception as exc:
        converges = False
        rerun_error = bm.error_line(exc)
    return {"stopped": stopped, "version_matches_schema": at_before or at_after,
            "alembic_version": list(heads), "rerun_converges": converges,
            "rerun_error": rerun_error}


def atomicity(run: CheckRun) -> None:
    reachable = _reachable(run)
    bm = run.migrations
    transactional = bm.live.capabilities.transactional_ddl
    for index, step in enumerate(bm.timeline.steps[:reachable]):
        ddl = [s for s in step.writes if DDL.match(s)]
        if len(step.writes) < 2 or not ddl:
            continue
        result = _inject(run, index, step)
        consistent = result["version_matches_schema"] and result["rerun_converges"]
        if transactional and consistent:
            continue
        verdict = ("alembic_version still matches the schema" if result["version_matches_schema"]
                   else "alembic_version no longer matches the schema")
        rerun = ("re-running converges" if result["rerun_converges"]
                 else f"re-running fails ({result['rerun_error'] or 'schema differs'})")
        where = ("and env.py's connection did not roll the first back (its driver commits "
                 "DDL at once)" if transactional else "on a backend without transactional DDL")
        run.add("non-atomic-revision", f"{len(step.writes)} statements ({len(ddl)} DDL) "
                f"{where}; aborted after the first: {verdict}, {rerun}", step.script.revision,
                statements=len(step.writes), **result)
        run.section_for(step.script, step.writes)


def offline_sql(run: CheckRun) -> None:
    rendering = offline.render(run.history, run.dialect)
    if run.artifacts is not None:
        path = offline.save(rendering, run.artifacts, run.backend)
        run.sections.append(("artifact", str(path)))
    if rendering.error is not None:
        line = f"{type(rendering.error).__name__}: {rendering.error}".splitlines()[0]
        hazard = find_hazard(line, run.dialect)
        run.add(hazard.id if hazard else "offline-sql-failed",
                f"offline (--sql) rendering failed: {line}", rendering.failed_revision,
                error=line)
        if rendering.sql:
            run.sections.append(("SQL rendered before the failure", rendering.sql[-2000:]))


Check = Callable[[CheckRun], None]
CHECKS: dict[str, Check] = {
    "single_head": single_head,
    "env_contract": env_contract,
    "upgrade": upgrade,
    "model_match": model_match,
    "hazards": hazards,
    "downgrade": downgrade,
    "up_down_up": up_down_up,
    "data_preserved": data_preserved,
    "atomicity": atomicity,
    "offline_sql": offline_sql,
}
"""Every built-in check by name, in the order they run for a backend."""
OFFLINE_ONLY = frozenset({"single_head", "offline_sql"})
"""Checks that need no database (they run even where no server is available)."""

