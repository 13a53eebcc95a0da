"""The container provider: a server in a container started through testcontainers.

Used when a Docker engine answers within `ENGINE_TIMEOUT`. Images default to the official ones
(`Backend.default_image`), `--dbmatrix-image NAME=IMAGE` picks another that honours the same
variables; how each is configured is the family's `containers.RECIPE`. Readiness is a real
query, given up early when the container exits, with its log attached. Containers carry labels
naming their owner (run id, owning pid, host), so the plugin removes its own - at the end of the
run, or, after a kill, in the next run - and never another's; Ryuk is not needed (it would
remove servers shared by xdist workers or kept by `dbmatrix up`).
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL

from pytest_dbmatrix.backends.recipes import DATABASE, ContainerRecipe
from pytest_dbmatrix.providers import registry, shared
from pytest_dbmatrix.providers.base import BackendUnavailable, ProvideContext, ProviderRun, Server
from pytest_dbmatrix.providers.ready import (
    LOG_LINES,
    NotReady,
    ensure_database,
    free_port,
    wait_until_ready,
)
from pytest_dbmatrix.providers.registry import Record
from pytest_dbmatrix.run_identity import host_tag
from pytest_dbmatrix.settings import BackendSpec

ENGINE_TIMEOUT = 3.0
OPERATION_TIMEOUT = 120
DEFAULT_SOCKET = "/var/run/docker.sock"
ATTEMPTS = 3
LABEL = "pytest-dbmatrix"
LABEL_RUN, LABEL_PID, LABEL_HOST = f"{LABEL}.run-id", f"{LABEL}.owner-pid", f"{LABEL}.host"
LABEL_KEY, LABEL_BACKEND = f"{LABEL}.key", f"{LABEL}.backend"


def provide(spec: BackendSpec, context: ProvideContext) -> Server:
    recipe = spec.family.container_recipe()
    if recipe is None:
        raise BackendUnavailable(spec.name, f"no container recipe for {spec.family.kind}")
    driver, query = spec.family.server_driver(spec.name)
    client = engine(context.provider_run, spec.name)
    removed = reap_orphans(context.provider_run, client)
    server = shared.obtain(spec, context, "docker",
                           lambda record: _start(spec, context, recipe, driver, query, record))
    if removed:
        earlier = server.details.get(shared.REMOVED)
        server.details[shared.REMOVED] = "; ".join([earlier, *removed] if earlier else removed)
    return server


# -- the engine ------------------------------------------------------------------------------


def engine(run: ProviderRun, name: str) -> Any:
    """A client of a Docker engine that answered, or BackendUnavailable saying why not, fast;
    asked once per run."""
    with run.engine_lock:
        if run.docker_engine is None:
            run.docker_engine = _connect()
    client, reason = run.docker_engine
    if client is None:
        raise BackendUnavailable(name, reason)
    return client


def _connect() -> tuple[Any, str]:
    if importlib.util.find_spec("testcontainers") is None:
        return None, "testcontainers is not installed: pip install 'pytest-dbmatrix[docker]'"
    from testcontainers.core.docker_client import get_docker_host

    docker = _sdk()
    host = get_docker_host()
    if host is None and not Path(DEFAULT_SOCKET).exists():
        return None, f"no Docker engine: DOCKER_HOST is unset and {DEFAULT_SOCKET} does not exist"
    where = host or f"unix://{DEFAULT_SOCKET}"
    try:
        probe = docker.DockerClient(base_url=where, timeout=ENGINE_TIMEOUT)
        probe.ping()
        probe.close()
        return docker.DockerClient(base_url=where, timeout=OPERATION_TIMEOUT), ""
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return None, f"no Docker engine answers at {where} within {ENGINE_TIMEOUT:g} s: {first}"


def _sdk(module: str = "") -> Any:
    """The Docker SDK (a dependency of testcontainers), imported by name: the repository's
    docker/ directory would shadow it for type checkers."""
    return importlib.import_module(f"docker.{module}" if module else "docker")


def _local_engine(client: Any) -> bool:
    return str(client.api.base_url).startswith(("http+unix://", "http+docker://"))


# -- starting ----------------------------------------------------------------------------------


def _image(spec: BackendSpec) -> tuple[str, str]:
    if spec.image:
        return spec.image.value, spec.image.source
    assert spec.family.default_image is not None
    return spec.family.default_image, "default image"


def _labels(record: Record) -> dict[str, str]:
    return {LABEL: "1", LABEL_RUN: record.run_id, LABEL_PID: str(record.owner_pid or ""),
            LABEL_HOST: record.host, LABEL_KEY: record.key, LABEL_BACKEND: record.backend}


def _start(spec: BackendSpec, context: ProvideContext, recipe: ContainerRecipe, driver: str,
           query: dict[str, str], record: Record) -> Record:
    image, source = _image(spec)
    client = engine(context.provider_run, spec.name)
    host_network = context.docker_network == "host"
    for attempt in range(1, ATTEMPTS + 1):
        port = free_port(context.provider_run) if host_network else recipe.port
        password = recipe.password()
        container = _run(spec, image, recipe, record, port, password, host_network, attempt,
                         client)
        try:
            record.container_id = container.id
            registry.write(record)  # from here on a killed run leaves a reapable record
            address = _address(container, client, spec, recipe, port, host_network)
            url = URL.create(driver, recipe.user, password, *address, recipe.admin_database,
                             query)
            wait_until_ready(spec.family, url, recipe.timeout,
                             functools.partial(_exited, container),
                             functools.partial(_logs, container), (password,))
            if recipe.admin_database != DATABASE:
                ensure_database(spec.family, url, DATABASE)
        except NotReady as exc:
            _remove(container)
            if exc.port_taken and attempt < ATTEMPTS:
                continue
            raise BackendUnavailable(spec.name, exc.describe(
                f"the container of {image} ({source})")) from None
        except BaseException:
            _remove(container)
            raise
        record.url = url.set(database=DATABASE).render_as_string(hide_password=False)
        network = "host network" if host_network else "published port"
        record.description = (f"container {container.short_id} of {image} ({source}), "
                              f"{network} {address[0]}:{address[1]}")
        return record
    raise AssertionError("unreachable")


def _run(spec: BackendSpec, image: str, recipe: ContainerRecipe, record: Record, port: int,
         password: str, host_network: bool, attempt: int, client: Any) -> Any:
    """Create and start the container through testcontainers (pulling the image if missing)."""
    from testcontainers.core.docker_client import DockerClient

    DockerException = _sdk("errors").DockerException
    kwargs: dict[str, Any] = {"network": "host"} if host_network else {}
    ports: Any = None
    if not host_network:
        bind = "127.0.0.1" if _local_engine(client) else ""
        ports = {f"{recipe.port}/tcp": (bind, None) if bind else None}
    name = f"dbmatrix-{record.key}" + (f"-{attempt}" if attempt > 1 else "")
    try:
        return DockerClient().run(image, recipe.command(port, host_network), detach=True,
                                  environment=recipe.environment(password, port, host_network),
                                  ports=ports, labels=_labels(record), name=name, **kwargs)
    except DockerException as exc:
        _remove_named(client, name)
        first = str(exc).strip().splitlines()[0]
        raise BackendUnavailable(
            spec.name, f"cannot start a container of {image}: {first}; pull the image "
            f"beforehand, or choose one with --dbmatrix-image {spec.name}=IMAGE") from None


def _address(container: Any, client: Any, spec: BackendSpec, recipe: ContainerRecipe,
             port: int, host_network: bool) -> tuple[str, int]:
    if host_network:
        return "127.0.0.1", port
    container.reload()
    bindings = container.attrs["NetworkSettings"]["Ports"].get(f"{recipe.port}/tcp") or []
    if not bindings:
        raise NotReady("published no port", _logs(container), True, spec.family.bind_errors)
    ip = bindings[0].get("HostIp") or ""
    if not _local_engine(client):
        from testcontainers.core.docker_client import get_docker_host_hostname

        ip = get_docker_host_hostname() or str(client.api.base_url).split("://")[-1].split(":")[0]
    return (ip if ip not in ("", "0.0.0.0", "::") else "127.0.0.1"), int(bindings[0]["HostPort"])


def _exited(container: Any) -> str | None:
    container.reload()
    if container.status in ("exited", "dead"):
        return f"exited with code {container.attrs['State'].get('ExitCode')}"
    return None


def _logs(container: Any) -> str:
    try:
        return bytes(container.logs(tail=LOG_LINES)).decode(errors="replace")
    except Exception as exc:
        return f"(no log: {exc})"


def _remove(container: Any) -> None:
    NotFound = _sdk("errors").NotFound

    with contextlib.suppress(NotFound):
        container.remove(force=True, v=True)


def _remove_named(client: Any, name: str) -> None:
    DockerException = _sdk("errors").DockerException

    with contextlib.suppress(DockerException):
        _remove(client.containers.get(name))


# -- stopping and reaping ------------------------------------------------------------------------


def is_alive(record: Record, run: ProviderRun) -> bool:
    NotFound = _sdk("errors").NotFound

    try:
        return bool(engine(run, record.backend).containers.get(record.container_id).status
                    == "running")
    except NotFound:
        return False


def destroy(record: Record, run: ProviderRun) -> None:
    """Remove the record's container (and its volumes); gone already is fine."""
    NotFound = _sdk("errors").NotFound

    if not record.container_id:
        return
    with contextlib.suppress(NotFound):
        _remove(engine(run, record.backend).containers.get(record.container_id))


def reap_orphans(run: ProviderRun, client: Any) -> list[str]:
    """Containers of killed runs that no record names (killed right after creating them);
    looked for once per run."""
    with run.orphans_lock:
        if run.orphans_reaped:
            return []
        run.orphans_reaped = True
        removed = []
        with registry.locked("reap"):
            for container in client.containers.list(all=True, filters={"label": LABEL}):
                labels = container.labels
                record = Record(labels.get(LABEL_KEY, ""), labels.get(LABEL_BACKEND, ""),
                                "docker", labels.get(LABEL_RUN, ""), labels.get(LABEL_HOST, ""))
                if record.host != host_tag() or not record.owner_gone():
                    continue
                if record.key and registry.read(record.key) is not None:
                    continue  # registry.reap_stale removes it and says so
                _remove(container)
                removed.append(f"container {container.name} of run {record.run_id} "
                               f"(pid {record.owner_pid} is gone)")
        return removed
