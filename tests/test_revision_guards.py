"""Static hazards know where code runs: dialect tests in revision scripts, evaluated."""

from __future__ import annotations

import json

import pytest

from pytest_dbmatrix.migrations.revision_scan import op_calls
from tests.test_migrations import INI, findings, run_migrations, write_history

GUARDED = '''
from alembic import context, op


def upgrade():
    op.a()
    if op.get_bind().engine.name == "mysql":
        op.mysql_only()
    bind = op.get_bind()
    dialect_name = bind.dialect.name
    is_pg = context.get_context().dialect.name == "postgresql"
    if dialect_name in ("mysql", "mariadb"):
        op.mysql_family()
    elif is_pg:
        op.pg_only()
    else:
        op.other()
    with op.batch_alter_table("t") as batch:
        try:
            if op.get_bind().dialect.name != "sqlite" and bind is not None:
                batch.not_sqlite()
        except Exception:
            pass
    x = op.sqlite_value() if dialect_name == "sqlite" else op.other_value()
    if not dialect_name.startswith("sqlite"):
        return
    op.sqlite_tail()
'''
REACHES = {
    "sqlite": {"a", "other", "batch_alter_table", "sqlite_value", "sqlite_tail"},
    "postgresql": {"a", "pg_only", "batch_alter_table", "not_sqlite", "other_value"},
    "mysql": {"a", "mysql_only", "mysql_family", "batch_alter_table", "not_sqlite",
              "other_value"},
    "mariadb": {"a", "mysql_family", "batch_alter_table", "not_sqlite", "other_value"},
}


@pytest.mark.parametrize("dialect", sorted(REACHES))
def test_only_the_calls_a_dialect_can_reach(dialect: str) -> None:
    reached = {c.name for c in op_calls(GUARDED, dialect=dialect)} - {"get_bind"}
    assert reached == REACHES[dialect]


def test_without_a_dialect_every_call_counts() -> None:
    every = {c.name for c in op_calls(GUARDED)} - {"get_bind"}
    assert every == set().union(*REACHES.values())


CREATE = ('op.create_table("item", sa.Column("id", sa.Integer, primary_key=True), '
          'sa.Column("name", sa.String(50)), '
          'sa.Column("code", sa.String(5), nullable=False))', 'op.drop_table("item")')
SKIP_SQLITE = ('if op.get_bind().dialect.name == "sqlite":\n        return\n    '
               'op.create_unique_constraint("uq_item_code", "item", ["code"])\n    '
               'op.alter_column("item", "name", type_=sa.String(60), '
               'existing_type=sa.String(50))', 'pass')
MYSQL_ONLY = ('if op.get_bind().engine.name in ("mysql", "mariadb"):\n        '
              'op.alter_column("item", "code", type_=sa.String(8), existing_type=sa.String(5))',
              'pass')


def test_guarded_hazards_and_live_disproved_ones_are_notes(
        pytester: pytest.Pytester, live_urls: dict[str, str]) -> None:
    write_history(pytester.path, {"g01": CREATE, "g02": SKIP_SQLITE, "g03": MYSQL_ONLY})
    pytester.makeini(INI + "dbmatrix_alembic_checks = upgrade hazards\n")
    run_migrations(pytester, "--dbmatrix=sqlite,mariadb")
    # g02's constraint op is behind an early return on SQLite: nothing there; g03 drops the
    # NOT NULL of item.code on MariaDB (true positive, kept); g02's type change on the
    # NULL-able item.name is disproved by the live upgrade: a note, not a failure.
    assert findings(pytester) == {("hazards", "alter-needs-existing", "g03", "mariadb")}
    notes = json.loads((pytester.path / "report.json").read_text())["migrations"]["notes"]
    assert [(n["revision"], n["backend"], n["hazard"]) for n in notes] == [
        ("g02", "mariadb", "alter-needs-existing")]
    assert "item.name was NULL-able before the revision already" in notes[0]["message"]
