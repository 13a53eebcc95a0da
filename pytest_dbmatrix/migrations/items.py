"""The generated test items: `migrations::<check>[<backend>]`, one per check and backend."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_dbmatrix.findings import Finding, FindingsFailure

COLLECTOR = "migrations"


class MigrationsCollector(pytest.Collector):
    """The parent of the generated items, so their ids read `migrations::check[backend]`."""

    def collect(self) -> list[pytest.Item | pytest.Collector]:
        return []


class MigrationItem(pytest.Function):
    """A built-in check on one backend (or one dialect rendered offline)."""

    check: str
    target: str
    findings: list[Finding]
    """What the check found, with each finding's status (set when it has run)."""

    def repr_failure(  # type: ignore[override]  # Function drops Node's style argument
            self, excinfo: pytest.ExceptionInfo[BaseException]) -> Any:
        if isinstance(excinfo.value, FindingsFailure):
            return excinfo.value.render()
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, self.nodeid


def collector(session: pytest.Session) -> MigrationsCollector:
    return MigrationsCollector.from_parent(session, name=COLLECTOR, nodeid=COLLECTOR)


def make_item(parent: MigrationsCollector, check: str, target: str, callobj: Any,
              group: str | None) -> MigrationItem:
    # No originalname: pytest 9.2 builds a Function's node id from it plus callspec params,
    # which would give every backend's item the same id.
    item = MigrationItem.from_parent(parent, name=f"{check}[{target}]", callobj=callobj)
    item.check = check
    item.target = target
    item.findings = []
    if group:
        item.add_marker(pytest.mark.xdist_group(group))
    return item
