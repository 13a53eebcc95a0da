"""Resolve options from command line, then environment, then ini, recording the source."""

from __future__ import annotations

import os
from typing import Any, Generic, NamedTuple, TypeVar

import pytest
from sqlalchemy.engine import URL, make_url

from pytest_dbmatrix.backends import FAMILIES, KNOWN, Backend, family_for
from pytest_dbmatrix.options import OPTIONS, Option
from pytest_dbmatrix.redact import scrub

T = TypeVar("T")
OPTION_BY_INI = {o.ini: o for o in OPTIONS}
PROVIDERS = ("url", "docker", "local")


class Sourced(NamedTuple, Generic[T]):
    """A setting's value and where it came from ("option --dbmatrix", "env ...", "default")."""

    value: T
    source: str


class BackendSpec(NamedTuple):
    """One selected backend: a name, its family, and how to get a server for it."""

    name: str
    family: Backend
    url: Sourced[URL] | None = None
    provider: Sourced[str] | None = None
    image: Sourced[str] | None = None
    async_driver: Sourced[str] | None = None
    """The driver of the db_async_* fixtures when chosen; else the family's default."""

    @property
    def env_var(self) -> str:
        return env_var_for(self.name)


class Settings(NamedTuple):
    backends: Sourced[tuple[str, ...]]
    specs: dict[str, BackendSpec]
    strict: Sourced[bool]
    connect_timeout: Sourced[float]
    sqlite_foreign_keys: Sourced[bool]
    metadata: Sourced[str | None]
    report: Sourced[str | None]
    summary: Sourced[str]
    docker_network: Sourced[str]
    conformance: Sourced[bool]
    alembic_ini: Sourced[str | None]
    html: Sourced[str | None]
    secrets: tuple[str, ...] = ()
    alembic_checks: Sourced[tuple[str, ...]] = Sourced(("all",), "default")
    alembic_offline: Sourced[tuple[str, ...]] = Sourced(("mssql", "oracle"), "default")
    alembic_sql_dir: Sourced[str | None] = Sourced(None, "default")
    sqlite_durable: Sourced[bool] = Sourced(False, "default")
    statement_timeout: Sourced[float | None] = Sourced(None, "default")
    lock_timeout: Sourced[float] = Sourced(10.0, "default")
    dead_host_timeout: Sourced[float] = Sourced(60.0, "default")
    leaks: Sourced[str] = Sourced("error", "default")


def env_var_for(name: str) -> str:
    return f"DBMATRIX_{name.upper().replace('-', '_')}_URL"


def _raw(config: pytest.Config, opt: Option) -> tuple[Any, str] | None:
    cli = getattr(config.option, opt.dest, None)
    if cli not in (None, []):
        return cli, f"option {opt.flag}"
    if opt.env and os.environ.get(opt.env, "").strip():
        return os.environ[opt.env], f"env {opt.env}"
    value = config.getini(opt.ini)  # None when unset: every ini is declared with default None
    if value is not None:
        return value, f"ini {opt.ini}"
    return None


def _sourced(config: pytest.Config, ini: str, default: T, convert: Any = None) -> Sourced[T]:
    opt = OPTION_BY_INI[ini]
    found = _raw(config, opt)
    if found is None:
        return Sourced(default, "default")
    value, source = found
    try:
        return Sourced(convert(value) if convert else value, source)
    except (TypeError, ValueError) as exc:
        raise pytest.UsageError(f"dbmatrix: bad value for {source}: {exc}") from None


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"{value!r} is not a boolean (use on/off)")


def _positive(value: Any) -> float:
    number = float(value)
    if number <= 0:
        raise ValueError(f"{value!r} must be a positive number of seconds")
    return number


def _leaks(value: Any) -> str:
    text = str(value).strip().lower()
    if text not in ("error", "warn"):
        raise ValueError(f"{value!r} is not error or warn")
    return text


def _names(value: Any) -> tuple[str, ...]:
    items = value if isinstance(value, list | tuple) else [value]
    names = [n.strip().lower() for item in items for n in str(item).split(",") if n.strip()]
    if "all" in names:
        names = [n for n in names if n != "all"] + [k for k in KNOWN if k not in names]
    return tuple(dict.fromkeys(names))


def _items(value: Any) -> tuple[str, ...]:
    """A comma/space separated list, kept in order without duplicates."""
    items = value if isinstance(value, list | tuple) else [value]
    names = [n.strip().lower() for item in items for n in str(item).split(",") if n.strip()]
    return tuple(dict.fromkeys(names))


