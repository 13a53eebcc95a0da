"""create users

Revision ID: r01
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "r01"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(50)),
        sa.Column("email", sa.String(100)),
    )


def downgrade() -> None:
    op.drop_table("users")
