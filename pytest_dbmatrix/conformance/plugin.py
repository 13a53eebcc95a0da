"""Hooks of the conformance suite: generate the items, collect findings, report them."""

from __future__ import annotations

import sys
from collections.abc import Generator
from typing import Any

import pytest
import sqlalchemy as sa

from pytest_dbmatrix import findings
from pytest_dbmatrix.backends import FAMILIES
from pytest_dbmatrix.conformance.execution import Runner
from pytest_dbmatrix.conformance.items import (
    MARKER_SPEC,
    Conformance,
    ConformanceItem,
    make_item,
)
from pytest_dbmatrix.conformance.schema import SchemaPlan
from pytest_dbmatrix.conformance.static import check_table, static_families
from pytest_dbmatrix.errors import normalise
from pytest_dbmatrix.fixtures import load_metadata
from pytest_dbmatrix.run_state import BACKEND, KEY, MatrixState

LIVE_TIERS = ("create", "roundtrip", "constraints")
FINDING_CHECKS = ("static", "live", "constraint", "differential")
"""The `check` of the suite's findings (the tier that found them: the live tiers share two)."""


def plugin(state: MatrixState) -> ConformancePlugin:
    return ConformancePlugin(state)


class ConformancePlugin:
    """Registered when --dbmatrix-conformance (ini dbmatrix_conformance) is on."""

    def __init__(self, state: MatrixState) -> None:
        self.state = state
        self.plan: SchemaPlan | None = None
        self.runner: Runner | None = None

    @pytest.hookimpl
    def pytest_configure(self, config: pytest.Config) -> None:
        config.addinivalue_line("markers", MARKER_SPEC)
        self.plan = SchemaPlan.of(self._metadata(config))
        self.runner = Runner(self.state, self.plan)
        self.state.report_sections["conformance"] = self.report_section

    def _metadata(self, config: pytest.Config) -> sa.MetaData:
        setting = self.state.settings.metadata
        if setting.value is None:
            raise pytest.UsageError(
                "dbmatrix: --dbmatrix-conformance generates tests from your models: name them "
                "with --dbmatrix-metadata=MODULE:ATTR (ini dbmatrix_metadata), a MetaData or a "
                "declarative Base")
        here = str(config.invocation_params.dir)
        if here not in sys.path:
            sys.path.insert(0, here)
        metadata = load_metadata(setting.value, setting.source)
        if not metadata.tables:
            raise pytest.UsageError(f"dbmatrix: {setting.value!r} from {setting.source} has no "
                                    f"tables: import the model modules in it")
        return metadata

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, session: pytest.Session,
                                      items: list[pytest.Item]) -> None:
        """Put the generated items first: they create and drop their own tables before the
        user's tests have db_engine create them on the same databases."""
        items[:0] = self._items(session)

    def _items(self, session: pytest.Session) -> list[pytest.Item]:
        assert self.plan is not None and self.runner is not None
        parent = Conformance.from_parent(session, name="conformance", nodeid="conformance")
        runner, tables = self.runner, [t.key for t in self.plan.order]
        backends = list(self.state.settings.backends.value)
        made: list[pytest.Item] = []
        for table in tables:
            for family in static_families():
                made.append(self._static(parent, table, family.kind))
        for backend in backends:
            for tier in LIVE_TIERS:
                for table in tables:
                    check = _bind(getattr(runner, tier), table, backend)
                    made.append(self._live(make_item(parent, tier, table, backend, check)))
        if len(backends) > 1:
            for table in tables:
                made.append(make_item(parent, "differential", table, None,
                                      _bind(runner.differential, table, backends)))
        for backend in backends:
            made.append(self._live(make_item(parent, "drop_all", None, backend,
                                             _bind(runner.drop_all, backend))))
        return made

    def _static(self, parent: Conformance, table: str, dialect: str) -> ConformanceItem:
        assert self.plan is not None
        check = _bind(check_table, self.plan.table(table), FAMILIES[dialect], self.plan)
        item = make_item(parent, "static", table, dialect, check)
        if dialect in self.state.settings.specs:
            return self._live(item)
        item.stash[KEY] = f"conformance::static[{table}]"
        item.user_properties.append(("dbmatrix_backend", dialect))
        return item

    @staticmethod
    def _live(item: ConformanceItem) -> ConformanceItem:
        assert item.backend is not None
        item.stash[BACKEND] = item.backend
        key = item.nodeid.rsplit("[", 1)[0]
        item.stash[KEY] = key if item.table else f"conformance::{item.tier}"
        return item

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        if isinstance(item, ConformanceItem):
            if call.when == "call":
                findings.attach(report, item.findings)
            if BACKEND not in item.stash and item.backend:
                report.dbmatrix = self._compile_only(item, call)  # type: ignore[attr-defined]
        return report

    def _compile_only(self, item: ConformanceItem, call: pytest.CallInfo[None]) -> dict[str, Any]:
        """Matrix data of a static item for a dialect that is not a selected backend."""
        name = str(item.backend)
        data: dict[str, Any] = {"backend": name, "test": item.stash[KEY]}
        if call.when == "setup":
            data["server"] = {"name": name, "kind": name, "dialect": name,
                              "status": "compile-only"}
        excinfo = call.excinfo
        if excinfo is not None and not excinfo.errisinstance(pytest.skip.Exception):
            data["error"] = (normalise(excinfo.value, self.state.settings.secrets).as_dict()
                             | findings.error_fields(excinfo.value))
        return data

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self) -> None:
        """Before the run's databases are dropped: drop what is left of the suite's tables."""
        if self.runner is not None:
            self.state.cleanup_problems += self.runner.close()

    def report_section(self) -> dict[str, Any]:
        assert self.plan is not None
        return {
            "metadata": self.state.settings.metadata.value,
            "tables": [t.name for t in self.plan.order],
            "static_dialects": [family.kind for family in static_families()],
            "live_backends": list(self.state.settings.backends.value),
            **self.state.findings.as_json(lambda f: f.check in FINDING_CHECKS),
        }


def _bind(function: Any, *args: Any) -> Any:
    """A check without arguments (a closure that does not capture the loop variables)."""
    return lambda: function(*args)
