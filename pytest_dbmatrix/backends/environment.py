"""The vocabulary of environment facts, shared by every family's `facts.py`: a `Fact`, the
`Probe` that answers SQL (a live connection or recorded answers), and the builders of the facts
every family states (case sensitivity, time zone, transactional DDL, identifier limit)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, Protocol

Verdict = Literal["ok", "info", "warn", "block"]
VERDICTS: tuple[Verdict, ...] = ("ok", "info", "warn", "block")
UTC_NAMES = frozenset({"utc", "etc/utc", "gmt", "etc/gmt", "z", "+00:00", "zulu", "universal"})


class ProbeError(Exception):
    """A statement failed; the message is one normalised line without secrets."""


class Probe(Protocol):
    """Runs one SQL statement and returns its rows ([] when it returns none)."""

    def rows(self, sql: str) -> list[tuple[Any, ...]]: ...


def scalar(probe: Probe, sql: str) -> Any:
    rows = probe.rows(sql)
    return rows[0][0] if rows and rows[0] else None


def numbers(text: str) -> tuple[int, ...]:
    """The leading dotted version of a server's version text ("10.11.6-MariaDB" -> 10.11.6)."""
    match = re.match(r"\d+(?:\.\d+)*", text.strip())
    return tuple(int(p) for p in match.group(0).split(".")) if match else ()


class Fact(NamedTuple):
    """One checked property: its value, a verdict, and the finding (hint) when not ok."""

    key: str
    label: str
    value: Any
    verdict: Verdict = "info"
    detail: str = ""
    finding: str | None = None

    @property
    def hint(self) -> str | None:
        if not self.finding:
            return None
        from pytest_dbmatrix.catalogue import hint_for  # the catalogue, only for a finding

        return hint_for(self.finding)

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "label": self.label, "value": self.value,
                "verdict": self.verdict, "detail": self.detail, "finding": self.finding,
                "hint": self.hint}


Gatherer = Callable[[Probe], list[Fact]]
"""Reads one topic of a family's environment: its facts."""


def case_fact(case_sensitive: bool, collation: str) -> Fact:
    if case_sensitive:
        return Fact("case_sensitive", "case-sensitive compare", True, "ok",
                    f"'a' = 'A' is false under {collation}")
    return Fact("case_sensitive", "case-sensitive compare", False, "warn",
                f"'a' = 'A' is true under {collation}", "collation-case-insensitive")


def time_zone_fact(name: str, source: str) -> Fact:
    if name.strip().lower() in UTC_NAMES:
        return Fact("time_zone", "time zone", name, "ok", source)
    return Fact("time_zone", "time zone", name, "warn", source, "time-zone-not-utc")


def ddl_fact(transactional: bool, how: str) -> Fact:
    if transactional:
        return Fact("transactional_ddl", "transactional DDL", True, "ok", how)
    return Fact("transactional_ddl", "transactional DDL", False, "warn", how,
                "non-transactional-ddl")


def identifiers_fact(limit: int | None, detail: str) -> Fact:
    return Fact("identifier_limit", "identifier length limit", limit, "info", detail)


def double_quoted(name: str) -> str:
    return f'"{name}"'


@dataclass(frozen=True)
class ScratchDialect:
    """How a family spells the doctor's scratch statements; {c} container, {t} table,
    {i} index, {qi} the index qualified by its container."""

    quote: Callable[[str], str]
    create_container: str | None
    drop_container: str | None
    begin: str
    add_column: str = "ALTER TABLE {t} ADD COLUMN note INTEGER"
    drop_index: str = "DROP INDEX {qi}"
