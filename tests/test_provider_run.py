"""The providers' per-run state: one ProviderRun per pytest run or CLI call, no module globals."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from pytest_dbmatrix.backends import FAMILIES
from pytest_dbmatrix.providers import ProviderRun, docker, registry, shared
from pytest_dbmatrix.providers.ready import NotReady, free_port
from pytest_dbmatrix.provision import Provisioner

PROVIDERS = Path(__file__).parents[1] / "pytest_dbmatrix" / "providers"


def test_ports_are_never_handed_out_twice_in_a_run() -> None:
    run = ProviderRun()
    ports = [free_port(run) for _ in range(20)]
    assert len(set(ports)) == 20 and run.given_ports == set(ports)
    assert ProviderRun().given_ports == set()  # another run starts afresh


def test_the_engine_is_asked_once_per_run(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[int] = []

    def connect() -> tuple[Any, str]:
        asked.append(1)
        return None, "no Docker engine: test"

    monkeypatch.setattr(docker, "_connect", connect)
    run, other = ProviderRun(), ProviderRun()
    for client_run in (run, run, other):
        with pytest.raises(docker.BackendUnavailable, match="no Docker engine: test"):
            docker.engine(client_run, "postgresql")
    assert len(asked) == 2


def test_what_killed_runs_left_is_reaped_once_per_run(monkeypatch: pytest.MonkeyPatch) -> None:
    reaped: list[ProviderRun] = []
    monkeypatch.setattr(registry, "reap_stale", lambda run: reaped.append(run) or ["x"])
    run, other = ProviderRun(), ProviderRun()
    assert shared.reap_once(run) == ["x"] and shared.reap_once(run) == []
    assert shared.reap_once(other) == ["x"]
    assert reaped == [run, other]


def test_each_provisioner_has_its_own_provider_run() -> None:
    first = Provisioner(None, None, Path)  # type: ignore[arg-type]
    second = Provisioner(None, None, Path)  # type: ignore[arg-type]
    assert first.provider_run is not second.provider_run


def test_provider_modules_keep_no_mutable_state_at_module_level() -> None:
    """Only constant tables (UPPER_CASE names) at module level in providers/: no lock, no
    container under another name, nothing rebound by `global`."""
    mutable = (ast.Dict, ast.Set, ast.List, ast.DictComp, ast.SetComp, ast.ListComp)
    for path in PROVIDERS.glob("*.py"):
        tree = ast.parse(path.read_text())
        assert not [n for n in ast.walk(tree) if isinstance(n, ast.Global)], path.name
        for node in tree.body:
            if isinstance(node, ast.Assign):
                targets, value = node.targets, node.value
            elif isinstance(node, ast.AnnAssign):
                targets, value = [node.target], node.value
            else:
                continue
            names = [t.id for t in targets if isinstance(t, ast.Name)]
            is_lock = isinstance(value, ast.Call) and getattr(value.func, "attr", "") == "Lock"
            assert not is_lock, f"{path.name}:{node.lineno}"
            if isinstance(value, mutable):
                assert all(n.isupper() or n == "__all__" for n in names), f"{path.name}:{names}"


@pytest.mark.parametrize(("kind", "log", "taken"), [
    ("postgresql", 'LOG:  could not bind IPv4 address "127.0.0.1": Address already in use', True),
    ("postgresql", "FATAL:  could not bind IPv4 address", True),
    ("mariadb", "[ERROR] Can't start server: Bind on TCP/IP port. Got error: 98", True),
    ("mysql", "[ERROR] Do you already have another server running on port: 3306 ?", False),
    ("mssql", "could not bind", False),  # another family's message
])
def test_a_taken_port_is_recognised_in_the_familys_log(kind: str, log: str,
                                                       taken: bool) -> None:
    family = FAMILIES[kind]
    assert NotReady("exited", log, True, family.bind_errors).port_taken is taken
    assert not NotReady("timed out", log, False, family.bind_errors).port_taken
