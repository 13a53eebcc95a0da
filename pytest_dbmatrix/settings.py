"""Resolve options from command line, then environment, then ini, recording the source."""

from __future__ import annotations

import os
from typing import Any, NamedTuple, TypeVar

import pytest
from sqlalchemy.engine import URL, make_url

from pytest_dbmatrix.backends import FAMILIES, KNOWN, Backend, family_for
from pytest_dbmatrix.options import Option, Options, Pairs, Sourced
from pytest_dbmatrix.redact import scrub

T = TypeVar("T")
PROVIDERS = ("url", "docker", "local")


class BackendSpec(NamedTuple):
    """One selected backend: a name, its family, and how to get a server for it."""

    name: str
    family: Backend
    url: Sourced[URL] | None = None
    provider: Sourced[str] | None = None
    image: Sourced[str] | None = None
    async_driver: Sourced[str] | None = None
    """The driver of the db_async_* fixtures when chosen; else the family's default."""
    driver: str | None = None
    """The driver a driver column names (`postgresql+asyncpg`): the column runs the fixtures
    that driver can serve, sync or async, and skips the others."""

    @property
    def base_name(self) -> str:
        """The name without its driver: where the URL comes from."""
        return self.name.partition("+")[0]

    @property
    def env_var(self) -> str:
        return env_var_for(self.base_name)

    @property
    def serves_sync(self) -> bool:
        return self.driver is None or self.driver in self.family.sync_drivers

    @property
    def serves_async(self) -> bool:
        return self.driver is None or self.driver in self.family.async_drivers

    def unserved(self, fixtures: str) -> str | None:
        """Why this column skips the `sync` or `async` fixtures; None when it runs them."""
        if fixtures == "async":
            if self.serves_async:
                return None
            kind, runs, other = "sync", "sync", "db_async_*"
            drivers = f"an async driver ({', '.join(self.family.async_drivers)})"
        else:
            if self.serves_sync:
                return None
            kind, runs, other = "async", "db_async_*", "sync"
            drivers = f"a sync driver ({', '.join(self.family.sync_drivers)})"
        return (f"dbmatrix: backend {self.name!r} is the {kind} driver {self.driver}: it runs "
                f"the {runs} fixtures; the {other} ones run on the columns of {drivers}")

    def sync_url(self, url: URL) -> URL:
        """`url` through the column's driver when that driver is sync."""
        return self.family.with_driver(url, self.driver) if self.driver and (
            self.driver in self.family.sync_drivers) else url


class Settings(Options):
    """Every row of `Options` as `Sourced` (`settings.strict.value`), plus what is derived
    from several rows: the backend specs and the passwords to scrub."""

    def __init__(self, values: dict[str, Sourced[Any]], specs: dict[str, BackendSpec],
                 secrets: tuple[str, ...] = ()) -> None:
        missing = {o.name for o in Options.rows()} - values.keys()
        if missing:
            raise TypeError(f"Settings lacks {', '.join(sorted(missing))}")
        self.values = values
        self.specs = specs
        self.secrets = secrets


def env_var_for(name: str) -> str:
    return f"DBMATRIX_{name.upper().replace('-', '_')}_URL"


def _raw(config: pytest.Config, opt: Option[Any]) -> tuple[Any, str] | None:
    cli = getattr(config.option, opt.dest, None)
    if cli not in (None, []):
        return cli, f"option {opt.flag}"
    if opt.env and os.environ.get(opt.env, "").strip():
        return os.environ[opt.env], f"env {opt.env}"
    value = config.getini(opt.ini)  # None when unset: every ini is declared with default None
    if value is not None:
        return value, f"ini {opt.ini}"
    return None


def _sourced(config: pytest.Config, opt: Option[T]) -> Sourced[T]:
    """One row's value: CLI > env > ini > default, parsed, with the source recorded."""
    if opt.repeatable:
        return _merged(config, opt)
    found = _raw(config, opt)
    if found is None:
        return Sourced(opt.default, "default")
    value, source = found
    try:
        return Sourced(opt.parse(value), source)
    except (TypeError, ValueError) as exc:
        raise pytest.UsageError(f"dbmatrix: bad value for {source}: {exc}") from None


