"""The stateful part of the plugin: parametrize, apply marker rules, record and report."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from pytest_dbmatrix import findings
from pytest_dbmatrix.options import MARKER
from pytest_dbmatrix.providers import BackendUnavailable
from pytest_dbmatrix.redact import scrub
from pytest_dbmatrix.report import header, terminal
from pytest_dbmatrix.run_state import BACKEND_PARAM, KEY, MatrixState, backend_of, test_key


def _user_parametrized(metafunc: pytest.Metafunc) -> bool:
    for mark in metafunc.definition.iter_markers("parametrize"):
        names = mark.args[0] if mark.args else mark.kwargs.get("argnames", "")
        if isinstance(names, str):
            names = [n.strip() for n in names.split(",")]
        if BACKEND_PARAM in names:
            return True
    return False


class MatrixSession:
    """Hooks that need the run's state; registered once per process in pytest_configure."""

    def __init__(self, state: MatrixState) -> None:
        self.state = state
        self._described: set[str] = set()
        """Backends whose final description (live or unavailable) a report already carried."""
        self._rows: dict[str, tuple[str, str]] = {}
        """node id -> (backend, matrix row) of the items running here, until their teardown."""
        self._errors: dict[tuple[str, str], dict[str, Any]] = {}
        """(node id, phase) -> normalised error, until the phase's report is logged."""
        self._properties: dict[str, list[tuple[str, str]]] = {}
        """backend -> its JUnit properties, shared by its items."""

    @pytest.hookimpl
    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if BACKEND_PARAM not in metafunc.fixturenames or _user_parametrized(metafunc):
            return
        if MARKER in metafunc.definition.keywords:
            from pytest_dbmatrix.markers import MarkerError, rules_for  # only with the marker

            try:
                rules_for(metafunc.definition)
            except MarkerError as exc:
                pytest.fail(f"{metafunc.definition.nodeid}: {exc}", pytrace=False)
        names = list(self.state.settings.backends.value)
        metafunc.parametrize(BACKEND_PARAM, names, indirect=True, ids=names, scope="session")

    @pytest.hookimpl
    def pytest_report_collectionfinish(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> list[str]:
        if config.option.collectonly:
            return []
        used = list(dict.fromkeys(b for b in map(backend_of, items) if b))
        self.state.provisioner.get_many(used)
        return header.backend_lines(self.state, used, config.option.verbose)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        """Note the item's matrix row; apply its dbmatrix markers."""
        backend = backend_of(item)
        if backend is None:
            return
        self._rows[item.nodeid] = (backend, item.stash.get(KEY, None) or test_key(item, backend))
        if MARKER in item.keywords:  # keywords hold every marker name
            self._apply_markers(item, backend)

    def _apply_markers(self, item: pytest.Item, backend: str) -> None:
        """Skip or xfail the item on this backend as its markers say; a rule on the server's
        version provisions the backend first."""
        from pytest_dbmatrix.exclusions import Identity  # only for items with markers
        from pytest_dbmatrix.markers import decide, rules_for

        rules = rules_for(item)
        spec = self.state.settings.specs[backend]
        decision = decide(rules, Identity(backend, spec.family.kind))
        if decision.action == "undecided":
            try:
                live = self.state.provisioner.get(backend)
            except BackendUnavailable as exc:
                self.state.fail_or_skip(str(exc))
            decision = decide(rules, live.identity)
        if decision.action == "skip":
            pytest.skip(decision.reason)
        if decision.action == "xfail":
            item.add_marker(pytest.mark.xfail(reason=decision.reason, strict=True))

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> None:
        """Note the item's server in its JUnit properties and any error; the report itself
        is pytest's."""
        row = self._rows.get(item.nodeid)
        if row is None:
            return
        if call.when == "setup":
            self._add_properties(item, row)
        excinfo = call.excinfo
        if excinfo is not None and not excinfo.errisinstance(pytest.skip.Exception):
            import json  # only when a test fails

            from pytest_dbmatrix.errors import normalise

            error = normalise(excinfo.value, self.state.settings.secrets).as_dict()
            error |= findings.error_fields(excinfo.value)
            if call.when == "setup" and row[0] in self.state.lost_backends:
                error["lost"] = True  # the server, not the test: no incompatibility
            self._errors[item.nodeid, call.when] = error
            item.user_properties.append(("dbmatrix_error", json.dumps(error, default=str)))

    def _add_properties(self, item: pytest.Item, row: tuple[str, str]) -> None:
        """The backend's JUnit properties and the matrix row, once per item even if it is set
        up again: `dbmatrix merge` reads JUnit files through them."""
        mine = self._properties_of(row[0])
        if mine[0] not in item.user_properties:
            item.user_properties += mine
            item.user_properties.append(("dbmatrix_test", row[1]))

    def _properties_of(self, backend: str) -> list[tuple[str, str]]:
        """The backend, and its server, dialect and provider once it is live: made once per
        backend when it is live or has failed, and shared by its items."""
        made = self._properties.get(backend)
        if made is not None:
            return made
        properties = [("dbmatrix_backend", backend)]
        provisioner = self.state.provisioner
        live = provisioner.live.get(backend)
        if live is not None:
            properties += [("dbmatrix_server", live.info.label),
                           ("dbmatrix_dialect", live.dialect), ("dbmatrix_provider", live.provider)]
        if live is not None or backend in provisioner.failed:
            self._properties[backend] = properties
        return properties

    def _report_data(self, report: pytest.TestReport) -> dict[str, Any] | None:
        """The matrix data of a report of this process: its row, error and, with the first
        setup report of a backend, what is known of the backend."""
        row = self._rows.get(report.nodeid)
        if row is None:
            return None
        if report.when == "teardown":
            del self._rows[report.nodeid]  # the item's last report
        backend, test = row
        data: dict[str, Any] = {"backend": backend, "test": test}
        if report.when == "setup" and backend not in self._described:
            data["server"] = self._server(backend)
        error = self._errors.pop((report.nodeid, report.when), None)
        if error is not None:
            data["error"] = error
        return data

    def _server(self, backend: str) -> dict[str, Any]:
        """What the report knows of the backend; once live or failed, it is sent only once per
        process (the controller keeps it), not with every test."""
        provisioner = self.state.provisioner
        if backend in provisioner.live:
            self._described.add(backend)
            return provisioner.live[backend].describe()
        spec = self.state.settings.specs[backend]
        info: dict[str, Any] = {"name": backend, "kind": spec.family.kind}
        if backend in provisioner.failed:
            self._described.add(backend)
            info.update(status="unavailable", reason=provisioner.failed[backend].reason)
        return info

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Record the report in the matrix; on an xdist worker, give it the data to carry
        to the controller instead (before xdist sends it)."""
        if not self.state.is_worker:
            self.state.findings.add(findings.received(report))
        data = getattr(report, "dbmatrix", None) or self._report_data(report)
        if data is None:
            return
        if self.state.is_worker:
            report.dbmatrix = data  # type: ignore[attr-defined]
        else:
            self.state.matrix.record(report, data)

    @pytest.hookimpl
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.state.is_worker:
            terminal.write_summary(terminalreporter, self.state)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """After session fixtures are torn down: drop the run's databases (the JSON report is
        written by report.json_report)."""
        self.state.cleanup_problems += self.state.provisioner.close()


class SecretScrubber:
    """Masks the URL passwords the user gave in every report; registered only when there are
    some."""

    def __init__(self, secrets: tuple[str, ...]) -> None:
        self.secrets = secrets

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        report.sections = [(k, scrub(v, self.secrets)) for k, v in report.sections]
        text = "" if report.longrepr is None else str(report.longrepr)
        if any(s in text for s in self.secrets):
            report.longrepr = scrub(text, self.secrets)
        return report
