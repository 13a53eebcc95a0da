"""Migration snapshots made from the previous one and the fingerprints equal full ones."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from pytest_dbmatrix.backends.postgresql.fingerprint import changed_kinds, changed_tables
from pytest_dbmatrix.migrations import data, snapshot

MOOD = sa.Enum("calm", "angry", name="dbmatrix_snapshot_mood")
CHANGES: list[tuple[str, Callable[[Operations], Any]]] = [
    ("create parent", lambda op: op.create_table(
        "snap_parent", sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code", sa.String(10), unique=True), sa.Column("mood", MOOD))),
    ("create child", lambda op: op.create_table(
        "snap_child", sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("parent_id", sa.Integer, sa.ForeignKey("snap_parent.id")),
        sa.Column("qty", sa.Integer), sa.CheckConstraint("qty > 0", name="ck_snap_qty"))),
    ("create bystander", lambda op: op.create_table(
        "snap_by", sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("parent_id", sa.Integer, sa.ForeignKey("snap_parent.id"), index=True))),
    ("add column", lambda op: op.add_column("snap_child", sa.Column("note", sa.String(20)))),
    ("create index", lambda op: op.create_index("ix_snap_note", "snap_child", ["note"])),
    ("widen type", lambda op: op.alter_column("snap_child", "note", type_=sa.String(200))),
    ("NOT NULL", lambda op: op.alter_column("snap_parent", "code", nullable=False)),
    ("server default", lambda op: op.alter_column("snap_parent", "code", server_default="x")),
    ("unique", lambda op: op.create_unique_constraint("uq_snap_qty", "snap_child", ["qty"])),
    ("drop unique", lambda op: op.drop_constraint("uq_snap_qty", "snap_child")),
    ("enum label", lambda op: op.execute(
        "ALTER TYPE dbmatrix_snapshot_mood ADD VALUE 'sleepy'")),
    ("rename table", lambda op: op.rename_table("snap_child", "snap_kid")),
    ("drop index", lambda op: op.drop_index("ix_snap_note", table_name="snap_kid")),
    ("drop check", lambda op: op.drop_constraint("ck_snap_qty", "snap_kid", type_="check")),
    ("rename parent", lambda op: op.rename_table("snap_parent", "snap_mother")),
    ("retype indexed", lambda op: op.alter_column("snap_by", "parent_id",
                                                  type_=sa.BigInteger)),
    ("drop table", lambda op: op.drop_table("snap_kid")),
]


def test_changed_kinds_follow_the_fingerprint_lines() -> None:
    before = "k public t pk\nrr public t id integer"
    assert changed_kinds(before, before + "\nrr public t note text") == {"tables", "columns"}
    assert changed_kinds(before, before + "\nri public ix note text\ni CREATE INDEX ix ON t"
                         ) == {"indexes"}
    assert changed_kinds(before, before + "\nrv public v x") == {"tables", "columns"}
    assert "enums" in changed_kinds(before, before + "\nt public mood e")
    assert changed_kinds(before, before + "\nf public fn f () abc") == frozenset()


def test_changed_tables_are_those_the_differing_lines_name() -> None:
    before = "k public t pk\nrr public t id integer"
    assert changed_tables(before, before + "\nrr public u id integer") == {"u"}
    assert changed_tables(before, before + "\nri public ix_t on:t note text\n"
                          "i CREATE INDEX ix_t ON public.t USING btree (note)") == {"t"}
    assert changed_tables(before, "rr public t id integer") == {"t"}  # its constraint went
    assert changed_tables(before, before + "\nf public fn f () abc") == frozenset()
    assert changed_tables(before, before + "\nt public mood e") is None  # any column's type
    assert changed_tables(before, before + "\nk public / d / ck c CHECK") is None  # a domain
    assert changed_tables(before, before + '\ni CREATE INDEX ix ON public."T t" USING btree '
                          '(a)') is None


@pytest.mark.dbmatrix(only="postgresql")
def test_a_snapshot_read_again_only_where_the_fingerprint_changed_is_a_full_one(
        db_connection: Connection, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each change to the schema, read through `reflect_since` from the last reflection,
    gives the snapshot a full reflection gives (the run's database; the test's transaction
    takes it all back); a new table's step reads that table's catalog rows only."""
    op = Operations(MigrationContext.configure(db_connection))
    previous, before = snapshot.reflect(db_connection), snapshot.fingerprint(db_connection)
    partial = []
    read: list[tuple[str, tuple[str, ...]]] = []
    multi = snapshot._multi

    def spied(inspector: Any, method: str, tables: list[str]) -> dict[str, Any]:
        read.append((method, tuple(tables)))
        return multi(inspector, method, tables)

    monkeypatch.setattr(snapshot, "_multi", spied)
    for what, change in CHANGES:
        change(op)
        now = snapshot.fingerprint(db_connection)
        assert before is not None and now is not None
        read.clear()
        reflection = snapshot.reflect_since(db_connection, previous, before, now)
        since = set(tables for _method, tables in read)
        assert snapshot.of(reflection, db_connection.dialect) == snapshot.take(
            db_connection), what
        if not set(snapshot.EVERYTHING) <= changed_kinds(before, now):
            partial.append(what)
        if what == "create bystander":
            assert since == {("snap_by",)}, read
        previous, before = reflection, now
    assert {"add column", "create index", "enum label"} <= set(partial)


