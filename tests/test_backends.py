"""Per-family provisioning SQL and capabilities, checked without servers where none exists."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa

from pytest_dbmatrix.backends import FAMILIES, family_for
from pytest_dbmatrix.backends.base import checked_identifier
from pytest_dbmatrix.catalogue import HAZARDS, find_hazard
from pytest_dbmatrix.errors import normalise
from pytest_dbmatrix.run_identity import RunIdentity, is_plugin_database, stale_databases

COMPILE_ONLY = {"oracle"}  # dialects checked statically by the conformance suite, never run


class RecordingConnection:
    """Stands in for a Connection: records SQL and answers from a script."""

    def __init__(self, answers: dict[str, list[tuple[Any, ...]]] | None = None) -> None:
        self.sql: list[str] = []
        self.answers = answers or {}

    def exec_driver_sql(self, sql: str) -> list[tuple[Any, ...]]:
        self.sql.append(sql)
        return next((rows for key, rows in self.answers.items() if key in sql), [])


def test_mssql_creates_and_drops_its_database() -> None:
    mssql = FAMILIES["mssql"]
    conn = RecordingConnection({"sys.databases": [("master",), ("dbmatrix_x",)]})
    mssql.create_database(conn, "dbmatrix_0a0a_1_abcd_main_mssql")  # type: ignore[arg-type]
    mssql.drop_database(conn, "dbmatrix_0a0a_1_abcd_main_mssql")  # type: ignore[arg-type]
    assert conn.sql[0] == "CREATE DATABASE [dbmatrix_0a0a_1_abcd_main_mssql]"
    assert "SET SINGLE_USER WITH ROLLBACK IMMEDIATE" in conn.sql[1]
    assert "DROP DATABASE [dbmatrix_0a0a_1_abcd_main_mssql]" in conn.sql[1]
    assert mssql.list_databases(conn) == ["master", "dbmatrix_x"]  # type: ignore[arg-type]


def test_mssql_url_defaults() -> None:
    mssql = FAMILIES["mssql"]
    url = mssql.with_driver_defaults(  # type: ignore[attr-defined]
        sa.make_url("mssql+pyodbc://sa:pw@127.0.0.1:1433/master"))
    assert url.query["TrustServerCertificate"] == "yes"
    assert url.query["driver"] == "ODBC Driver 18 for SQL Server"
    given = sa.make_url("mssql+pyodbc://sa:pw@h/master?driver=FreeTDS&TrustServerCertificate=no")
    kept = mssql.with_driver_defaults(given)  # type: ignore[attr-defined]
    assert kept.query == given.query
    assert mssql.connect_args(sa.make_url("mssql+pyodbc://h"), 3.2) == {"timeout": 3}
    assert mssql.connect_args(sa.make_url("mssql+pymssql://h"), 3) == {"login_timeout": 3}


@pytest.mark.parametrize("bad", ["x; DROP DATABASE test", "a-b", "", "name`"])
def test_unsafe_database_names_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="unsafe database name"):
        checked_identifier(bad)
    with pytest.raises(ValueError):
        FAMILIES["postgresql"].create_database(RecordingConnection(), bad)  # type: ignore[arg-type]


def test_compile_dialect_needs_no_server_or_driver() -> None:
    table = sa.Table("t", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("s", sa.Unicode(20)))
    ddl = str(sa.schema.CreateTable(table).compile(dialect=FAMILIES["mssql"].compile_dialect()))
    assert "NVARCHAR(20)" in ddl


def test_capabilities_as_report_data() -> None:
    """Every family states every capability; the report gets plain JSON values."""
    fields = ["transactional_ddl", "enforces_foreign_keys", "enforces_check", "enforces_length",
              "case_sensitive_compare", "keeps_timezone", "insert_returning", "update_returning",
              "max_identifier_length", "notes"]
    for kind, family in FAMILIES.items():
        data = family.capabilities.as_dict()
        assert list(data) == fields, kind
        assert isinstance(data["notes"], list), kind
        assert json.loads(json.dumps(data)) == data, kind
    mysql, mariadb = FAMILIES["mysql"].capabilities, FAMILIES["mariadb"].capabilities
    assert (mysql.insert_returning, mariadb.insert_returning) == (False, True)
    assert mariadb.transactional_ddl is mysql.transactional_ddl is False
    assert FAMILIES["postgresql"].capabilities.transactional_ddl is True


def test_family_for_named_backends() -> None:
    assert family_for("postgresql16") is FAMILIES["postgresql"]
    assert family_for("mariadb") is FAMILIES["mariadb"]
    assert family_for("legacy", "mysql") is FAMILIES["mysql"]
    assert family_for("oracle") is None


def test_database_names_and_stale_detection() -> None:
    run = RunIdentity("abcd", 4242, "0f0f", "gw1")
    name = run.database_name("postgresql16")
    assert name == "dbmatrix_abcd_4242_0f0f_gw1_postgresql16"
    assert is_plugin_database(name)
    dead = "dbmatrix_abcd_999999999_1111_main_mysql"
    other_host = "dbmatrix_ffff_999999999_1111_main_mysql"
    users = ["test", "dbmatrix", "dbmatrix_prod", "dbmatrix_abcd_1_x_main_mysql"]
    assert stale_databases([name, dead, other_host, *users], run) == [dead]


def test_normalise_strips_sql_and_links() -> None:
    try:
        sa.create_engine("sqlite://").connect().exec_driver_sql("SELEC 1")
    except sa.exc.DBAPIError as exc:
        error = normalise(exc)
    assert error.exception == "OperationalError"
    assert error.message == 'near "SELEC": syntax error'
    assert error.dbapi_error == "sqlite3.OperationalError"
    assert error.line == 'OperationalError[SQLITE_ERROR]: near "SELEC": syntax error'


def test_every_hazard_has_a_hint_and_known_dialects() -> None:
    ids = [h.id for h in HAZARDS]
    assert len(ids) == len(set(ids))
    for hazard in HAZARDS:
        assert hazard.hint and set(hazard.dialects) <= set(FAMILIES) | COMPILE_ONLY
    found = find_hazard("(in table 't', column 's'): VARCHAR requires a length on dialect mysql",
                        "mysql")
    assert found is not None and found.id == "varchar-length"
    assert find_hazard("VARCHAR requires a length", "postgresql") is None
