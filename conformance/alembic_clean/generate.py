"""Write a clean Alembic project of N revisions (one DDL statement each) into a directory.

    python conformance/alembic_clean/generate.py DIR [--revisions 30]

Every third revision creates a table (with a foreign key to the previous one), the next adds a
column to it, the next indexes it. Its models match head, every downgrade undoes its upgrade,
and no revision loses data: the migration checks must report nothing on any backend.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent
BAD = HERE.parent / "alembic_bad"
TEMPLATE = '''"""{message}

Revision ID: {rev}
Revises: {down}
"""
import sqlalchemy as sa
from alembic import op

revision = {rev!r}
down_revision = {down!r}
branch_labels = None
depends_on = None


def upgrade() -> None:
    {upgrade}


def downgrade() -> None:
    {downgrade}
'''


def _create(n: int) -> tuple[str, str, str]:
    parent = (f', sa.Column("parent_id", sa.Integer, sa.ForeignKey("t{n - 1}.id"))'
              if n else "")
    up = (f'op.create_table("t{n}", sa.Column("id", sa.Integer, primary_key=True), '
          f'sa.Column("name", sa.String(50), nullable=False), '
          f'sa.Column("amount", sa.Numeric(10, 2)), sa.Column("created", sa.DateTime), '
          f'sa.Column("flag", sa.Boolean){parent})')
    return f"create table t{n}", up, f'op.drop_table("t{n}")'


def _add_column(n: int) -> tuple[str, str, str]:
    return (f"add t{n}.note", f'op.add_column("t{n}", sa.Column("note", sa.String(100)))',
            f'op.drop_column("t{n}", "note")')


def _index(n: int) -> tuple[str, str, str]:
    return (f"index t{n}.name", f'op.create_index("ix_t{n}_name", "t{n}", ["name"])',
            f'op.drop_index("ix_t{n}_name", table_name="t{n}")')


def _model(n: int) -> str:
    parent = f'\n    sa.Column("parent_id", sa.Integer, sa.ForeignKey("t{n - 1}.id")),' if n else ""
    return (f't{n} = sa.Table(\n    "t{n}", metadata,\n'
            f'    sa.Column("id", sa.Integer, primary_key=True),\n'
            f'    sa.Column("name", sa.String(50), nullable=False),\n'
            f'    sa.Column("amount", sa.Numeric(10, 2)),\n'
            f'    sa.Column("created", sa.DateTime),\n'
            f'    sa.Column("flag", sa.Boolean),{parent}\n'
            f'    sa.Column("note", sa.String(100)),\n'
            f'    sa.Index("ix_t{n}_name", "name"),\n)\n')


def generate(target: Path, revisions: int = 30) -> Path:
    """Write the project; returns the path of its alembic.ini."""
    versions = target / "migrations" / "versions"
    versions.mkdir(parents=True, exist_ok=True)
    shutil.copy(BAD / "alembic.ini", target / "alembic.ini")
    for name in ("env.py", "script.py.mako"):
        shutil.copy(BAD / "migrations" / name, target / "migrations" / name)
    makers = (_create, _add_column, _index)
    down = None
    tables = 0
    for i in range(revisions):
        message, up, back = makers[i % 3](i // 3)
        tables = max(tables, i // 3 + 1)
        rev = f"c{i + 1:03d}"
        (versions / f"{rev}.py").write_text(TEMPLATE.format(
            message=message, rev=rev, down=down, upgrade=up, downgrade=back))
        down = rev
    models = ["import sqlalchemy as sa\n\nmetadata = sa.MetaData()\n"]
    for n in range(tables):
        model = _model(n)
        complete = 3 * n + 3 <= revisions
        if not complete:  # the last table may lack its column and index
            if 3 * n + 1 >= revisions:
                model = model.replace('    sa.Column("note", sa.String(100)),\n', "")
            model = model.replace(f'    sa.Index("ix_t{n}_name", "name"),\n', "")
        models.append(model)
    (target / "models.py").write_text("\n".join(models))
    return target / "alembic.ini"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", type=Path)
    parser.add_argument("--revisions", type=int, default=30)
    args = parser.parse_args()
    print(generate(args.target, args.revisions))


if __name__ == "__main__":
    main()
