"""Known cross-dialect hazards and findings: how to recognise each, how bad it is, and the fix.

Data only. Every entry states its severity with a one-line reason: **error** when the database
rejects the statement, the data read is not the data written, or a constraint is enforced on one
backend and not another; **warning** when it works through SQLAlchemy but is fragile elsewhere
(raw SQL, other clients, other servers). `--dbmatrix-fail-on` decides which of them fail a test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]
SEVERITIES: tuple[Severity, ...] = ("warning", "error")
"""Lowest first: a finding fails its test when its severity is at least the fail-on level."""


@dataclass(frozen=True)
class Hazard:
    id: str
    dialects: tuple[str, ...]
    pattern: str | None
    """A case-insensitive regular expression, compiled on first use (re's cache keeps it);
    None for a finding only a check reports (nothing to recognise in an error message)."""
    hint: str
    severity: Severity
    why: str
    """Why it has that severity, in one line."""

    def matches(self, message: str) -> bool:
        return self.pattern is not None and re.search(self.pattern, message, re.I) is not None


def error(why: str) -> tuple[Severity, str]:
    return "error", why


def warning(why: str) -> tuple[Severity, str]:
    return "warning", why


def _h(id: str, dialects: str, pattern: str, hint: str, severity: tuple[Severity, str]) -> Hazard:
    return Hazard(id, tuple(dialects.split()), pattern, hint, *severity)


def _f(id: str, hint: str, severity: tuple[Severity, str]) -> Hazard:
    return Hazard(id, (), None, hint, *severity)


_ALL = "sqlite postgresql mysql mariadb mssql oracle"

HAZARDS: tuple[Hazard, ...] = (
    # Measured 2026-12-02 (PostgreSQL 15, SQLite 3.40, MariaDB 10.11 strict mode, also through
    # the mysql dialect): ADD COLUMN ... NOT NULL without a default on a table with two rows.
    # MariaDB fills them with '' / 0 / '0000-00-00 00:00:00'; data_preserved reports that too.
    _h("not-null-added-to-rows", "sqlite postgresql mysql mariadb",
       r'column "\w+" of relation "\w+" contains null values|'
       r"Cannot add a NOT NULL column with default value NULL",
       "give add_column a server_default, or add the column NULL-able, fill it, then "
       "alter_column(nullable=False): PostgreSQL and SQLite refuse the revision on a table "
       "with rows (on an empty one it passes), MySQL/MariaDB silently fill the rows with '' or 0",
       error("the upgrade fails on a table with rows, or fills it with made-up values")),
    _h("varchar-length", "mysql mariadb", r"VARCHAR requires a length",
       'give the column a length: String(255), or String().with_variant(String(255), '
       '"mysql", "mariadb")',
       error('MySQL/MariaDB reject the CREATE TABLE')),
    _h("text-in-key", "mysql mariadb", r"used in key specification without a key length|\b1170\b",
       "index a String(n) column, or give the index mysql_length=",
       error('MySQL/MariaDB reject the index')),
    _h("identifier-length", "postgresql mysql mariadb mssql",
       r"identifier .* too long|is too long|exceeds the maximum length|IdentifierError",
       "keep table, column and constraint names to 30 characters or fewer; name constraints "
       "explicitly with a naming convention",
       error('the server rejects or truncates the name')),
    _h("array", "sqlite mysql mariadb mssql", r"can't render element of type ARRAY",
       "use JSON or a child table instead of ARRAY",
       error('the dialect cannot render the type: the DDL fails')),
    _h("bigint-pk-sqlite", "sqlite", r"NOT NULL constraint failed: \w+\.id",
       'BigInteger().with_variant(Integer, "sqlite") for autoincrement primary keys',
       error('inserts fail: the key is not autoincremented on SQLite')),
    _h("text-default", "mysql", r"can't have a default value",
       "use a Python-side default= instead of server_default on TEXT/BLOB/JSON",
       error('MySQL rejects the CREATE TABLE')),
    _h("check-enforcement", "mysql mariadb", r"\b4025\b|CONSTRAINT .* failed for",
       "MariaDB raises OperationalError 4025 for CHECK violations: catch DBAPIError or map "
       "error classes per dialect",
       warning('the CHECK is enforced, only the exception class differs')),
    _h("fk-deferrable", "mysql mariadb mssql", r"DEFERRABLE|deferrable",
       "render deferrable= only for postgresql and sqlite (a dialect-specific compile rule)",
       error('the server rejects the DDL')),
    # Measured on PostgreSQL 15 (CREATE TABLE) and SQLite 3.40 (any write to the referenced
    # table with foreign keys on) with MLflow's input_tags -> inputs(input_uuid); MariaDB 10.11
    # accepts the key, since an index on the columns is enough for InnoDB.
    _h("fk-target-not-unique", "sqlite postgresql",
       r"no unique constraint matching given keys|foreign key mismatch",
       "reference a primary key or a UNIQUE constraint: PostgreSQL rejects the foreign key, "
       "SQLite rejects every write to the referenced table, MySQL/MariaDB accept it",
       error("the server rejects the foreign key, or every write to the table")),
    _h("mssql-cascade-paths", "mssql", r"\b1785\b|multiple cascade paths",
       "use ORM cascades instead of ON DELETE CASCADE on one of the paths",
       error('SQL Server rejects the foreign key')),
    _h("length-unenforced", "sqlite", r"String\(\d+\).*stored|longer than",
       "SQLite does not enforce lengths: create tables with sqlite_strict=True or validate",
       error('the length is enforced on the servers and not on SQLite')),
    _h("data-too-long", "postgresql mysql mariadb mssql",
       r"Data too long|Data truncated for column|\b1406\b|value too long for type|"
       r"String or binary data would be truncated",
       "validate lengths before writing: SQLite accepts what these servers reject",
       error('the server rejects a value SQLite accepts')),
    _h("unicode-storage", "mysql mariadb mssql", r"\b1366\b|Incorrect string value",
       "use utf8mb4 tables and Unicode/NVARCHAR columns",
       error('the server rejects or mangles the characters')),
    _h("returning", "mysql mariadb", r"RETURNING|returning",
       "feature-detect dialect.insert_returning / update_returning before using RETURNING",
       error('the server rejects the statement')),
    _h("mssql-order-limit", "mssql", r"requires an order_by when using an OFFSET",
       "always order_by() a query that uses limit/offset",
       error('SQL Server rejects the query')),
    _h("param-limits", "mssql sqlite", r"too many SQL variables|2100 parameters",
       "chunk large IN lists and bulk inserts",
       error('the driver or server rejects the statement')),
    _h("sqlite-alter", "sqlite", r"No support for ALTER of constraints in SQLite|near \"ALTER\"",
       "use op.batch_alter_table() and render_as_batch=True for SQLite",
       error('SQLite rejects the ALTER')),
    _h("alter-needs-existing", "mysql mariadb mssql", r"require the existing[ _]type",
       "pass existing_type, existing_nullable and existing_server_default to alter_column",
       error('the ALTER fails or silently changes the column')),
    _h("duplicate-column", "mysql mariadb", r"\b1060\b|Duplicate column name",
       "a revision failed half-way on a non-transactional-DDL backend: keep one DDL per "
       "revision or make it idempotent",
       error('the upgrade fails on a half-applied schema')),
    _h("pg-enum-type-leak", "postgresql", r"type \"\w+\" already exists",
       "drop the ENUM type in downgrade (sa.Enum(...).drop(op.get_bind()))",
       error('the next upgrade fails: the type already exists')),
    # PostgreSQL 15: ProgrammingError 42710 'type "dbm_probe_status" already exists' when an
    # ENUM type is created a second time (measured); in a first upgrade nothing leaked it.
    _h("pg-type-exists", "postgresql", r"type \"\w+\" already exists",
       "the revision creates an ENUM type that exists already (an earlier revision, the "
       "baseline, or sa.Enum in a create_table created it): create it once, and pass "
       "create_type=False to postgresql.ENUM where it is only used",
       error("the upgrade fails: CREATE TYPE is refused")),
    _h("mssql-odbc18-tls", "mssql", r"certificate verify failed",
       "add TrustServerCertificate=yes to the URL",
       error('the connection is refused')),
    # Async drivers, measured with SQLAlchemy 2.1 on PostgreSQL 15 (psycopg2 2.9, psycopg
    # 3.3, asyncpg 0.32), MariaDB 10.11 (aiomysql) and SQLite (aiosqlite).
    _h("async-driver", "sqlite postgresql mysql mariadb mssql",
       r"requires an async driver",
       "create_async_engine needs an async driver in the URL: postgresql+asyncpg or "
       "postgresql+psycopg, mysql+aiomysql or +asyncmy, sqlite+aiosqlite, mssql+aioodbc (the "
       "db_async_* fixtures map the backend's URL for you)",
       error('the engine cannot be created')),
    _h("missing-greenlet", "sqlite postgresql mysql mariadb mssql",
       r"MissingGreenlet|greenlet_spawn has not been called",
       "an attribute lazy-loaded inside async code (a relationship, an expired column): load "
       "it in the query with selectinload()/joinedload(), or give the Base AsyncAttrs and "
       "await obj.awaitable_attrs.name; expire_on_commit=False keeps columns loaded",
       error('the attribute access raises')),
    _h("asyncpg-aware-datetime", "postgresql",
       r"can't subtract offset-naive and offset-aware datetimes",
       "asyncpg refuses an aware datetime for a timestamp WITHOUT time zone column (psycopg2 "
       "and psycopg 3 accept it): declare DateTime(timezone=True), or write naive UTC",
       error('asyncpg rejects the value')),
    # Measured 2026-12-02: text() with a str bound for an integer column is refused by psycopg 3
    # and asyncpg with the message above; asyncpg refuses a str even in a typed insert()
    # ('str' object cannot be interpreted as an integer), which psycopg 3 converts.
    _h("server-side-binding", "postgresql",
       r"is of type [\w ]+ but expression is of type character varying|"
       r"'str' object cannot be interpreted as an integer",
       "psycopg 3 and asyncpg send typed parameters: a str for an integer or numeric column is "
       "refused where psycopg2 (client-side interpolation) accepted it; pass int or Decimal, "
       "or CAST in the SQL",
       error('the server rejects the parameter')),
    _h("enum-lookup", "sqlite mssql", r"is not among the defined enum values|LookupError",
       "Enum(..., native_enum=False, create_constraint=True) so every backend rejects "
       "unknown values",
       error('reading the row raises')),
    _h("case-insensitive-compare", "mysql mariadb mssql",
       r"'([^']+)' == '\1'",
       "MySQL/MariaDB/MSSQL collations compare case-insensitively: use a binary/_bin "
       "collation or compare lower() explicitly",
       warning('rows compare equal here and not elsewhere; the data is intact')),
    _h("fk-unenforced", "sqlite", r"DID NOT RAISE .*IntegrityError",
       "SQLite enforces foreign keys only with PRAGMA foreign_keys=ON on every connection",
       error('the foreign key is enforced elsewhere and not here')),
    _h("integrity-error-codes", "sqlite postgresql mysql mariadb mssql",
       r"\b(1062|1451|1452|23503|23505)\b|FOREIGN KEY constraint failed|UNIQUE constraint failed",
       "compare on the IntegrityError class, not the message or code, which differ per dialect",
       warning('the constraint holds; codes and messages differ')),
    # Findings of the conformance suite (pytest_dbmatrix.conformance): matched on "[id]".
    _h("mssql-max-key", "mssql", r"\[mssql-max-key\]",
       "give key and index columns a length: String() and Text are VARCHAR(max) on SQL Server, "
       "which cannot be part of a key or index",
       error('SQL Server rejects the key or index')),
    # "Specified key was too long; max key length is 3072 bytes" (1071): MariaDB 10.11.
    _h("index-key-size", _ALL, r"\[index-key-size\]|\b1071\b|Specified key was too long",
       "shorten the indexed columns (utf8mb4 takes 4 bytes a character: 3072 bytes is "
       "String(768) on MySQL/MariaDB; SQL Server allows 900 bytes in a primary key, 1700 in "
       "other indexes) or index a hash column",
       error('the server rejects the index')),
    _h("reserved-word", _ALL, r"\[reserved-word\]",
       "rename it (order -> orders, user -> account_user): SQLAlchemy quotes it, but raw SQL, "
       "reporting tools and other clients break on it",
       warning('SQLAlchemy quotes it; raw SQL and other tools break')),
    _h("unrenderable-type", _ALL, r"\[unrenderable-type\]",
       "use a portable type (String(n), JSON, a child table) or .with_variant() a type this "
       "dialect can render",
       error('the dialect cannot render the type: the DDL fails')),
    _h("enum-unenforced", _ALL, r"\[enum-unenforced\]",
       "Enum(..., native_enum=False, create_constraint=True) so every backend rejects unknown "
       "values",
       error('the allowed values are enforced elsewhere and not here')),
    _h("boolean-unenforced", _ALL, r"\[boolean-unenforced\]",
       "Boolean(create_constraint=True, name='ck_<table>_<column>') so 2 or 5 cannot be stored",
       warning('SQLAlchemy writes only true/false; other clients can store 2')),
    _h("unique-multiple-nulls", _ALL, r"\[unique-multiple-nulls\]",
       "SQL Server allows one NULL in a UNIQUE column: use a filtered unique index "
       "(mssql_where=column.isnot(None)) or make the column NOT NULL",
       error('SQL Server rejects a second NULL the others accept')),
    _h("ddl-rejected", _ALL, r"\[ddl-rejected\]",
       "the server rejected this CREATE TABLE/INDEX: change the type or option for this dialect "
       "with .with_variant() or a dialect-specific DDL rule",
       error('the server rejects the DDL')),
    _h("drop-cycle", _ALL, r"\[drop-cycle\]",
       "name the foreign keys of the cycle (a naming_convention) and mark one use_alter=True, so "
       "drop_all can drop that constraint before the tables",
       error('drop_all fails')),
    _h("value-rejected", _ALL, r"\[value-rejected\]",
       "an in-range value of the declared type is rejected here: choose a type that holds it on "
       "every backend, or validate the range in the application",
       error('the server rejects a valid value')),
    _h("value-changed", _ALL, r"\[value-changed\]",
       "the value read back differs from the value written: use a type that keeps it on every "
       "backend, or normalise before writing",
       error('the value read is not the value written')),
    _h("datetime-tz-loss", _ALL, r"\[datetime-tz-loss\]",
       "store naive UTC through a TypeDecorator: this backend drops the UTC offset of an aware "
       "datetime (only PostgreSQL's timestamptz keeps the instant)",
       error('the instant read is not the instant written')),
    _h("datetime-precision", _ALL, r"\[datetime-precision\]",
       "keep microseconds with mysql.DATETIME(fsp=6) / mysql.TIME(fsp=6) through "
       ".with_variant(..., 'mysql', 'mariadb'), or truncate them before writing",
       error('the value read is not the value written')),
    _h("decimal-precision", _ALL, r"\[decimal-precision\]",
       "declare Numeric(precision, scale) (a bare DECIMAL is DECIMAL(10,0) on MySQL/MariaDB); "
       "SQLite keeps 15 significant digits: store exact amounts as integers (cents)",
       error('the value read is not the value written')),
    _h("float-precision", _ALL, r"\[float-precision\]",
       "use Double() or Float(precision=53): Float is 4-byte single precision on MySQL/MariaDB",
       error('the value read is not the value written')),
    _h("char-padding", _ALL, r"\[char-padding\]",
       "use String(n) rather than CHAR(n): CHAR is blank-padded on PostgreSQL and loses "
       "trailing spaces on MySQL/MariaDB",
       error('the value read is not the value written')),
    _h("fk-action", _ALL, r"\[fk-action\]",
       "the ON DELETE action was not applied: declare ondelete= on the ForeignKey and keep ORM "
       "cascades consistent with it",
       error('the ON DELETE action is applied elsewhere and not here')),
    _h("unique-unenforced", _ALL, r"\[unique-unenforced\]",
       "an exact duplicate was accepted: check that the unique constraint or index exists on "
       "this backend",
       error('the constraint is enforced elsewhere and not here')),
    _h("not-null-unenforced", _ALL, r"\[not-null-unenforced\]",
       "NULL was accepted in a NOT NULL column: enable strict sql_mode (MySQL/MariaDB)",
       error('the constraint is enforced elsewhere and not here')),
    _h("check-unenforced", _ALL, r"\[check-unenforced\]",
       "a value rejected by the CHECK elsewhere is accepted here (MySQL < 8.0.16 ignores CHECK): "
       "validate in the application too",
       error('the constraint is enforced elsewhere and not here')),
    _h("integrity-error-class", _ALL, r"\[integrity-error-class\]",
       "this backend raised another class than IntegrityError: catch sqlalchemy.exc.DBAPIError "
       "or map error classes per dialect",
       warning('the constraint holds; only the exception class differs')),
    _h("unique-case-insensitive", _ALL, r"\[unique-case-insensitive\]",
       "'Bob' and 'bob' are duplicates here: store lower() values, or give the column a "
       "case-sensitive (_bin/_cs) collation, so every backend agrees",
       error('the constraint rejects here what it accepts elsewhere')),
    _h("unique-pad-space", _ALL, r"\[unique-pad-space\]",
       "'abc' and 'abc ' are duplicates here (PAD SPACE collation): strip trailing spaces "
       "before writing",
       error('the constraint rejects here what it accepts elsewhere')),
    _h("sqlite-fk-off", "sqlite", r"\[sqlite-fk-off\]",
       "your SQLite configuration leaves foreign keys off: run PRAGMA foreign_keys=ON on every "
       "connection (a connect event)",
       error('the foreign key is enforced elsewhere and not here')),
    _h("compare-trailing-space", _ALL, r"\[compare-trailing-space\]",
       "strip trailing spaces before writing and comparing: MySQL/MariaDB/SQL Server ignore "
       "them in '=' (PAD SPACE), PostgreSQL and SQLite do not",
       warning('rows compare equal here and not elsewhere; the data is intact')),
    _h("collation-order", _ALL, r"\[collation-order\]",
       "ORDER BY on text follows each server's collation: order by an explicit collation "
       "(sa.collate) or sort in Python when the order matters",
       warning('the order of rows differs; the data is intact')),
    _h("length-semantics", _ALL, r"\[length-semantics\]",
       "use func.char_length() to count characters: LENGTH() counts bytes on MySQL/MariaDB",
       warning('LENGTH() counts differently; the data is intact')),
    _h("rowcount", _ALL, r"\[rowcount\]",
       "do not rely on the rowcount of UPDATE/DELETE across backends (MySQL counts changed rows "
       "unless the FOUND_ROWS client flag is set)",
       warning('the statement works; the count it reports differs')),
    # Measured 2026-12-02 (Alembic 1.20, SQLAlchemy 2.1): offline_sql of MLflow's 90e64c465722,
    # which opens an ORM Session on op.get_bind(), fails with "AttributeError: 'MockConnection'
    # object has no attribute 'close'" for postgresql, mssql and oracle.
    _h("offline-needs-connection", _ALL, r"'MockConnection' object has no attribute",
       "the revision uses its connection for data (an ORM Session or a query on op.get_bind()); "
       "under --sql Alembic has only a mock connection that renders statements and returns no "
       "rows: put that part under `if not context.is_offline_mode():` (and ship it as SQL of "
       "its own), or write it with op.execute() / op.bulk_insert(), if you deploy with --sql",
       error("alembic upgrade --sql fails for this dialect")),
)


def find_hazard(message: str, dialect: str | None = None) -> Hazard | None:
    """The first hazard whose pattern matches `message` (and dialect, when one is given)."""
    for hazard in HAZARDS:
        if dialect and dialect not in hazard.dialects:
            continue
        if hazard.matches(message):
            return hazard
    return None


FINDINGS: tuple[Hazard, ...] = (
    # the environment findings of `dbmatrix doctor` and the report (facts.py)
    _f("version-unsupported", "upgrade the server, or pass --min-version if the product supports "
       "it",
       error("features the code relies on may be missing")),
    _f("encoding-not-utf8", "create the database with ENCODING 'UTF8' (CREATE DATABASE ... "
       "ENCODING 'UTF8' TEMPLATE template0)",
       error("characters outside the encoding are rejected")),
    _f("charset-not-utf8mb4", "ALTER DATABASE <db> CHARACTER SET utf8mb4 COLLATE "
       "utf8mb4_unicode_ci, or create tables with mysql_charset='utf8mb4'",
       error("4-byte characters are rejected or mangled")),
    _f("collation-case-insensitive", "'Eric' = 'eric' is true here: compare with lower() on every "
       "backend or give the columns a binary/_bin/_CS collation",
       warning("'Eric' = 'eric' is true; the data is intact")),
    _f("sql-mode-non-strict", "set sql_mode to include STRICT_TRANS_TABLES (server config, or SET "
       "SESSION sql_mode in a connect event): otherwise over-long values are truncated with only "
       "a warning",
       error("over-long values are truncated: data read is not data written")),
    _f("storage-engine-no-fk", "set default_storage_engine=InnoDB or create tables with "
       "mysql_engine='InnoDB': other engines ignore foreign keys and transactions",
       error("foreign keys and transactions are ignored")),
    _f("foreign-key-checks-off", "remove foreign_key_checks=0 from the server or session config",
       error("foreign keys are not enforced")),
    _f("sqlite-fk-pragma-off", "run PRAGMA foreign_keys=ON on every connection (a connect event)",
       error("foreign keys are not enforced")),
    _f("sqlite-not-strict", "validate lengths and types in the application, or create tables with "
       "sqlite_strict=True",
       warning("types and lengths are not enforced; SQLAlchemy's types still convert")),
    _f("time-zone-not-utc", "store naive UTC datetimes (or timestamptz on PostgreSQL) and do not "
       "rely on the server's local time in defaults such as now()",
       warning("server-side defaults depend on the server's clock zone")),
    _f("non-transactional-ddl", "a migration that fails half-way stays half-applied: keep one DDL "
       "per revision and take a backup before upgrading",
       warning("only a failing migration is affected")),
    _f("mssql-varchar-codepage", "use Unicode/NVARCHAR columns for text, or a _UTF8 collation",
       error("characters outside the code page are mangled")),
    _f("mssql-ansi-warnings-off", "SET ANSI_WARNINGS ON (the default): otherwise over-long values "
       "are truncated silently",
       error("over-long values are truncated silently")),
    _f("privilege-missing", "grant the application's user CREATE, ALTER, DROP, INDEX and "
       "REFERENCES on its database or schema",
       error("migrations and create_all fail")),
    _f("scratch-schema-denied", "informational: the user cannot create schemas/databases; the "
       "doctor checked in the current one with prefixed scratch tables",
       warning("informational: the doctor checked in the current schema")),
    _f("scratch-left-behind", "drop the named scratch objects by hand: the doctor could not",
       warning("scratch objects remain; nothing of the user's changed")),
    _f("latency-high", "put the application next to the database: every ORM round trip pays this",
       warning("slow, not wrong")),
    _f("sqlite-file-readonly", "make the database file and its directory writable for the "
       "application's user (SQLite writes a journal beside the file)",
       error("every write fails")),
    _f("connection-failed", "check the URL, that the server runs and accepts this user, and the "
       "driver is installed",
       error("nothing can run")),
    # findings of the Alembic migration checks (pytest_dbmatrix.migrations)
    _f("multiple-heads", "merge the heads (alembic merge heads -m merge) before deploying",
       error("alembic upgrade head refuses to run")),
    _f("env-contract", 'in env.py connect with config.attributes.get("connection") (or its '
       "engine) when it is set, else with the Config's sqlalchemy.url: not with a URL of its own",
       error("env.py would migrate another database than the one checked")),
    _f("upgrade-failed", "fix the revision on this backend (see the SQL and error), or make the "
       "operation dialect-specific with op.get_bind().dialect.name",
       error("the upgrade fails on this backend")),
    _f("downgrade-failed", "make downgrade() undo upgrade() on this backend; drop_table also "
       "drops its indexes",
       error("the downgrade fails on this backend")),
    _f("downgrade-mismatch", "make downgrade() drop or restore exactly what upgrade() changed "
       "(constraints, indexes, types, defaults)",
       error("the downgrade leaves another schema than the one it started from")),
    _f("up-down-up-failed", "downgrade() leaves something behind that the next upgrade() trips on",
       error("upgrading again after a downgrade fails")),
    _f("up-down-up-mismatch", "upgrade() after downgrade() does not give the same schema",
       error("upgrading again gives another schema")),
    _f("model-drift", "generate a revision for the difference (alembic revision --autogenerate) "
       "or fix the models",
       error("the migrated schema is not what the models expect")),
    _f("rename-as-add-drop", "hand-write op.alter_column(table, old, new_column_name=new) instead "
       "of add_column + drop_column",
       error("the column's data is lost")),
    _f("data-loss", "keep the data (copy it before dropping) or list it in the revision's "
       "dbmatrix_allow_data_loss = ['table.column'] when the loss is intended",
       error("rows or values are lost")),
    _f("value-changed", "a narrowing type change rounds or truncates: widen the type or convert "
       "the values explicitly first",
       error("the value read is not the value written")),
    _f("constraint-dropped", "pass existing_nullable and existing_server_default to alter_column",
       error("a constraint or default is silently lost")),
    _f("fails-with-data", "the revision works on empty tables only: backfill or convert the rows "
       "before tightening types or constraints",
       error("the upgrade fails on a database with rows")),
    # Measured 2026-12-02 (SQLite 3.40, foreign keys on): batch_alter_table on a table whose
    # rows another table's rows reference raises IntegrityError 'FOREIGN KEY constraint failed'
    # (MLflow's a8c4a736bde6 on model_versions); with no referencing rows it passes.
    _f("sqlite-batch-referenced", "batch_alter_table rebuilds the table, and with PRAGMA "
       "foreign_keys=ON dropping the old copy fails while other tables' rows reference it: run "
       "the migration with PRAGMA foreign_keys=OFF (and PRAGMA foreign_key_check after), as "
       "Alembic's batch mode documentation advises",
       error("the upgrade fails on a database with rows")),
    _f("seeded-rows-rejected", "the rows dbmatrix generated for data_preserved do not satisfy a "
       "constraint this revision adds, so the revisions after it were not checked with rows; "
       "a real database's rows may satisfy it or not: check yours against the constraint",
       warning("generated rows, not the revision, broke the constraint")),
    _f("fk-orphans", "delete or repair the orphaned rows in the revision; on SQLite run PRAGMA "
       "foreign_key_check after batch operations",
       error("rows violate a foreign key after the upgrade")),
    _f("sqlite-batch-leftovers", "a batch operation failed half-way: drop the _alembic_tmp_ "
       "tables and make the batch operation work on SQLite",
       error("a failed batch operation left temporary tables")),
    _f("non-atomic-revision", "split the revision into one DDL statement per revision, or make "
       "each step idempotent (IF NOT EXISTS guards)",
       warning("only a failing upgrade leaves the schema half-applied")),
    _f("downgrade-empty", "write the downgrade; or, when the revision is irreversible on "
       "purpose (MLflow's are), tell your users they cannot downgrade past it: dbmatrix checks "
       "the downgrades above it, and up_down_up only upgrades it",
       warning("the history cannot be downgraded below this revision")),
    _f("offline-sql-failed", "make the revision render without a database (no reflection, pass "
       "copy_from= to batch_alter_table) if you deploy with --sql",
       error("alembic upgrade --sql fails for this dialect")),
)


ENTRIES: dict[str, Hazard] = {h.id: h for h in FINDINGS} | {h.id: h for h in HAZARDS}
"""Every id a finding may carry; an error hazard wins over a finding of the same id."""


def entry(finding: str) -> Hazard | None:
    return ENTRIES.get(finding)


def hint_for(finding: str) -> str | None:
    """The fix of a hazard or finding id."""
    known = ENTRIES.get(finding)
    return known.hint if known else None