def _merged(config: pytest.Config, opt: Option[T]) -> Sourced[T]:
    """NAME=VALUE rows: the ini list, overridden per name by the repeated option."""
    entries = [(entry, f"ini {opt.ini}") for entry in config.getini(opt.ini) or []]
    cli = getattr(config.option, opt.dest, None) or []
    entries += [(entry, f"option {opt.flag}") for entry in cli]
    source = entries[-1][1] if entries else "default"
    return Sourced(opt.parse(entries), source)


def _url_for(name: str, pairs: Pairs) -> Sourced[str] | None:
    if name in pairs and pairs[name].source.startswith("option"):
        return pairs[name]
    env = os.environ.get(env_var_for(name), "").strip()
    if env:
        return Sourced(env, f"env {env_var_for(name)}")
    return pairs.get(name)


def _parse_url(name: str, raw: Sourced[str]) -> Sourced[URL]:
    try:
        url = make_url(raw.value)
    except Exception as exc:
        raise pytest.UsageError(
            f"dbmatrix: cannot parse the URL of backend {name!r} from {raw.source}: "
            f"{scrub(str(exc))}. Expected dialect+driver://user:password@host:port/database"
        ) from None
    return Sourced(url, raw.source)


def _async_driver(name: str, family: Backend, drivers: Pairs) -> Sourced[str] | None:
    chosen = drivers.get(name)
    if chosen and chosen.value not in family.async_drivers:
        known = ", ".join(family.async_drivers) or "none"
        raise pytest.UsageError(
            f"dbmatrix: {chosen.source} gives async driver {chosen.value!r} for {name!r}; "
            f"the {family.kind} family has {known}"
        )
    return chosen


def _spec(name: str, urls: Pairs, providers: Pairs, images: Pairs,
          drivers: Pairs) -> BackendSpec:
    base, _, driver = name.partition("+")
    raw = (urls.get(name) if driver else None) or _url_for(base, urls)
    url = _parse_url(name, raw) if raw else None
    family = family_for(base, url.value.get_backend_name() if url else None)
    named = family_for(base)
    if family is None:
        raise pytest.UsageError(
            f"dbmatrix: unknown backend {name!r}: known are {', '.join(KNOWN)}; a named backend "
            f"must start with one of them (postgresql16) or have a URL "
            f"(--dbmatrix-url {name}=URL or {env_var_for(name)})"
        )
    if named and url and not named.reaches(family.kind):
        raise pytest.UsageError(
            f"dbmatrix: backend {name!r} has a {family.kind} URL from {url.source}; "
            f"use a {named.kind} URL or another backend name"
        )
    provider = providers.get(name)
    if provider and provider.value not in PROVIDERS:
        raise pytest.UsageError(
            f"dbmatrix: {provider.source} gives provider {provider.value!r} for {name!r}; "
            f"choose one of {', '.join(PROVIDERS)}"
        )
    chosen = _async_driver(name, family, drivers)
    if driver:
        if driver not in family.drivers():
            raise pytest.UsageError(
                f"dbmatrix: backend {name!r} names the driver {driver!r}, which dbmatrix does "
                f"not know for {family.kind}: choose one of "
                f"{', '.join(f'{base}+{d}' for d in family.drivers())}")
        if driver in family.async_drivers:
            chosen = Sourced(driver, f"backend name {name}")
        if url and driver in family.sync_drivers:
            url = Sourced(family.with_driver(url.value, driver), url.source)
    return BackendSpec(name, family, url, provider, images.get(name), chosen, driver or None)


def resolve(config: pytest.Config) -> Settings:
    """Every setting of the plugin, validated, with its source."""
    values = {opt.name: _sourced(config, opt) for opt in Options.rows()}
    backends = values["backends"]
    if not backends.value:
        raise pytest.UsageError(f"dbmatrix: {backends.source} selects no backend")
    urls, providers, images, drivers = (
        values[k].value for k in ("urls", "providers", "images", "async_drivers"))
    specs = {name: _spec(name, urls, providers, images, drivers) for name in backends.value}
    secrets = tuple(
        str(s.url.value.password) for s in specs.values() if s.url and s.url.value.password
    )
    return Settings(values, specs, secrets)


__all__ = ["FAMILIES", "BackendSpec", "Settings", "Sourced", "env_var_for", "resolve"]
