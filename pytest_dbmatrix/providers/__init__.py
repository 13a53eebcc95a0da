"""The provider chain: explicit URL, else a container, else a server from local binaries."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from pytest_dbmatrix.providers.base import BackendUnavailable, ProvideContext, ProviderRun, Server
from pytest_dbmatrix.settings import BackendSpec

Provide = Callable[[BackendSpec, ProvideContext], Server]
MODULES = {
    "url": "pytest_dbmatrix.providers.url",
    "docker": "pytest_dbmatrix.providers.docker",
    "local": "pytest_dbmatrix.providers.local",
}


def _provider(name: str) -> Provide | None:
    try:
        module = importlib.import_module(MODULES[name])
    except ModuleNotFoundError as exc:
        if exc.name == MODULES[name]:
            return None
        raise
    provide: Provide = module.provide
    return provide


def provide(spec: BackendSpec, context: ProvideContext) -> Server:
    """The first provider that can serve `spec`; the reasons of all that could not, otherwise."""
    if spec.provider is not None:
        chain = [spec.provider.value]
    elif spec.url is not None:
        chain = ["url"]
    else:
        chain = list(MODULES)
    reasons = []
    for name in chain:
        provider = _provider(name)
        if provider is None:
            reasons.append(f"{name}: not available in this version")
            continue
        try:
            return provider(spec, context)
        except BackendUnavailable as exc:
            reasons.append(exc.reason if len(chain) == 1 else f"{name}: {exc.reason}")
    raise BackendUnavailable(spec.name, "; ".join(reasons))


__all__ = ["BackendUnavailable", "ProvideContext", "ProviderRun", "Server", "provide"]
