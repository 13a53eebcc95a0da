"""The migrations feature: generate the checks as items, run them, report their findings."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest
from alembic.config import Config

from pytest_dbmatrix import findings
from pytest_dbmatrix.migrations import baseline
from pytest_dbmatrix.migrations.by_revision import by_revision
from pytest_dbmatrix.migrations.by_revision import lines as revision_lines
from pytest_dbmatrix.migrations.checks import CHECKS, OFFLINE_ONLY, CheckRun
from pytest_dbmatrix.migrations.context import BackendMigrations
from pytest_dbmatrix.migrations.database import SUFFIX, MigrationDatabase
from pytest_dbmatrix.migrations.history import History, HistoryError
from pytest_dbmatrix.migrations.items import MigrationItem, collector, make_item
from pytest_dbmatrix.providers import BackendUnavailable
from pytest_dbmatrix.run_state import BACKEND, KEY, MatrixState, backend_of

PLUGIN_NAME = "dbmatrix-alembic_ini"
SQL_DIR = "alembic-sql"


def enabled_checks(names: tuple[str, ...], source: str) -> list[str]:
    """`all`, names, and `-name` to turn one off, validated against the known checks."""
    chosen: list[str] = []
    for name in names or ("all",):
        drop = name.startswith("-")
        name = name.lstrip("-").replace("-", "_")
        expanded = list(CHECKS) if name == "all" else [name]
        if name != "all" and name not in CHECKS:
            raise pytest.UsageError(f"dbmatrix: {source} names unknown migration check "
                                    f"{name!r}; known: all, {', '.join(CHECKS)}")
        chosen = [c for c in chosen if c not in expanded] if drop else chosen + [
            c for c in expanded if c not in chosen]
    return [c for c in CHECKS if c in chosen]


def migration_check(request: pytest.FixtureRequest, dbmatrix_alembic_config: Config,
                    tmp_path_factory: pytest.TempPathFactory) -> None:
    """The body of every generated migration item: run its check."""
    plugin = request.config.pluginmanager.get_plugin(PLUGIN_NAME)
    assert isinstance(plugin, MigrationsPlugin)
    item = request.node
    assert isinstance(item, MigrationItem)
    plugin.run(item, dbmatrix_alembic_config, tmp_path_factory.getbasetemp())


class MigrationsPlugin:
    """Registered when dbmatrix_alembic_ini is set."""

    def __init__(self, state: MatrixState) -> None:
        self.state = state
        settings = state.settings
        self.checks = enabled_checks(settings.alembic_checks.value,
                                     settings.alembic_checks.source)
        self.offline_dialects = list(settings.alembic_offline.value)
        self.histories: dict[int, History] = {}
        self.backends: dict[tuple[str, int], BackendMigrations] = {}
        self.artifacts: dict[str, str] = {}
        self.env_shapes: dict[str, str] = {}
        """backend -> how env.py connected there (EnvFacts.shape)."""
        state.report_sections["migrations"] = self.report

    # -- collection ----------------------------------------------------------------------

    def _dialect_of(self, backend: str) -> str:
        spec = self.state.settings.specs.get(backend)
        if spec is None:
            return backend
        return spec.url.value.get_backend_name() if spec.url else spec.family.kind

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, session: pytest.Session, config: pytest.Config,
                                      items: list[pytest.Item]) -> None:
        if config.args and all("::" in arg for arg in config.args):
            return  # explicit test ids were asked for
        parent = collector(session)
        xdist = config.pluginmanager.hasplugin("xdist")
        backends = list(self.state.settings.backends.value)
        for backend in backends:
            for check in self.checks:
                group = f"dbmatrix-migrations-{backend}" if xdist else None
                item = make_item(parent, check, backend, migration_check, group)
                item.stash[BACKEND] = backend
                item.stash[KEY] = f"migrations::{check}"
                items.append(item)
        if "offline_sql" not in self.checks:
            return
        selected = {self._dialect_of(b) for b in backends}
        for dialect in self.offline_dialects:
            if dialect not in selected and dialect not in backends:
                items.append(make_item(parent, "offline_sql", dialect, migration_check, None))

    @pytest.hookimpl(tryfirst=True)  # before the terminal reporter provisions the backends
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """Where the migration databases are: the run's own database of a backend that no
        other selected test uses, else one made beside it while it is made (not on a worker,
        which does not know whether it will run the checks)."""
        if not any(c not in OFFLINE_ONLY for c in self.checks):
            return
        shared = {backend_of(i) for i in session.items if not isinstance(i, MigrationItem)}
        for backend in self.state.settings.backends.value:
            if backend not in shared:
                self.state.provisioner.hand_over(backend)
            elif not self.state.is_worker:
                self.state.provisioner.also_create(backend, SUFFIX)

    # -- running -------------------------------------------------------------------------

    def history(self, config: Config) -> History:
        return self.histories.setdefault(id(config), History(config))

    def _backend(self, name: str, history: History, tmp: Path) -> BackendMigrations:
        key = (name, id(history))
        if key not in self.backends:
            try:
                live = self.state.provisioner.get(name)
            except BackendUnavailable as exc:
                self.state.fail_or_skip(str(exc))
                raise
            database = MigrationDatabase(live, tmp, self.state.settings,
                                         own=name in self.state.provisioner.handed_over)
            self.backends[key] = BackendMigrations(live, history, database,
                                                   baseline.from_settings(self.state.settings),
                                                   self.checks)
        return self.backends[key]

    def _sql_dir(self, tmp: Path) -> Path:
        configured = self.state.settings.alembic_sql_dir.value
        return Path(configured) if configured else tmp / "dbmatrix" / SQL_DIR

    def run(self, item: MigrationItem, config: Config, tmp: Path) -> None:
        try:
            history = self.history(config)
            history.script  # noqa: B018 - load now for a clear error
        except HistoryError as exc:
            pytest.fail(str(exc), pytrace=False)
        check, target = item.check, item.target
        run = CheckRun(check, target, self._dialect_of(target), history,
                       triage=self.state.triage)
        if check in OFFLINE_ONLY:
            run.artifacts = self._sql_dir(tmp)
        else:
            try:
                run.bm = self._backend(target, history, tmp)
            except HistoryError as exc:
                pytest.fail(str(exc), pytrace=False)
            run.dialect = run.bm.dialect
        try:
            CHECKS[check](run)
            run.finish()
        finally:
            item.findings = run.judged
            item.user_properties.extend(("dbmatrix_artifact", text) for title, text in
                                        run.sections if title == "artifact")
            if run.env_shape:
                item.user_properties.append(("dbmatrix_env_shape", run.env_shape))

    # -- reporting -----------------------------------------------------------------------

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]
                                  ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        if isinstance(item, MigrationItem) and call.when == "call":
            findings.attach(report, item.findings)
            report.dbmatrix_migrations = {  # type: ignore[attr-defined]
                "artifacts": [v for k, v in item.user_properties if k == "dbmatrix_artifact"],
                "env_shape": next((v for k, v in item.user_properties
                                   if k == "dbmatrix_env_shape"), None),
                "target": item.target,
            }
        return report

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        data = getattr(report, "dbmatrix_migrations", None)
        if self.state.is_worker or not data:
            return
        for path in data["artifacts"]:
            self.artifacts[data["target"]] = str(path)
        if data["env_shape"]:
            self.env_shapes[data["target"]] = data["env_shape"]

    def report(self) -> dict[str, Any]:
        settings = self.state.settings
        return {"alembic_ini": settings.alembic_ini.value, "checks": self.checks,
                "offline_dialects": self.offline_dialects, "artifacts": self.artifacts,
                "env_shapes": self.env_shapes,
                "findings": [f.as_dict() for f in self._findings() if f.status != "note"],
                "notes": [f.as_dict() for f in self._findings() if f.status == "note"],
                "by_revision": self._by_revision()}

    def _by_revision(self) -> dict[str, Any]:
        offline = self.offline_dialects if "offline_sql" in self.checks else []
        return by_revision(self._findings(), [*self.state.settings.backends.value, *offline])

    def _findings(self) -> list[findings.Finding]:
        return [f for f in self.state.findings.findings.values() if f.check in CHECKS]

    @pytest.hookimpl
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """The findings are in the digest by hazard; here what only migrations have."""
        if self.state.is_worker:
            return
        tr = terminalreporter
        for line in revision_lines(self._by_revision()):
            tr.write_line(line)
        notes = [f for f in self._findings() if f.status == "note"]
        if notes:
            tr.write_line(f"dbmatrix migrations: {len(notes)} static finding(s) the live "
                          f"upgrade disproved (notes in the JSON report)")
        if self.artifacts:
            tr.write_line(f"dbmatrix migrations: offline SQL in "
                          f"{', '.join(sorted(self.artifacts.values()))}")

    @pytest.hookimpl
    def pytest_sessionfinish(self) -> None:
        """Drop the migration databases before the run's own are dropped (trylast there)."""
        for backend in self.backends.values():
            try:
                backend.close()
            except Exception as exc:
                self.state.cleanup_problems.append(f"migration database of {backend.name}: "
                                                   f"{exc}")
        self.backends.clear()


def plugin(state: MatrixState) -> MigrationsPlugin:
    return MigrationsPlugin(state)
