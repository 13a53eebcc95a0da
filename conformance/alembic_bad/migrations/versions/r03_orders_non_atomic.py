"""orders with an index: two DDL statements, not atomic on MySQL/MariaDB

Revision ID: r03
Revises: r02
"""
import sqlalchemy as sa
from alembic import op

revision = "r03"
down_revision = "r02"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "orders",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("total", sa.Numeric(10, 2), nullable=False),
    )
    op.create_index("ix_orders_user_id", "orders", ["user_id"])


def downgrade() -> None:
    op.drop_table("orders")  # drops its index too (MySQL refuses to drop an index a FK uses)
