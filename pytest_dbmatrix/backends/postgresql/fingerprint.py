"""The schema fingerprint of PostgreSQL: one catalog query instead of a reflection."""

from __future__ import annotations

import re

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pytest_dbmatrix.backends.base import driver_connection

_SCHEMAS = ("n.nspname NOT IN ('pg_catalog', 'information_schema') "
            "AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'")
_USER = 16384
"""FirstNormalObjectId: every object made after initdb has an OID from here on (the counter
wraps back to it, never below), so `oid >= _USER` reads the catalogs' OID indexes for the
user's objects instead of scanning the thousands of built-in routines and types: 1.2 ms per
fingerprint instead of 1.9-2.0 at ten tables here, the same lines. Not on pg_namespace:
`public` is made by initdb."""
FINGERPRINT = f"""
SELECT concat_ws(' ', 'r' || c.relkind::text, n.nspname, c.relname,
                 'on:' || it.relname, a.attname,
                 format_type(a.atttypid, a.atttypmod), a.attnotnull, a.attidentity,
                 a.attgenerated, a.attcollation, '=', pg_get_expr(d.adbin, d.adrelid))
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace AND c.oid >= {_USER}
LEFT JOIN pg_index ix ON ix.indexrelid = c.oid LEFT JOIN pg_class it ON it.oid = ix.indrelid
LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
WHERE {_SCHEMAS}
UNION ALL
SELECT concat_ws(' ', 'k', n.nspname, r.relname, '/', t.typname, '/', con.conname,
                 con.contype, pg_get_constraintdef(con.oid))
FROM pg_constraint con JOIN pg_namespace n ON n.oid = con.connamespace AND con.oid >= {_USER}
LEFT JOIN pg_class r ON r.oid = con.conrelid LEFT JOIN pg_type t ON t.oid = con.contypid
WHERE {_SCHEMAS}
UNION ALL
SELECT concat_ws(' ', 'i', pg_get_indexdef(i.indexrelid))
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid AND i.indexrelid >= {_USER}
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE {_SCHEMAS}
UNION ALL
SELECT concat_ws(' ', 't', n.nspname, t.typname, t.typtype,
                 format_type(t.typbasetype, t.typtypmod), t.typnotnull, '=', t.typdefault, '/',
                 (SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder)
                  FROM pg_enum e WHERE e.enumtypid = t.oid))
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace AND t.oid >= {_USER}
WHERE {_SCHEMAS} AND t.typtype IN ('e', 'd')
UNION ALL
SELECT concat_ws(' ', 'n', n.nspname) FROM pg_namespace n WHERE {_SCHEMAS}
UNION ALL
SELECT concat_ws(' ', 'f', n.nspname, p.proname, p.prokind,
                 pg_get_function_identity_arguments(p.oid), md5(p.prosrc))
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace AND p.oid >= {_USER}
WHERE {_SCHEMAS}
UNION ALL
SELECT concat_ws(' ', 'g', n.nspname, c.relname, g.tgname, md5(pg_get_triggerdef(g.oid)))
FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid AND g.oid >= {_USER}
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE {_SCHEMAS} AND NOT g.tgisinternal
UNION ALL
SELECT concat_ws(' ', 'x', e.extname, e.extversion) FROM pg_extension e
"""
"""Every user schema's relations with their columns (type, NOT NULL, default, identity;
an index's with the name of its table after "on:"),
constraints, indexes, enum and domain types, and the schemas, routines, triggers and
extensions, in one query: more than the migration snapshot reads (the last four so that an
empty database's fingerprint also says nothing of them was left behind, see
BackendMigrations._rewind). Not the column's position (attnum), which a column dropped and
added back changes while the snapshot, keyed by name, does not see it."""

READ_FROM = {
    "rr": ("tables", "columns"), "rp": ("tables", "columns"), "ri": ("indexes",),
    "rI": ("indexes",), "rS": (), "t": ("enums", "columns"),
    "k": ("pk_constraint", "foreign_keys", "unique_constraints", "check_constraints",
          "indexes"),
    "i": ("indexes",),
}
"""The snapshot's reflections that read what a kind of fingerprint line records: tables and
their columns ("r" and the relkind), index relations, sequences (in no snapshot: a default
naming one is a column's), enum and domain types (also in a column's reflected type),
constraints (also what marks an index as a unique constraint's), indexes. Other relations,
schemas, routines, triggers and extensions are in no snapshot either; an unknown kind is read
again as a table."""
UNKNOWN = ("tables", "columns")


INDEX_ON = re.compile(r" ON (?:ONLY )?[\w$]+\.([\w$]+) USING ")
"""The table of a pg_get_indexdef line, when no name in it needs quoting."""


def changed_tables(before: str, after: str) -> frozenset[str] | None:
    """The relations named by the lines that differ between two fingerprints (columns,
    constraints, indexes), so that only their reflections are read again; None when a line
    names none that a reflection can be tied to (an enum or domain type: the columns of any
    table may read differently) or cannot be read (a quoted name)."""
    names = set()
    for line in set(before.split("\n")) ^ set(after.split("\n")):
        parts = line.split(" ")
        kind = parts[0]
        if kind in ("ri", "rI"):
            if len(parts) < 4 or not parts[3].startswith("on:"):
                return None
            names.add(parts[3].removeprefix("on:"))
        elif kind.startswith("r") or kind == "k":
            if len(parts) < 3 or parts[2] == "/":  # a domain's constraint
                return None
            names.add(parts[2])
        elif kind == "i":
            found = INDEX_ON.search(line)
            if found is None:
                return None
            names.add(found.group(1))
        elif kind == "t":
            return None
    return frozenset(names)


def changed_kinds(before: str, after: str) -> frozenset[str]:
    """The reflections to make again between two fingerprints: those of the kinds of lines
    that differ."""
    kinds = {line.split(" ", 1)[0] for line in set(before.split("\n")) ^ set(after.split("\n"))}
    return frozenset(read for kind in kinds if kind
                     for read in READ_FROM.get(kind, UNKNOWN if kind.startswith("r") else ()))


PREPARED = "dbmatrix_schema_fingerprint"
PREPARE = sa.text(f"PREPARE {PREPARED} AS {FINGERPRINT}")
EXECUTE = sa.text(f"EXECUTE {PREPARED}")
IS_PREPARED = sa.text(f"SELECT 1 FROM pg_prepared_statements WHERE name = '{PREPARED}'")
SELF_PREPARING = ("asyncpg", "psycopg")
"""Drivers that prepare a statement they run again on a connection themselves."""


def statement(conn: Connection) -> sa.TextClause:
    """The fingerprint query, prepared once per server session where the driver does not
    prepare it (psycopg2, pg8000): planning it is 1.5-2.5 ms of the 4-5 ms it takes after a
    DDL statement (measured here, PostgreSQL 15), and the migration checks run about five
    per revision. Whether this session has it is asked in the transaction the query then
    runs in, so a pooler that hands out server sessions per transaction (pgbouncer's
    transaction mode) cannot move it elsewhere in between; in autocommit, where it could,
    the query is sent as it is."""
    if conn.dialect.driver in SELF_PREPARING:
        return sa.text(FINGERPRINT)
    raw = driver_connection(conn.connection.dbapi_connection)
    if getattr(raw, "autocommit", True):
        return sa.text(FINGERPRINT)
    if conn.execute(IS_PREPARED).first() is None:
        conn.execute(PREPARE)
    return EXECUTE
