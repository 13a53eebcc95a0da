"""The `dbmatrix` marker: only, skip and xfail per backend, with version predicates.

Imported only for tests that carry the marker, and with it the predicates of `exclusions`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pytest

from pytest_dbmatrix.exclusions import Identity, Predicate, parse_predicate
from pytest_dbmatrix.options import MARKER

_ARGS = ("only", "skip", "xfail")


class MarkerError(ValueError):
    """The marker's arguments cannot be understood."""


@dataclass(frozen=True)
class Rule:
    predicate: Predicate
    reason: str


@dataclass(frozen=True)
class Rules:
    only: tuple[Predicate, ...] = ()
    skip: tuple[Rule, ...] = ()
    xfail: tuple[Rule, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.only or self.skip or self.xfail)


@dataclass(frozen=True)
class Decision:
    """What to do with a test on one backend; `undecided` means: ask the server."""

    action: str  # "run", "skip", "xfail" or "undecided"
    reason: str = ""


def _rules(value: object, what: str) -> tuple[Rule, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if isinstance(value, Mapping):
        pairs: Iterable[tuple[object, object]] = value.items()
    elif isinstance(value, Iterable):
        pairs = [(v, "") for v in value]
    else:
        raise MarkerError(f"{what}= takes a name, a list of names or a dict, not {value!r}")
    rules = []
    for pred, reason in pairs:
        if not isinstance(reason, str):
            raise MarkerError(f"{what}= reason for {pred!r} must be a string, not {reason!r}")
        try:
            rules.append(Rule(parse_predicate(pred), reason))
        except ValueError as exc:
            raise MarkerError(f"{what}=: {exc}") from None
    return tuple(rules)


def rules_for(node: pytest.Item | pytest.Function) -> Rules:
    """Collect the rules of every dbmatrix marker on the node (closest first)."""
    only: list[Predicate] = []
    skip: list[Rule] = []
    xfail: list[Rule] = []
    for mark in node.iter_markers(MARKER):
        if mark.args:
            raise MarkerError(
                f"@pytest.mark.dbmatrix takes keyword arguments only ({', '.join(_ARGS)}=), "
                f"got positional {mark.args!r}"
            )
        unknown = set(mark.kwargs) - set(_ARGS)
        if unknown:
            raise MarkerError(
                f"@pytest.mark.dbmatrix got unknown argument(s) {', '.join(sorted(unknown))}; "
                f"accepted: {', '.join(_ARGS)}"
            )
        only += [r.predicate for r in _rules(mark.kwargs.get("only"), "only")]
        skip += _rules(mark.kwargs.get("skip"), "skip")
        xfail += _rules(mark.kwargs.get("xfail"), "xfail")
    return Rules(tuple(only), tuple(skip), tuple(xfail))


def _first(rules: Iterable[Rule], target: Identity) -> Rule | bool | None:
    """The first matching rule, None when none matches, False when the server must decide."""
    for rule in rules:
        hit = rule.predicate.matches(target)
        if hit is None:
            return False
        if hit:
            return rule
    return None


def decide(rules: Rules, target: Identity) -> Decision:
    """Apply only, then skip, then xfail; undecided while a predicate needs the server."""
    if rules.only:
        hits = [p.matches(target) for p in rules.only]
        if not any(hits):
            if None in hits:
                return Decision("undecided")
            names = ", ".join(p.text for p in rules.only)
            return Decision("skip", f"dbmatrix: only on {names}")
    for action, group in (("skip", rules.skip), ("xfail", rules.xfail)):
        found = _first(group, target)
        if found is False:
            return Decision("undecided")
        if isinstance(found, Rule):
            reason = found.reason or f"dbmatrix: {action} on {found.predicate.text}"
            return Decision(action, reason)
    return Decision("run")
