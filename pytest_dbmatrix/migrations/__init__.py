"""Alembic migration checks run on every selected backend (enabled by dbmatrix_alembic_ini)."""
