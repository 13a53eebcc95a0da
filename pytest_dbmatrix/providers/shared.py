"""One server per backend and run, whatever the number of xdist workers.

The first worker to take the backend's lock starts the server and records it; the others find
the record and use the same server, each in a database of its own (made by the provisioner).
Each worker holds a lease; the last to release it stops the server. A server kept by
`dbmatrix up` is used as it is and never stopped by a run.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from sqlalchemy.engine import make_url

from pytest_dbmatrix.providers import registry
from pytest_dbmatrix.providers.base import BackendUnavailable, ProvideContext, ProviderRun, Server
from pytest_dbmatrix.providers.registry import KEPT, Record
from pytest_dbmatrix.settings import BackendSpec

REMOVED = "removed, left by killed runs"
Start = Callable[[Record], Record]
"""Start a server for a fresh record (key, backend, owner filled in); the completed record."""


def record_key(run_id: str, provider: str, backend: str) -> str:
    return f"{run_id}-{provider}-{re.sub(r'[^a-z0-9_]', '_', backend.lower())[:30]}"


def obtain(spec: BackendSpec, context: ProvideContext, provider: str, start: Start) -> Server:
    """A server of `provider` for `spec`: kept, already started by this run, or started now."""
    try:
        registry.base_dir()
    except (OSError, RuntimeError) as exc:
        raise BackendUnavailable(spec.name, f"cannot record servers: {exc}") from None
    run = context.provider_run
    reaped = reap_once(run)
    forced = provider if spec.provider else None
    kept = None if context.run_id == KEPT else find_kept(spec.name, forced, run)
    if kept is not None:
        return _server(kept, context, reaped, lease=False)
    key = record_key(context.run_id, provider, spec.name)
    with registry.locked(key):
        record = registry.read(key)
        if record and record.state == "failed":
            raise BackendUnavailable(spec.name, record.reason)
        if record and (record.state != "ready" or not _alive(record, run)):
            registry.destroy(record, run)
            record = None
        if record is None:
            record = _start(spec, context, provider, key, start)
        if context.run_id != KEPT:
            registry.add_lease(key, context.worker)
    return _server(record, context, reaped, lease=context.run_id != KEPT)


def _start(spec: BackendSpec, context: ProvideContext, provider: str, key: str,
           start: Start) -> Record:
    fresh = Record(key, spec.name, provider, context.run_id)
    registry.write(fresh)
    try:
        record = start(fresh)
    except BackendUnavailable as exc:
        registry.forget(key)
        if context.worker != "main":  # the run's other workers get the reason, no retry
            registry.write(Record(key, spec.name, provider, context.run_id, state="failed",
                                  reason=exc.reason))
        raise
    except BaseException:
        registry.forget(key)
        raise
    record.state = "ready"
    registry.write(record)
    return record


def _alive(record: Record, run: ProviderRun) -> bool:
    try:
        return registry.provider_module(record.provider).is_alive(record, run)
    except Exception:
        return False


def _server(record: Record, context: ProvideContext, reaped: list[str], lease: bool) -> Server:
    kept = " kept by 'dbmatrix up'" if record.kept else ""
    source = f"{record.provider} server{kept or ' started for this run'}"
    server = Server(make_url(record.url), record.provider, source,
                    stop=_releaser(record.key, context) if lease else None)
    server.details["server"] = record.description + (f" ({kept.strip()})" if kept else "")
    if reaped:
        server.details[REMOVED] = "; ".join(reaped)
    return server


def _releaser(key: str, context: ProvideContext) -> Callable[[], None]:
    def release() -> None:
        with registry.locked(key):
            if registry.release_lease(key, context.worker):
                return
            record = registry.read(key)
            if record is not None:
                registry.destroy(record, context.provider_run)
            else:
                registry.forget(key)
            registry.unlock_file(key)
    return release


def find_kept(backend: str, provider: str | None, run: ProviderRun) -> Record | None:
    """The live server `dbmatrix up` started for `backend` (of `provider` when forced)."""
    for name in [provider] if provider else list(registry.MODULES):
        record = registry.read(record_key(KEPT, name, backend))
        if record is not None and record.state == "ready" and _alive(record, run):
            return record
    return None


def reap_once(run: ProviderRun) -> list[str]:
    """Reap what killed runs left, once per run; what was removed (reported once)."""
    with run.reap_lock:
        if run.records_reaped:
            return []
        run.records_reaped = True
        return registry.reap_stale(run)
