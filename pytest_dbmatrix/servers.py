"""`dbmatrix up | down | status`: servers started ahead of test runs, for fast local iteration.

`up` starts the configured backends (same options, environment and ini file as pytest) with the
provider chain of the plugin and keeps them: runs with no URL for a backend use the kept server,
and `<state dir>/up.env` exports their URLs (it holds the passwords, so they are not printed).
`down` stops them and removes what killed runs left; `status` lists every recorded server.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from pytest_dbmatrix import providers
from pytest_dbmatrix.providers import registry, shared
from pytest_dbmatrix.providers.base import BackendUnavailable, ProvideContext, ProviderRun
from pytest_dbmatrix.providers.registry import KEPT, Record
from pytest_dbmatrix.redact import mask_url
from pytest_dbmatrix.settings import BackendSpec, Settings, env_var_for, resolve

ENV_FILE = "up.env"


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    if name == "up":
        parser.add_argument("--dbmatrix", dest="backends", metavar="NAMES",
                            help="backends to start, as for pytest (default: dbmatrix_backends "
                                 "of the ini file, or DBMATRIX_BACKENDS)")
        parser.add_argument("--dbmatrix-provider", dest="providers", action="append",
                            default=[], metavar="NAME=PROVIDER",
                            help="force docker or local for a backend (repeatable)")
        parser.add_argument("--dbmatrix-image", dest="images", action="append", default=[],
                            metavar="NAME=IMAGE", help="container image of a backend")
        parser.add_argument("--dbmatrix-docker-network", dest="docker_network",
                            choices=("ports", "host"), help="container networking")
        parser.add_argument("-c", dest="inifile", metavar="FILE",
                            help="the pytest configuration file to read")
    elif name == "down":
        parser.add_argument("names", nargs="*", metavar="NAME",
                            help="backends to stop (default: all started by 'up')")


def run_up(args: argparse.Namespace) -> int:
    try:
        settings = _settings(args)
    except pytest.UsageError as exc:
        print(exc, file=sys.stderr)
        return 2
    specs = [s for s in settings.specs.values() if s.family.server_backed]
    if not specs:
        print("dbmatrix up: no server backend selected: pass --dbmatrix=postgresql,mariadb "
              "or set dbmatrix_backends in the ini file", file=sys.stderr)
        return 2
    context = ProvideContext(KEPT, "main", registry.base_dir(), settings.connect_timeout.value,
                             ProviderRun(), settings.docker_network.value)
    with ThreadPoolExecutor(max_workers=len(specs)) as pool:
        results = list(pool.map(lambda spec: _up(spec, context), specs))
    for line, _ in results:
        print(line)
    _write_env_file()
    if any(ok for _, ok in results):
        print(f"\nexport their URLs (the file holds the passwords):  . {_env_path()}")
        print("pytest runs with no URL for these backends use them as well; stop them with: "
              "dbmatrix down")
    return 1 if any(ok is False for _, ok in results) else 0


def _up(spec: BackendSpec, context: ProvideContext) -> tuple[str, bool | None]:
    """A line to print, and whether a server runs (None: nothing to start)."""
    if spec.url is not None:
        return f"{spec.name}: given by {spec.url.source}; nothing to start", None
    running = shared.find_kept(spec.name, spec.provider.value if spec.provider else None,
                               context.provider_run)
    try:
        server = providers.provide(spec, context)
    except BackendUnavailable as exc:
        return f"{spec.name}: cannot start: {exc.reason}", False
    word = "already running" if running else "started"
    return f"{spec.name}: {word}, {mask_url(server.url)}\n    {server.details['server']}", True


def _settings(args: argparse.Namespace) -> Settings:
    """The plugin's settings from these options, the environment and the project's ini file."""
    argv = ["-c", args.inifile] if args.inifile else []
    if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        argv += ["-p", "pytest_dbmatrix.plugin"]
    if args.backends:
        argv.append(f"--dbmatrix={args.backends}")
    argv += [f"--dbmatrix-provider={p}" for p in args.providers]
    argv += [f"--dbmatrix-image={i}" for i in args.images]
    if args.docker_network:
        argv.append(f"--dbmatrix-docker-network={args.docker_network}")
    config = pytest.Config.fromdictargs({}, argv)
    return resolve(config)


def run_down(args: argparse.Namespace) -> int:
    wanted = {n.lower() for n in args.names}
    run = ProviderRun()
    stopped = 0
    for record in registry.all_records():
        if record.kept and (not wanted or record.backend in wanted):
            registry.destroy(record, run)
            print(f"stopped {record.backend}: {record.description}")
            stopped += 1
    removed = registry.reap_stale(run) + _docker_orphans(run)
    for line in removed:
        print(f"removed, left by a killed run: {line}")
    _write_env_file()
    if not stopped and not removed:
        print("dbmatrix down: nothing to stop")
    return 0


def _docker_orphans(run: ProviderRun) -> list[str]:
    """Containers of killed runs without a record; only when an engine answers."""
    try:
        from pytest_dbmatrix.providers import docker

        return docker.reap_orphans(run, docker.engine(run, "down"))
    except (BackendUnavailable, ImportError):
        return []


def run_status(args: argparse.Namespace) -> int:
    records = [r for r in registry.all_records() if r.state != "failed"]
    if not records:
        print(f"dbmatrix: no servers recorded in {registry.base_dir()}")
        return 0
    print(f"dbmatrix servers recorded in {registry.base_dir()}:")
    run = ProviderRun()
    for record in records:
        print(f"  {record.backend}: {_state(record, run)}, {_owner(record)}")
        if record.url:
            print(f"    {mask_url(make_url(record.url))}")
        print(f"    {record.description}")
    return 0


def _state(record: Record, run: ProviderRun) -> str:
    if record.state != "ready":
        return record.state
    try:
        alive = registry.provider_module(record.provider).is_alive(record, run)
    except Exception as exc:
        return f"unknown ({exc})"
    return "running" if alive else "not running"


def _owner(record: Record) -> str:
    if record.kept:
        return "kept by 'dbmatrix up' (stop: dbmatrix down)"
    if record.owner_gone():
        return f"left by run {record.run_id} whose process is gone (removed by the next run " \
               f"or dbmatrix down)"
    return f"in use by run {record.run_id}"


def _env_path() -> Path:
    return registry.base_dir() / ENV_FILE


def _write_env_file() -> None:
    """Export lines for the kept servers, readable by this user only; no file when none."""
    lines = [f"export {env_var_for(r.backend)}={shlex.quote(r.url)}\n"
             for r in registry.all_records() if r.kept and r.state == "ready"]
    path = _env_path()
    if not lines:
        path.unlink(missing_ok=True)
        return
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.writelines(lines)