def _pairs(config: pytest.Config, ini: str) -> dict[str, Sourced[str]]:
    """NAME=VALUE pairs from the ini list, overridden by the repeatable option."""
    opt = OPTION_BY_INI[ini]
    result: dict[str, Sourced[str]] = {}
    layers = [(config.getini(ini) or [], f"ini {ini}"),
              (getattr(config.option, opt.dest, None) or [], f"option {opt.flag}")]
    for entries, source in layers:
        for entry in entries:
            name, sep, value = str(entry).partition("=")
            if not sep or not name.strip() or not value.strip():
                raise pytest.UsageError(
                    f"dbmatrix: {source} expects NAME=VALUE, got {scrub(str(entry))!r}"
                )
            result[name.strip().lower()] = Sourced(value.strip(), source)
    return result


def _url_for(name: str, pairs: dict[str, Sourced[str]]) -> Sourced[str] | None:
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


def _async_driver(name: str, family: Backend,
                  drivers: dict[str, Sourced[str]]) -> Sourced[str] | None:
    chosen = drivers.get(name)
    if chosen and chosen.value not in family.async_drivers:
        known = ", ".join(family.async_drivers) or "none"
        raise pytest.UsageError(
            f"dbmatrix: {chosen.source} gives async driver {chosen.value!r} for {name!r}; "
            f"the {family.kind} family has {known}"
        )
    return chosen


def _spec(name: str, urls: dict[str, Sourced[str]], providers: dict[str, Sourced[str]],
          images: dict[str, Sourced[str]], drivers: dict[str, Sourced[str]]) -> BackendSpec:
    raw = _url_for(name, urls)
    url = _parse_url(name, raw) if raw else None
    family = family_for(name, url.value.get_backend_name() if url else None)
    named = family_for(name)
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
    return BackendSpec(name, family, url, provider, images.get(name),
                       _async_driver(name, family, drivers))


def resolve(config: pytest.Config) -> Settings:
    """Every setting of the plugin, validated, with its source."""
    backends: Sourced[tuple[str, ...]] = _sourced(config, "dbmatrix_backends", ("sqlite",), _names)
    if not backends.value:
        raise pytest.UsageError(f"dbmatrix: {backends.source} selects no backend")
    urls = _pairs(config, "dbmatrix_urls")
    providers = _pairs(config, "dbmatrix_providers")
    images = _pairs(config, "dbmatrix_images")
    drivers = _pairs(config, "dbmatrix_async_drivers")
    specs = {name: _spec(name, urls, providers, images, drivers) for name in backends.value}
    secrets = tuple(
        s.url.value.password for s in specs.values() if s.url and s.url.value.password
    )
    return Settings(
        backends=backends,
        specs=specs,
        strict=_sourced(config, "dbmatrix_strict", False, _bool),
        connect_timeout=_sourced(config, "dbmatrix_connect_timeout", 10.0, _positive),
        sqlite_foreign_keys=_sourced(config, "dbmatrix_sqlite_foreign_keys", True, _bool),
        sqlite_durable=_sourced(config, "dbmatrix_sqlite_durable", False, _bool),
        metadata=_sourced(config, "dbmatrix_metadata", None, str),
        report=_sourced(config, "dbmatrix_report", None, str),
        summary=_sourced(config, "dbmatrix_summary", "auto", str),
        docker_network=_sourced(config, "dbmatrix_docker_network", "ports", str),
        conformance=_sourced(config, "dbmatrix_conformance", False, _bool),
        alembic_ini=_sourced(config, "dbmatrix_alembic_ini", None, str),
        html=_sourced(config, "dbmatrix_html", None, str),
        secrets=tuple(str(s) for s in secrets),
        alembic_checks=_sourced(config, "dbmatrix_alembic_checks", ("all",), _items),
        alembic_offline=_sourced(config, "dbmatrix_alembic_offline", ("mssql", "oracle"),
                                 _items),
        alembic_sql_dir=_sourced(config, "dbmatrix_alembic_sql_dir", None, str),
        statement_timeout=_sourced(config, "dbmatrix_statement_timeout", None, _positive),
        lock_timeout=_sourced(config, "dbmatrix_lock_timeout", 10.0, _positive),
        dead_host_timeout=_sourced(config, "dbmatrix_dead_host_timeout", 60.0, _positive),
        leaks=_sourced(config, "dbmatrix_leaks", "error", _leaks),
    )


__all__ = ["FAMILIES", "BackendSpec", "Settings", "Sourced", "env_var_for", "resolve"]
