"""Unit tests of logic otherwise reached only through pytester runs: matrix row keys, marker
predicates (with hypothesis), enabled migration checks, revision op-call scanning and each
static rule of the conformance suite (cascade conflicts have theirs in test_conformance.py)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from pytest_dbmatrix.backends import FAMILIES
from pytest_dbmatrix.conformance.schema import SchemaPlan
from pytest_dbmatrix.conformance.static import check_table
from pytest_dbmatrix.exclusions import Identity, parse_predicate
from pytest_dbmatrix.migrations.plugin import enabled_checks
from pytest_dbmatrix.migrations.revision_scan import op_calls
from pytest_dbmatrix.run_state import test_key as row_key

# --- matrix rows -------------------------------------------------------------------------


@pytest.mark.parametrize(("nodeid", "backend", "row"), [
    ("t.py::test_a[sqlite]", "sqlite", "t.py::test_a"),
    ("t.py::test_a[1-postgresql]", "postgresql", "t.py::test_a[1]"),
    ("t.py::test_a[postgresql-x-y]", "postgresql", "t.py::test_a[x-y]"),
    ("t.py::test_a[postgresql+asyncpg]", "postgresql+asyncpg", "t.py::test_a"),
])
def test_a_row_is_the_node_id_without_its_backend(nodeid: str, backend: str, row: str) -> None:
    assert row_key(SimpleNamespace(nodeid=nodeid), backend) == row  # type: ignore[arg-type]


# --- marker predicates ---------------------------------------------------------------------

NAMES = st.sampled_from(["mysql", "mariadb", "postgresql", "sqlite", "mssql"])
VERSIONS = st.lists(st.integers(min_value=0, max_value=40), min_size=1, max_size=3).map(tuple)
OPS = st.sampled_from(["<", "<=", ">", ">=", "==", "!="])


@given(NAMES, OPS, VERSIONS, st.sampled_from(["", " ", "  "]))
def test_a_predicate_reads_back_what_it_was_written_from(name: str, op: str,
                                                         version: tuple[int, ...],
                                                         space: str) -> None:
    text = f"{name}{space}{op}{space}{'.'.join(map(str, version))}"
    predicate = parse_predicate(text.upper() if space else text)
    assert (predicate.name, predicate.op, predicate.version) == (name, op, version)


@given(NAMES, OPS, VERSIONS, VERSIONS)
def test_a_predicate_compares_versions_as_numbers(name: str, op: str, wanted: tuple[int, ...],
                                                  have: tuple[int, ...]) -> None:
    predicate = parse_predicate(f"{name}{op}{'.'.join(map(str, wanted))}")
    server = Identity(name, name, name, name, have)
    width = max(len(wanted), len(have))
    a, b = (have + (0,) * width)[:width], (wanted + (0,) * width)[:width]
    expected = {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b, "==": a == b,
                "!=": a != b}[op]
    assert predicate.matches(server) is expected
    assert predicate.matches(Identity(name, name)) is None  # the version needs the server


@given(st.text(max_size=20))
def test_anything_else_is_refused_with_the_accepted_form(text: str) -> None:
    try:
        predicate = parse_predicate(text)
    except ValueError as exc:
        assert "e.g. 'mysql<8.0.16'" in str(exc)
    else:
        assert predicate.name and predicate.name[0].isalpha()


# --- migration checks ------------------------------------------------------------------------


def test_enabled_checks_all_names_and_minus() -> None:
    every = enabled_checks(("all",), "ini")
    assert every[0] == "single_head" and "offline_sql" in every
    assert enabled_checks(("all", "-up_down_up", "-offline-sql"), "ini") == [
        c for c in every if c not in ("up_down_up", "offline_sql")]
    assert enabled_checks(("downgrade", "upgrade"), "ini") == ["upgrade", "downgrade"]
    with pytest.raises(pytest.UsageError, match="option x names unknown migration check 'nope'"):
        enabled_checks(("nope",), "option x")


REVISION = '''
def upgrade():
    op.add_column("t", sa.Column("c", sa.Integer))
    if op.get_bind().dialect.name == "mysql":
        op.alter_column("t", "c", type_=sa.BigInteger)
    with op.batch_alter_table("u") as b:
        b.drop_constraint("uq_u", type_="unique")
    return


def downgrade():
    op.drop_column("t", "c")
'''


def test_op_calls_name_table_column_batch_and_keywords() -> None:
    calls = op_calls(REVISION)
    assert [(c.name, c.table, c.column, c.in_batch) for c in calls] == [
        ("add_column", "t", None, False), ("alter_column", "t", "c", False),
        ("batch_alter_table", "u", None, False), ("drop_constraint", "u", "uq_u", True),
        ("get_bind", None, None, False)]  # every op call; the rules pick theirs by name
    assert calls[1].keywords == frozenset({"type_"})
    assert [c.name for c in op_calls(REVISION, "downgrade")] == ["drop_column"]


def test_op_calls_follow_the_dialect_tests() -> None:
    assert "alter_column" in [c.name for c in op_calls(REVISION, dialect="mysql")]
    assert "alter_column" not in [c.name for c in op_calls(REVISION, dialect="postgresql")]
    assert op_calls("x = 1") == []


# --- conformance static rules -------------------------------------------------------------


def _findings(table: sa.Table, dialect: str) -> set[tuple[str, str | None]]:
    plan = SchemaPlan.of(table.metadata)
    return {(f.hazard, f.column) for f in check_table(table, FAMILIES[dialect], plan)}


def _table(*columns: sa.Column[object] | sa.Index, name: str = "t") -> sa.Table:
    return sa.Table(name, sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True), *columns)


@pytest.mark.parametrize(("table", "dialect", "found"), [
    (_table(sa.Column("s", sa.String)), "mysql", ("varchar-length", "s")),
    (_table(sa.Column("s", sa.String)), "oracle", ("varchar-length", "s")),
    (_table(sa.Column("a", sa.ARRAY(sa.Integer))), "sqlite", ("array", "a")),
    (_table(sa.Column("f", sa.Float(precision=53))), "oracle", ("unrenderable-type", "f")),
    (_table(sa.Column("order", sa.Integer)), "mssql", ("reserved-word", "order")),
    (_table(sa.Column("x" * 70, sa.Integer)), "postgresql", ("identifier-length", "x" * 70)),
    (_table(sa.Column("b", sa.Boolean)), "mariadb", ("boolean-unenforced", "b")),
    (_table(sa.Column("e", sa.Enum("a", "b", name="e"))), "sqlite", ("enum-unenforced", "e")),
    (_table(sa.Column("u", sa.String(10), unique=True)), "mssql",
     ("unique-multiple-nulls", "u")),
    (_table(sa.Column("k", sa.Text), sa.Index("ix_k", "k")), "mysql", ("text-in-key", "k")),
    (_table(sa.Column("a", sa.String(800)), sa.Column("b", sa.String(800)),
            sa.Index("ix_ab", "a", "b")), "mariadb", ("index-key-size", "a")),
])
def test_each_static_rule(table: sa.Table, dialect: str, found: tuple[str, str]) -> None:
    assert found in _findings(table, dialect)


def test_static_rules_stay_quiet_where_the_dialect_is_fine() -> None:
    assert _findings(_table(sa.Column("s", sa.String(20))), "mysql") == set()
    assert _findings(_table(sa.Column("b", sa.Boolean)), "postgresql") == set()
    assert _findings(_table(sa.Column("order", sa.Integer)), "sqlite") == {
        ("reserved-word", "order")}
    # prefix lengths: what the key holds on this dialect, not the whole column
    prefixed = _table(sa.Column("a", sa.String(800)), sa.Column("b", sa.String(800)),
                      sa.Index("ix_ab", "a", "b", mysql_length={"a": 100, "b": 100}))
    assert ("index-key-size", "a") not in _findings(prefixed, "mysql")
    assert ("index-key-size", "a") in _findings(prefixed, "mariadb")  # reads mariadb_length
