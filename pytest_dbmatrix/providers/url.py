"""The URL provider: the server the user named, used as it is."""

from __future__ import annotations

from pytest_dbmatrix.providers.base import BackendUnavailable, ProvideContext, Server
from pytest_dbmatrix.settings import BackendSpec


def provide(spec: BackendSpec, context: ProvideContext) -> Server:
    if spec.url is None:
        raise BackendUnavailable(spec.name, no_url_reason(spec))
    return Server(spec.url.value, "url", spec.url.source)


def no_url_reason(spec: BackendSpec) -> str:
    return (
        f"no URL given: pass --dbmatrix-url {spec.name}=URL, set {spec.env_var}, or add "
        f"'{spec.name}=URL' to ini dbmatrix_urls"
    )
