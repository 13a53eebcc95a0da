"""The models at head of the bad sample history (what the history should produce)."""

import sqlalchemy as sa

metadata = sa.MetaData()

users = sa.Table(
    "users", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("full_name", sa.String(50)),
    sa.Column("email", sa.String(100), nullable=False),
    sa.UniqueConstraint("email", name="uq_users_email"),
)

orders = sa.Table(
    "orders", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("total", sa.Numeric(10, 2), nullable=False),
    sa.Index("ix_orders_user_id", "user_id"),
)
