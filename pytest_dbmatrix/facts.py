"""Environment facts of a database (charset, strictness, FKs, time zone, ...): each family's
`facts.py` gathers its own, read through a `Probe` so that recorded answers can stand in for a
server; this module runs them, grades the version, and words facts for the header."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection

from pytest_dbmatrix.backends import LIVE, Backend, for_dialect
from pytest_dbmatrix.backends.base import ServerInfo
from pytest_dbmatrix.backends.environment import (
    VERDICTS,
    Fact,
    Probe,
    ProbeError,
    Verdict,
    scalar,
)

__all__ = ["VERDICTS", "ConnectionProbe", "Fact", "Probe", "ProbeError", "Verdict", "environment",
           "scalar", "version_fact"]


class ConnectionProbe:
    """A `Probe` over a SQLAlchemy connection; a failed statement never poisons the next."""

    def __init__(self, conn: Connection, secrets: Iterable[str] = ()) -> None:
        self.conn = conn
        self.secrets = tuple(secrets)

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        try:
            result = self.conn.exec_driver_sql(sql)
            return [tuple(r) for r in result] if result.returns_rows else []
        except sa_exc.DBAPIError as exc:
            if self.conn.in_transaction():
                self.conn.rollback()
            from pytest_dbmatrix.errors import normalise  # only when a probe fails

            raise ProbeError(normalise(exc, self.secrets).line) from None


def server_info(probe: Probe, dialect: str) -> ServerInfo:
    """Product and version as the server states them."""
    return _family(dialect).probe_server_info(probe)


def version_fact(info: ServerInfo, minimum: tuple[int, ...] | None = None,
                 family: Backend | None = None) -> Fact:
    """Whether the server is one still supported (`family`'s minimum unless `minimum`)."""
    least = minimum or (family.min_version if family else ())
    wanted = ".".join(map(str, least))
    if not least or info.version >= least:
        return Fact("version_supported", "supported version", True, "ok",
                    f"{info.label} >= {wanted}" if least else info.label)
    return Fact("version_supported", "supported version", False, "block",
                f"{info.label} is older than {info.product} {wanted}", "version-unsupported")


def _family(dialect: str) -> Backend:
    family = for_dialect(dialect)
    if family is None or not family.fact_gatherers():
        raise ValueError(f"no environment facts for dialect {dialect!r}: known are "
                         f"{', '.join(LIVE)}")
    return family


def environment(probe: Probe, dialect: str, info: ServerInfo | None = None,
                minimum: tuple[int, ...] | None = None) -> list[Fact]:
    """Every fact of the family; a topic that cannot be read becomes a `warn` fact."""
    family = _family(dialect)
    found: list[Fact] = []
    try:
        info = info or family.probe_server_info(probe)
        found += [Fact("server", "server", info.label, "info", info.product),
                  version_fact(info, minimum, family.served_by(info))]
    except ProbeError as exc:
        found.append(Fact("server", "server", None, "warn", f"cannot be read: {exc}"))
    for gather in family.fact_gatherers():
        try:
            found += gather(probe)
        except (ProbeError, IndexError, TypeError, ValueError) as exc:
            topic = gather.__name__.strip("_").replace("_", " ")
            found.append(Fact(f"unreadable_{gather.__name__.strip('_')}", topic, None, "warn",
                              f"cannot be read: {exc}"))
    return found


def connection_environment(conn: Connection, info: ServerInfo | None = None,
                           secrets: Iterable[str] = ()) -> dict[str, dict[str, Any]]:
    """The facts of a live connection, keyed by fact key: what reports show per backend."""
    probe = ConnectionProbe(conn, secrets)
    return {f.key: f.as_dict() for f in environment(probe, conn.dialect.name, info)}


def summary_line(environment: dict[str, dict[str, Any]]) -> str:
    """One line of `label value` pairs for the pytest header."""
    parts = []
    for fact in environment.values():
        if fact["key"] in ("server", "version_supported"):
            continue
        value = fact["value"]
        shown = "yes" if value is True else "no" if value is False else value
        parts.append(f"{fact['label']} {shown if shown is not None else 'n/a'}")
    return ", ".join(parts)


def problem_lines(environment: dict[str, dict[str, Any]]) -> list[str]:
    """A line per warn/block fact: what and the fix."""
    return [f"{f['verdict']}: {f['label']}: {f['detail']}" + (f"; fix: {f['hint']}"
                                                               if f.get("hint") else "")
            for f in environment.values() if f["verdict"] in ("warn", "block")]
