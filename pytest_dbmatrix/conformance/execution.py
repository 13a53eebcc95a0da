"""Run the live tiers in this process: one schema per backend, results cached per table.

A column of an async-only driver (`postgresql+asyncpg`) creates and drops its schema through
the family's sync driver, on its own database, and runs the round trips and constraint
scenarios through its async driver (`async_driver.py`): that is where the drivers differ."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import StaticPool

from pytest_dbmatrix.conformance.async_driver import AsyncDriverPath
from pytest_dbmatrix.conformance.constraints import Scenarios, sqlite_fk_off
from pytest_dbmatrix.conformance.differential import compare
from pytest_dbmatrix.conformance.live import LiveSchema, Outcome, RoundTrip, SchemaConflict
from pytest_dbmatrix.conformance.schema import SchemaPlan
from pytest_dbmatrix.errors import normalise
from pytest_dbmatrix.findings import Finding
from pytest_dbmatrix.providers import BackendUnavailable
from pytest_dbmatrix.provision import LiveBackend
from pytest_dbmatrix.run_state import MatrixState


class Runner:
    """Live tiers of one process (each xdist worker has its own databases and runner)."""

    def __init__(self, state: MatrixState, plan: SchemaPlan) -> None:
        self.state = state
        self.plan = plan
        self.schemas: dict[str, LiveSchema] = {}
        self.outcomes: dict[tuple[str, str, str], Outcome | str] = {}
        self._engines: list[Engine] = []
        self.async_path = AsyncDriverPath(state)

    def schema(self, backend: str) -> LiveSchema:
        """The backend's schema, created on first use; unavailable backends skip (or fail)."""
        try:
            live = self.state.provisioner.get(backend)
        except BackendUnavailable as exc:
            self.state.fail_or_skip(str(exc))
            raise
        schema = self.schemas.get(backend)
        if schema is None:
            schema = self.schemas[backend] = LiveSchema(backend, self._engine(live), self.plan)
        if not schema.built:
            try:
                schema.build()
            except SchemaConflict as exc:
                pytest.fail(str(exc), pytrace=False)
        return schema

    def _engine(self, live: LiveBackend) -> Engine:
        """The run's engine; on SQLite one with foreign keys on whatever the setting says."""
        if not live.family.optional_foreign_keys or self.state.settings.sqlite_foreign_keys.value:
            return live.engine
        memory = live.url.database in (None, "", ":memory:")
        options = {"poolclass": StaticPool} if memory else {}
        engine = sa.create_engine(live.url, **options)
        live.family.prepare_engine(engine, foreign_keys=True,
                                   durable=self.state.settings.sqlite_durable.value)
        self._engines.append(engine)
        return engine

    def create(self, table: str, backend: str) -> list[Finding]:
        schema = self.schema(backend)
        reason = schema.created.get(table)
        findings = schema.findings.get(table, [])
        if reason is not None and not findings:
            pytest.skip(f"{table} was not created on {backend}: {reason}")
        return list(findings)

    def drop_all(self, backend: str) -> list[Finding]:
        return self.schema(backend).drop_all()

    def roundtrip(self, table: str, backend: str) -> list[Finding]:
        return self._findings(self.outcome("roundtrip", table, backend))

    def constraints(self, table: str, backend: str) -> list[Finding]:
        findings = self._findings(self.outcome("constraints", table, backend))
        live = self.state.provisioner.live.get(backend)
        setting = self.state.settings.sqlite_foreign_keys
        if live and live.family.optional_foreign_keys and not setting.value:
            findings += sqlite_fk_off(self.plan.table(table), backend, live.family.kind,
                                     setting.source)
        return findings

    @staticmethod
    def _findings(outcome: Outcome | str) -> list[Finding]:
        if isinstance(outcome, str):
            pytest.skip(outcome)
        if outcome.skipped and not outcome.findings:
            pytest.skip(outcome.skipped)
        return list(outcome.findings)

    def outcome(self, tier: str, table: str, backend: str) -> Outcome | str:
        """The cached outcome of a tier, or why it cannot run."""
        key = (tier, table, backend)
        if key not in self.outcomes:
            self.outcomes[key] = self._run(tier, table, backend)
        return self.outcomes[key]

    def _run(self, tier: str, table: str, backend: str) -> Outcome | str:
        schema = self.schema(backend)
        reason = schema.created.get(table)
        if reason is not None:
            return f"{table} was not created on {backend}: {reason}"
        scenario = RoundTrip if tier == "roundtrip" else Scenarios

        def in_a_transaction(conn: Connection) -> Outcome:
            transaction = conn.begin()
            try:
                return scenario(conn, self.plan, self.plan.table(table), backend).run()
            finally:
                transaction.rollback()

        if self.state.settings.specs[backend].serves_sync:
            with schema.engine.connect() as conn:
                return in_a_transaction(conn)
        return self.async_path.run(self.state.provisioner.live[backend], in_a_transaction)

    def differential(self, table: str, backends: list[str]) -> list[Finding]:
        """Compare the observations of every live backend for one table."""
        observed, dialects = {}, {}
        for backend in backends:
            if not self._available(backend):
                continue
            results = {}
            for tier in ("roundtrip", "constraints"):
                outcome = self.outcome(tier, table, backend)
                if isinstance(outcome, Outcome) and not outcome.skipped:
                    results.update(outcome.observations)
            if results:
                observed[backend] = results
                dialects[backend] = self.state.provisioner.live[backend].dialect
        if len(observed) < 2:
            pytest.skip(f"needs two live backends with {table} created, has "
                        f"{', '.join(observed) or 'none'}")
        return compare(table, observed, dialects)

    def _available(self, backend: str) -> bool:
        try:
            self.state.provisioner.get(backend)
        except BackendUnavailable:
            return False
        return True

    def close(self) -> list[str]:
        """Drop what is left of the tables and dispose the suite's own engines."""
        problems = []
        for schema in self.schemas.values():
            try:
                schema.cleanup()
            except Exception as exc:
                problems.append(f"conformance cleanup on {schema.backend}: "
                                f"{normalise(exc, self.state.settings.secrets).line}")
        problems += self.async_path.close()
        for engine in self._engines:
            engine.dispose()
        return problems
