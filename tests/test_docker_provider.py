"""The container provider end to end on a real Docker engine, with host networking only.

Needs an engine and the CI images built from Debian packages by .ci/images/build.sh (they honour
the official images' variables); .ci/docker-stage provides both and sets
DBMATRIX_TEST_DOCKER_REQUIRED=1, so there a missing engine fails instead of skipping.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_dbmatrix.providers import BackendUnavailable, ProviderRun
from pytest_dbmatrix.providers import docker as provider
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
