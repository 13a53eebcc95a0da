"""pytest entry point of pytest-dbmatrix: thin hooks delegating to the modules that do the work."""

from __future__ import annotations

import importlib

import pytest

from pytest_dbmatrix.async_fixtures import async_matrix_plugin
from pytest_dbmatrix.connection_watch import ConnectionWatch
from pytest_dbmatrix.fixtures import matrix_fixtures
from pytest_dbmatrix.matrix_hooks import MatrixSession, SecretScrubber
from pytest_dbmatrix.migrations.fixtures import (  # noqa: F401 - fixtures for migration tests
    dbmatrix_alembic,
    dbmatrix_alembic_config,
    dbmatrix_alembic_database,
    dbmatrix_at_revision_data,
    dbmatrix_before_revision_data,
)
from pytest_dbmatrix.options import MARKER_SPEC, add_options
from pytest_dbmatrix.provision import Provisioner
from pytest_dbmatrix.report.header import settings_lines
from pytest_dbmatrix.report.terminal import FailureVolume
from pytest_dbmatrix.run_identity import RunIdentity
from pytest_dbmatrix.run_state import STATE, MatrixState, get_state, triage_from
from pytest_dbmatrix.settings import resolve
from pytest_dbmatrix.xdist import XdistHooks, run_identity

FEATURES = {
    "conformance": "pytest_dbmatrix.conformance.plugin",
    "alembic_ini": "pytest_dbmatrix.migrations.plugin",
    "html": "pytest_dbmatrix.report.html",
    "report": "pytest_dbmatrix.report.json_report",
}
"""Setting -> module with `plugin(state)`: registered only when the setting is on."""


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER_SPEC)
    settings = resolve(config)
    run = run_identity(config) or RunIdentity.new()
    provisioner = Provisioner(settings, run, lambda: _tmp_dir(config))
    state = MatrixState(settings, run, provisioner, is_worker=hasattr(config, "workerinput"),
                        triage=triage_from(settings))
    config.stash[STATE] = state
    config.pluginmanager.register(MatrixSession(state), "dbmatrix-session")
    config.pluginmanager.register(FailureVolume(state), "dbmatrix-failure-volume")
    config.pluginmanager.register(matrix_fixtures(state), "dbmatrix-fixtures")
    config.pluginmanager.register(async_matrix_plugin(state), "dbmatrix-async-fixtures")
    watch = ConnectionWatch(state)
    state.watch_backend = watch.watch
    config.pluginmanager.register(watch, "dbmatrix-connection-watch")
    if settings.secrets:
        config.pluginmanager.register(SecretScrubber(settings.secrets), "dbmatrix-scrubber")
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(XdistHooks(state), "dbmatrix-xdist")
    for setting, module in FEATURES.items():
        if getattr(settings, setting).value:
            feature = importlib.import_module(module)
            config.pluginmanager.register(feature.plugin(state), f"dbmatrix-{setting}")


def _tmp_dir(config: pytest.Config):  # type: ignore[no-untyped-def]
    """pytest's per-session (per-worker under xdist) base temp dir, made on first use."""
    path = config._tmp_path_factory.getbasetemp() / "dbmatrix"  # type: ignore[attr-defined]
    path.mkdir(exist_ok=True)
    return path


def pytest_report_header(config: pytest.Config) -> list[str]:
    return settings_lines(get_state(config).settings)
