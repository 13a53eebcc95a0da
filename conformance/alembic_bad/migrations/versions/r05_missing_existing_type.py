"""email NOT NULL without existing_type (fails on MySQL/MariaDB and MSSQL)

Revision ID: r05
Revises: r04
"""
import sqlalchemy as sa
from alembic import op

revision = "r05"
down_revision = "r04"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.alter_column("email", nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.alter_column("email", existing_type=sa.String(100), nullable=True)
