"""The container provider without an engine: detection, the chain, arguments, MSSQL set-up."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any, ClassVar

import pytest
import testcontainers.core.docker_client as tc_client
from sqlalchemy.engine import URL

from pytest_dbmatrix.backends import FAMILIES
from pytest_dbmatrix.backends.mssql.containers import mssql_driver
from pytest_dbmatrix.backends.recipes import ContainerRecipe
from pytest_dbmatrix.providers import BackendUnavailable, ProvideContext, ProviderRun
from pytest_dbmatrix.providers import docker as provider
from pytest_dbmatrix.providers.registry import Record
from pytest_dbmatrix.run_identity import RunIdentity
from pytest_dbmatrix.settings import BackendSpec, Sourced
from tests import providers_support

state_dir = providers_support.state_dir


# -- detection ------------------------------------------------------------------------------


def test_no_socket_and_no_docker_host_is_unavailable_at_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.setattr(tc_client, "get_docker_host", lambda: None)
    monkeypatch.setattr(provider, "DEFAULT_SOCKET", "/nonexistent/docker.sock")
    with pytest.raises(BackendUnavailable) as failed:
        provider.engine(ProviderRun(), "postgresql")
    assert failed.value.reason == ("no Docker engine: DOCKER_HOST is unset and "
                                   "/nonexistent/docker.sock does not exist")


def test_an_engine_that_never_answers_is_given_up_after_the_bound(
        monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        where = f"tcp://127.0.0.1:{silent.getsockname()[1]}"
        monkeypatch.setenv("DOCKER_HOST", where)
        with pytest.raises(BackendUnavailable) as failed:
            provider.engine(ProviderRun(), "postgresql")
    assert failed.value.reason.startswith(f"no Docker engine answers at {where} within 3 s: ")


def test_forced_docker_without_engine_names_only_docker(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, state_dir: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    pytester.makepyfile(test_one="def test_one(db_engine): pass")
    result = pytester.runpytest_subprocess("--dbmatrix=postgresql", "--dbmatrix-strict",
                                           "--dbmatrix-provider=postgresql=docker")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*postgresql: ERROR: no Docker engine answers at "
                                 "unix:///nonexistent/docker.sock within 3 s*"])
    assert "local" not in "\n".join(line for line in result.outlines if "ERROR:" in line)


def test_without_engine_the_chain_falls_back_to_local_binaries(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, state_dir: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    pytester.makepyfile(test_one="""
        def test_one(dbmatrix_backend):
            assert dbmatrix_backend.provider == "local"
    """)
    result = pytester.runpytest_subprocess("--dbmatrix=postgresql", "--dbmatrix-strict")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*postgresql: PostgreSQL * via local*"])


# -- container arguments ----------------------------------------------------------------------


class FakeTcClient:
    calls: ClassVar[list[dict[str, Any]]] = []

    def run(self, image: str, command: Any, **kwargs: Any) -> str:
        self.calls.append({"image": image, "command": command, **kwargs})
        return "container"


class FakeEngine:
    class api:  # mimics the SDK's client.api
        base_url = "http+docker://localhost"


def _spec(name: str, image: str | None = None) -> BackendSpec:
    return BackendSpec(name, FAMILIES[name], provider=Sourced("docker", "test"),
                       image=Sourced(image, "option --dbmatrix-image") if image else None)


def _recipe(name: str) -> ContainerRecipe:
    recipe = FAMILIES[name].container_recipe()
    assert recipe is not None
    return recipe


def _record(name: str) -> Record:
    run = RunIdentity.new()
    return Record(f"{run.run_id}-docker-{name}", name, "docker", run.run_id)


@pytest.mark.parametrize("network", ["ports", "host"])
def test_container_arguments(monkeypatch: pytest.MonkeyPatch, network: str) -> None:
    FakeTcClient.calls = []
    monkeypatch.setattr(tc_client, "DockerClient", FakeTcClient)
    record = _record("postgresql")
    recipe = _recipe("postgresql")
    provider._run(_spec("postgresql"), "postgres:16", recipe, record, 40001, "pw",
                  network == "host", 1, FakeEngine())
    (call,) = FakeTcClient.calls
    assert call["labels"][provider.LABEL_RUN] == record.run_id
    assert call["labels"][provider.LABEL_PID] == str(record.owner_pid)
    assert call["name"] == f"dbmatrix-{record.key}"
    assert call["environment"]["POSTGRES_PASSWORD"] == "pw"
    assert call["environment"]["POSTGRES_DB"] == "test"
    assert "fsync=off" in call["command"]
    if network == "host":
        assert call["network"] == "host" and call["ports"] is None
        assert call["command"][:3] == ["postgres", "-p", "40001"]
        assert "listen_addresses=127.0.0.1" in call["command"]
    else:  # a published port, on loopback only
        assert "network" not in call
        assert call["ports"] == {"5432/tcp": ("127.0.0.1", None)}


def test_mysql_family_arguments_suit_mysql_and_mariadb_images() -> None:
    for name, prefix in (("mysql", "MYSQL"), ("mariadb", "MARIADB")):
        recipe = _recipe(name)
        assert recipe.environment("pw", 40002, True) == {f"{prefix}_ROOT_PASSWORD": "pw",
                                                         f"{prefix}_DATABASE": "test"}
        command = recipe.command(40002, True)
        assert command is not None
        assert "--port=40002" in command and "--bind-address=127.0.0.1" in command
        assert "--loose-mysqlx=OFF" in command  # unknown to MariaDB, hence loose


# -- MSSQL ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("drivers", "pymssql", "expected"), [
    (["ODBC Driver 17 for SQL Server", "ODBC Driver 18 for SQL Server"], False,
     ("mssql+pyodbc", {"driver": "ODBC Driver 18 for SQL Server",
                       "TrustServerCertificate": "yes"})),
    (["FreeTDS"], True,
     ("mssql+pyodbc", {"driver": "FreeTDS", "TrustServerCertificate": "yes",
                       "TDS_Version": "7.4"})),
    ([], True, ("mssql+pymssql", {})),
])
def test_mssql_driver_choice(drivers: list[str], pymssql: bool,
                             expected: tuple[str, dict[str, str]]) -> None:
    assert mssql_driver("mssql", drivers, pymssql) == expected


def test_mssql_without_driver_says_what_to_install() -> None:
    with pytest.raises(BackendUnavailable) as failed:
        mssql_driver("mssql", [], False)
    assert "pip install pyodbc" in failed.value.reason
    assert "tdsodbc" in failed.value.reason and "pymssql" in failed.value.reason


class FakeContainer:
    id = "c0ffee"
    short_id = "c0ffee"
    status = "running"

    def remove(self, **kwargs: Any) -> None:
        raise AssertionError("a ready container is kept")


def test_mssql_container_gets_its_database_after_start(
        monkeypatch: pytest.MonkeyPatch, state_dir: Path, tmp_path: Path) -> None:
    """The image creates no database: the provider waits on master, then creates one."""
    waited: list[URL] = []
    created: list[tuple[URL, str]] = []
    monkeypatch.setattr(provider, "engine", lambda run, name: FakeEngine())
    monkeypatch.setattr(provider, "_run", lambda *args: FakeContainer())
    monkeypatch.setattr(provider, "wait_until_ready",
                        lambda family, url, *rest: waited.append(url))
    monkeypatch.setattr(provider, "ensure_database",
                        lambda family, url, name: created.append((url, name)))
    driver, query = mssql_driver("mssql", ["ODBC Driver 18 for SQL Server"], False)
    context = ProvideContext("x", "main", tmp_path, 10.0, ProviderRun(), "host")
    record = provider._start(_spec("mssql"), context, _recipe("mssql"), driver, query,
                             _record("mssql"))
    assert [u.database for u in waited] == ["master"]
    assert [(u.database, name) for u, name in created] == [("master", "test")]
    url = waited[0]
    assert url.username == "sa" and url.host == "127.0.0.1"
    assert url.query["TrustServerCertificate"] == "yes"
    assert record.url.endswith("/test?TrustServerCertificate=yes&driver=ODBC+Driver+18+for+SQL"
                               "+Server")
    assert "mcr.microsoft.com/mssql/server" in record.description
    environment = _recipe("mssql").environment(url.password or "", url.port or 0, True)
    assert environment["ACCEPT_EULA"] == "Y"
    assert environment["MSSQL_TCP_PORT"] == str(url.port)
    password = str(url.password)
    assert any(c.isupper() for c in password) and any(c.islower() for c in password)
    assert any(c.isdigit() for c in password) and any(not c.isalnum() for c in password)
