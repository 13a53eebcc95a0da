"""The container provider: without an engine (detection, the chain, arguments, MSSQL set-up),
then end to end on a real Docker engine, with host networking only.

The end-to-end part needs an engine and the CI images built from Debian packages by
.ci/images/build.sh (they honour the official images' variables); .ci/docker-stage provides both
and sets DBMATRIX_TEST_DOCKER_REQUIRED=1, so there a missing engine fails instead of skipping.
"""

from __future__ import annotations

import json
import os
import signal
import socket
from collections.abc import Iterator
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
from tests.providers_support import records_left, start_pytest, wait_for_file

state_dir = providers_support.state_dir
out_dir = providers_support.out_dir

IMAGES = {"postgresql": "dbmatrix-ci/postgres:15", "mariadb": "dbmatrix-ci/mariadb:10.11",
          "mysql": "dbmatrix-ci/mariadb:10.11"}
REQUIRED = os.environ.get("DBMATRIX_TEST_DOCKER_REQUIRED") == "1"


def _unavailable(reason: str) -> None:
    if REQUIRED:
        pytest.fail(f"{reason} (DBMATRIX_TEST_DOCKER_REQUIRED=1)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def engine() -> Iterator[Any]:
    try:
        client = provider.engine(ProviderRun(), "docker")
    except BackendUnavailable as exc:
        _unavailable(f"{exc.reason}; run .ci/docker-stage")
    for image in set(IMAGES.values()):
        try:
            client.images.get(image)
        except Exception:
            _unavailable(f"image {image} is missing: build it with .ci/images/build.sh")
    yield client


def _args(*names: str) -> list[str]:
    return [f"--dbmatrix={','.join(names)}", "--dbmatrix-docker-network=host",
            "--dbmatrix-strict", "-p", "no:cacheprovider",
            *[f"--dbmatrix-image={n}={IMAGES[n]}" for n in names],
            *[f"--dbmatrix-provider={n}=docker" for n in names]]


def _containers(engine: Any, run_id: str) -> list[Any]:
    return list(engine.containers.list(all=True,
                                       filters={"label": f"{provider.LABEL_RUN}={run_id}"}))


def _run_id(database: str) -> str:
    return "_".join(database.split("_")[1:4])  # dbmatrix_<host>_<pid>_<tag>_<worker>_<backend>


SERVED = """
from records import record

def test_served(db_engine, db_url, dbmatrix_backend):
    with db_engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, name VARCHAR(20))")
        conn.exec_driver_sql("INSERT INTO t VALUES (1, 'x')")
        assert conn.exec_driver_sql("SELECT name FROM t").scalar() == "x"
    record(db_url, provider=dbmatrix_backend.provider)
"""


def test_containers_serve_each_family_and_are_removed(
        pytester: pytest.Pytester, engine: Any, state_dir: Path, out_dir: Path) -> None:
    pytester.makepyfile(test_served=SERVED)
    result = pytester.runpytest_subprocess(*_args("postgresql", "mariadb", "mysql"))
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines([
        "*postgresql: PostgreSQL 15.* via docker*",
        "*server: container * of dbmatrix-ci/postgres:15 (option --dbmatrix-image), "
        "host network 127.0.0.1:*",
        "*mariadb: MariaDB 10.11.* via docker*",
        "*mysql: MariaDB 10.11.* via docker*",
    ])
    seen = [json.loads(p.read_text()) for p in out_dir.glob("*.json")]
    assert {s["provider"] for s in seen} == {"docker"}
    assert len({s["port"] for s in seen}) == 3 and not {s["port"] for s in seen} & {5432, 3306}
    assert _containers(engine, _run_id(seen[0]["database"])) == []
    assert records_left(state_dir) == []


def test_xdist_workers_share_one_container(pytester: pytest.Pytester, engine: Any,
                                           state_dir: Path, out_dir: Path) -> None:
    pytester.makepyfile(test_shared="""
        import time
        import pytest
        from records import record

        @pytest.mark.parametrize("n", range(4))
        def test_worker(db_url, n):
            time.sleep(0.5)
            record(db_url)
    """)
    result = pytester.runpytest_subprocess("-n", "2", "--dist=load", *_args("postgresql"))
    result.assert_outcomes(passed=4)
    seen = [json.loads(p.read_text()) for p in out_dir.glob("*.json")]
    assert {s["worker"] for s in seen} == {"gw0", "gw1"}
    assert len({s["port"] for s in seen}) == 1
    assert len({s["database"] for s in seen}) == 2
    assert _containers(engine, _run_id(seen[0]["database"])) == []


def test_a_container_that_exits_fails_at_once_with_its_log(
        pytester: pytest.Pytester, engine: Any, state_dir: Path) -> None:
    pytester.makepyfile(test_one="def test_one(db_engine): pass")
    wrong = [a.replace(IMAGES["postgresql"], IMAGES["mariadb"]) for a in _args("postgresql")]
    result = pytester.runpytest_subprocess(*wrong, "-rE")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([
        "*the container of dbmatrix-ci/mariadb:10.11 (option --dbmatrix-image) exited with "
        "code 1 before it answered; its log ends with:*",
        "*| *root*",  # postgres refuses to run as root: the image's own message, attached
    ])
    assert records_left(state_dir) == []
    ours = engine.containers.list(all=True, filters={"label": f"{provider.LABEL_BACKEND}="
                                                               f"postgresql"})
    assert [c.name for c in ours if IMAGES["mariadb"] in c.image.tags] == []


SLOW = """
import os, pathlib, time
from records import record

def test_slow(db_url):
    record(db_url)
    pathlib.Path(os.environ["DBMATRIX_TEST_OUT"], "ready").write_text("")
    time.sleep(300)
"""


def test_next_run_removes_containers_of_a_killed_run(
        pytester: pytest.Pytester, engine: Any, state_dir: Path, out_dir: Path) -> None:
    pytester.makepyfile(test_slow=SLOW)
    proc = start_pytest(pytester, "test_slow.py", *_args("mariadb"))
    wait_for_file(out_dir / "ready", proc)
    database = json.loads(next(out_dir.glob("*.json")).read_text())["database"]
    run_id = _run_id(database)
    (left,) = _containers(engine, run_id)
    assert left.labels[provider.LABEL_PID] == str(proc.pid)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert [c.id for c in _containers(engine, run_id)] == [left.id]  # it outlives the run

    pytester.makepyfile(test_served=SERVED)
    result = pytester.runpytest_subprocess("test_served.py", *_args("postgresql"))
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([
        f"*removed, left by killed runs: docker mariadb server of run {run_id}: container "
        f"{left.short_id} of dbmatrix-ci/mariadb:10.11*(pid {proc.pid} is gone)*",
    ])
    assert _containers(engine, run_id) == []
    assert records_left(state_dir) == []


def test_containers_of_live_or_foreign_owners_are_left_alone(engine: Any,
                                                             state_dir: Path) -> None:
    """The label sweep removes only this host's containers whose owning process is gone."""
    labels = {provider.LABEL: "1", provider.LABEL_HOST: "ffff", provider.LABEL_KEY: "x",
              provider.LABEL_RUN: "ffff_999999999_abcd", provider.LABEL_PID: "999999999",
              provider.LABEL_BACKEND: "postgresql"}
    foreign = engine.containers.create(IMAGES["postgresql"], ["true"], labels=labels,
                                       network_mode="host")
    mine = dict(labels, **{provider.LABEL_HOST: provider.host_tag(),
                           provider.LABEL_RUN: f"{provider.host_tag()}_{os.getpid()}_abcd",
                           provider.LABEL_PID: str(os.getpid())})
    alive = engine.containers.create(IMAGES["postgresql"], ["true"], labels=mine,
                                     network_mode="host")
    gone = engine.containers.create(IMAGES["postgresql"], ["true"], network_mode="host",
                                    labels=dict(mine, **{
                                        provider.LABEL_RUN: f"{provider.host_tag()}_999999999_ab",
                                        provider.LABEL_PID: "999999999"}))
    try:
        removed = provider.reap_orphans(ProviderRun(), engine)
        remaining = {c.id for c in engine.containers.list(all=True)}
        assert foreign.id in remaining and alive.id in remaining
        assert gone.id not in remaining
        assert removed == [f"container {gone.name} of run {provider.host_tag()}_999999999_ab "
                           f"(pid 999999999 is gone)"]
    finally:
        for container in (foreign, alive, gone):
            provider._remove(container)


# -- without an engine -----------------------------------------------------------------------


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