def test_the_fingerprint_is_prepared_once_per_session_and_reads_the_same() -> None:
    """psycopg2 does not prepare what it runs again: the family prepares the fingerprint
    query once per server session (asked inside the transaction it then runs in), and the
    prepared one gives what the query itself gives. In autocommit it is sent as it is."""
    from pytest_dbmatrix.backends.postgresql import fingerprint as fp
    from tests.conftest import LIVE_URLS

    engine = sa.create_engine(LIVE_URLS["postgresql"], poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            plain = sorted(str(r) for r in conn.execute(sa.text(fp.FINGERPRINT)).scalars())
            assert conn.execute(fp.IS_PREPARED).first() is None
            assert snapshot.fingerprint(conn) == "\n".join(plain)
            assert conn.execute(fp.IS_PREPARED).first() is not None
            assert fp.statement(conn) is fp.EXECUTE
            assert snapshot.fingerprint(conn) == "\n".join(plain)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            assert fp.statement(conn).text == fp.FINGERPRINT
            assert snapshot.fingerprint(conn) == "\n".join(plain)
            assert conn.execute(fp.IS_PREPARED).first() is None
    finally:
        engine.dispose()


TABLE_STEPS: list[tuple[str, Callable[[Operations], Any]]] = [
    ("create parent", lambda op: op.create_table(
        "tb_parent", sa.Column("id", sa.Integer, primary_key=True), sa.Column("code", sa.Text))),
    ("create child", lambda op: op.create_table(
        "tb_child", sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("parent_id", sa.Integer, sa.ForeignKey("tb_parent.id")))),
    ("create grandchild", lambda op: op.create_table(
        "tb_grand", sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("child_id", sa.Integer, sa.ForeignKey("tb_child.id")))),
    ("create bystander", lambda op: op.create_table(
        "tb_by", sa.Column("id", sa.Integer, primary_key=True))),
    ("add column", lambda op: op.add_column("tb_parent", sa.Column("note", sa.String(20)))),
    ("drop bystander", lambda op: op.drop_table("tb_by")),
]
REBUILT = {"create parent": {"tb_parent"}, "create child": {"tb_child"},
           "create grandchild": {"tb_grand"}, "create bystander": {"tb_by"},
           "add column": {"tb_parent", "tb_child", "tb_grand"}, "drop bystander": set()}
"""The Tables each step builds: the changed one and those referring to it, transitively."""


def _shape(metadata: sa.MetaData) -> list[Any]:
    return [(t.name, [(c.name, repr(c.type), c.nullable, c.primary_key) for c in t.columns],
             sorted(fk.target_fullname for fk in t.foreign_keys))
            for t in metadata.sorted_tables]


@pytest.mark.dbmatrix(only=["sqlite", "postgresql"])  # DDL inside the test's transaction
def test_tables_are_rebuilt_only_where_a_step_changed_them(db_connection: Connection) -> None:
    """Successive reflections through one `data.Tables` give the tables a fresh build gives,
    keeping the Table objects of those unchanged (same objects read again on PostgreSQL,
    equal ones read again on SQLite) and rebuilding those referring to a changed one."""
    op = Operations(MigrationContext.configure(db_connection))
    tables = data.Tables()
    previous = snapshot.reflect(db_connection)
    before = snapshot.fingerprint(db_connection)
    built = {t.name: t for t in tables.of(previous).tables.values()}
    for what, change in TABLE_STEPS:
        change(op)
        now = snapshot.fingerprint(db_connection)
        reflection = snapshot.reflect_since(db_connection, previous, before, now)
        metadata = tables.of(reflection)
        assert _shape(metadata) == _shape(data.reflect(db_connection)), what
        new = {n for n, t in metadata.tables.items() if built.get(n) is not t}
        assert new == REBUILT[what], what
        built = dict(metadata.tables)
        previous, before = reflection, now
    assert set(built) == {"tb_parent", "tb_child", "tb_grand"}
    assert {fk.column.table for fk in built["tb_grand"].foreign_keys} == {built["tb_child"]}


USER_OBJECTS = [
    "CREATE TABLE fp_t (id serial PRIMARY KEY, n int CHECK (n > 0) DEFAULT 1)",
    "CREATE INDEX ix_fp_n ON fp_t (n)",
    "CREATE TYPE fp_mood AS ENUM ('calm')",
    "CREATE DOMAIN fp_pos AS int CHECK (VALUE > 0)",
    "CREATE FUNCTION fp_f() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END'",
    "CREATE TRIGGER fp_tr BEFORE INSERT ON fp_t FOR EACH ROW EXECUTE FUNCTION fp_f()",
    "CREATE SCHEMA fp_s",
    "CREATE VIEW fp_s.v AS SELECT 1 AS one",
]


@pytest.mark.dbmatrix(only="postgresql")
def test_the_fingerprint_reads_only_user_objects_and_misses_none(
        db_connection: Connection) -> None:
    """Each kind of user object changes the fingerprint, and the catalogs read through their
    OID indexes (`oid >= 16384`) give the lines a full scan gives."""
    from pytest_dbmatrix.backends.postgresql import fingerprint as pg

    unfiltered = re.sub(r" AND [a-z]+\.(?:oid|indexrelid) >= \d+", "", pg.FINGERPRINT)
    assert unfiltered.count("16384") == 0 and pg.FINGERPRINT.count(">= 16384") == 6

    def lines(sql: str) -> list[str]:
        cursor = db_connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        cursor.execute(sql)  # no parameters: its % signs are LIKE's
        return sorted(row[0] for row in cursor.fetchall())

    seen = [snapshot.fingerprint(db_connection)]
    for ddl in USER_OBJECTS:
        db_connection.exec_driver_sql(ddl)
        assert lines(pg.FINGERPRINT) == lines(unfiltered), ddl
        seen.append(snapshot.fingerprint(db_connection))
        assert seen[-1] != seen[-2], ddl
