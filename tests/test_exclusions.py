"""Unit tests of backend predicates and marker decisions."""

from __future__ import annotations

import pytest

from pytest_dbmatrix.exclusions import Identity, parse_predicate
from pytest_dbmatrix.markers import Rule, Rules, decide

MARIADB_AS_MYSQL = Identity("mysql", "mysql", "mysql", "mariadb", (10, 11, 19))
MYSQL_8 = Identity("mysql", "mysql", "mysql", "mysql", (8, 0, 15))


@pytest.mark.parametrize(("text", "target", "expected"), [
    ("mysql", MYSQL_8, True),
    ("mysql<8.0.16", MYSQL_8, True),
    ("mysql<8.0.16", Identity("mysql", "mysql", "mysql", "mysql", (8, 0, 16)), False),
    ("mysql>=8", MYSQL_8, True),
    ("mariadb", MARIADB_AS_MYSQL, True),
    ("mariadb", MYSQL_8, False),
    ("mariadb>=10.11", MARIADB_AS_MYSQL, True),
    ("mariadb==10.11", MARIADB_AS_MYSQL, False),
    ("postgresql", MYSQL_8, False),
    ("mysql!=8", Identity("mysql", "mysql", "mysql", "mysql", (8,)), False),
])
def test_live_matching(text: str, target: Identity, expected: bool) -> None:
    assert parse_predicate(text).matches(target) is expected


def test_static_matching_defers_what_needs_the_server() -> None:
    static = Identity("mysql", "mysql")
    assert parse_predicate("mysql").matches(static) is True
    assert parse_predicate("mysql<8").matches(static) is None
    assert parse_predicate("mariadb").matches(static) is None
    assert parse_predicate("postgresql").matches(static) is False


@pytest.mark.parametrize("bad", ["", "mysql<", "<8", "my sql", "mysql<8.x", 5])
def test_bad_predicates(bad: object) -> None:
    with pytest.raises(ValueError, match="backend"):
        parse_predicate(bad)


def test_decide_order_and_undecided() -> None:
    rules = Rules(skip=(Rule(parse_predicate("mysql<8"), "old"),),
                  xfail=(Rule(parse_predicate("mysql"), "known"),))
    assert decide(rules, Identity("mysql", "mysql")).action == "undecided"
    assert decide(rules, MYSQL_8).action == "xfail"
    assert decide(rules, Identity("mysql", "mysql", "mysql", "mysql", (5, 7))).reason == "old"
    only = Rules(only=(parse_predicate("postgresql"),))
    assert decide(only, Identity("sqlite", "sqlite")).action == "skip"
    assert decide(Rules(), MYSQL_8).action == "run"
