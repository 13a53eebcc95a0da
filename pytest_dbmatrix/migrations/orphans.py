"""Rows whose foreign key points at nothing: PRAGMA foreign_key_check or an anti-join."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pytest_dbmatrix.backends import family_of
from pytest_dbmatrix.migrations.data import reflect


def _sqlite(conn: Connection) -> list[str]:
    rows = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    counts: dict[tuple[str, str], int] = {}
    for table, _rowid, parent, _fk in rows:
        counts[(table, parent)] = counts.get((table, parent), 0) + 1
    return [f"{n} row(s) of {table} reference missing rows of {parent}"
            for (table, parent), n in sorted(counts.items())]


def _anti_join(conn: Connection) -> list[str]:
    found = []
    for table in reflect(conn).sorted_tables:
        for fk in table.foreign_key_constraints:
            parent = fk.referred_table
            pairs = [(e.parent, e.column) for e in fk.elements]
            child_cols = [child for child, _ in pairs]
            query = (sa.select(sa.func.count()).select_from(
                table.outerjoin(parent, sa.and_(*(c == p for c, p in pairs))))
                .where(sa.and_(*(c.isnot(None) for c in child_cols)))
                .where(pairs[0][1].is_(None)))
            count = conn.scalar(query) or 0
            if count:
                found.append(f"{count} row(s) of {table.name} reference missing rows of "
                             f"{parent.name}")
    return found


def find(conn: Connection) -> list[str]:
    """One line per (child, parent) pair with orphans; empty when every reference resolves."""
    return _sqlite(conn) if family_of(conn.dialect).optional_foreign_keys else _anti_join(conn)
