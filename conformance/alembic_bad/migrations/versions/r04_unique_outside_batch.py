"""unique email with a constraint op outside batch mode (fails on SQLite)

Revision ID: r04
Revises: r03
"""
from alembic import op

revision = "r04"
down_revision = "r03"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_unique_constraint("uq_users_email", "users", ["email"])


def downgrade() -> None:
    op.drop_constraint("uq_users_email", "users", type_="unique")
