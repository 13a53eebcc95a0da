"""Per-family provisioning SQL and capabilities, checked without servers where none exists."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from pytest_dbmatrix.backends import FAMILIES, LIVE, OFFLINE_ONLY, family_for, for_dialect
from pytest_dbmatrix.backends.base import BackendUnavailable, ServerInfo, checked_identifier
from pytest_dbmatrix.backends.recipes import Binaries
from pytest_dbmatrix.catalogue import HAZARDS, find_hazard
from pytest_dbmatrix.errors import normalise
from pytest_dbmatrix.facts import version_fact
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
    url = mssql.with_driver_defaults(sa.make_url("mssql+pyodbc://sa:pw@127.0.0.1:1433/master"))
    assert url.query["TrustServerCertificate"] == "yes"
    assert url.query["driver"] == "ODBC Driver 18 for SQL Server"
    given = sa.make_url("mssql+pyodbc://sa:pw@h/master?driver=FreeTDS&TrustServerCertificate=no")
    kept = mssql.with_driver_defaults(given)
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


def test_registry_separates_live_from_offline_only_families() -> None:
    assert LIVE == ("sqlite", "postgresql", "mysql", "mariadb", "mssql")
    assert OFFLINE_ONLY == ("oracle",)
    assert list(FAMILIES) == [*LIVE, *OFFLINE_ONLY]
    assert family_for("oracle", "oracle") is None  # never selectable as a backend
    assert family_for("legacy", "postgres") is FAMILIES["postgresql"]  # a URL alias


def test_lookup_by_sqlalchemy_dialect_name() -> None:
    for kind in FAMILIES:
        family = for_dialect(kind)
        assert family is not None and family.kind == kind
        assert family.compile_dialect().name == kind
    assert for_dialect("firebird") is None
    oracle = FAMILIES["oracle"]
    assert oracle.offline_url == "oracle://" and FAMILIES["mariadb"].offline_url == "mariadb://"
    assert oracle.container_recipe() is None and oracle.local_recipe() is None


def test_mariadb_and_mysql_reach_each_others_servers_only() -> None:
    mysql, mariadb, postgresql = FAMILIES["mysql"], FAMILIES["mariadb"], FAMILIES["postgresql"]
    assert mysql.reaches("mariadb") and mariadb.reaches("mysql") and mysql.reaches("mysql")
    assert not postgresql.reaches("mysql") and not mysql.reaches("postgresql")
    maria_server = ServerInfo("MariaDB", (10, 11), "10.11.6")
    assert mysql.served_by(maria_server) is mariadb
    assert mariadb.served_by(ServerInfo("MySQL", (8, 0), "8.0.36")) is mysql
    assert postgresql.served_by(ServerInfo("PostgreSQL", (15,), "15")) is postgresql
    assert FAMILIES["mssql"].served_by(ServerInfo("SQL Server", (16,), "16.0")).kind == "mssql"


def test_container_recipes_per_family() -> None:
    recipes = {kind: FAMILIES[kind].container_recipe() for kind in LIVE}
    assert recipes["sqlite"] is None
    postgresql, mysql, mariadb, mssql = (recipes[k] for k in LIVE[1:])
    assert postgresql and mysql and mariadb and mssql
    assert (postgresql.port, mysql.port, mariadb.port, mssql.port) == (5432, 3306, 3306, 1433)
    assert mariadb.command is mysql.command and mariadb.timeout < mysql.timeout
    assert mariadb.environment("pw", 1, False) == {"MARIADB_ROOT_PASSWORD": "pw",
                                                   "MARIADB_DATABASE": "test"}
    assert postgresql.environment("pw", 4000, True)["PGPORT"] == "4000"
    assert "PGPORT" not in postgresql.environment("pw", 4000, False)
    assert "listen_addresses=*" in postgresql.command(5432, False)
    assert mssql.command(1433, False) is None and mssql.admin_database == "master"


def test_local_recipes_per_family(tmp_path: Path) -> None:
    postgresql, mysql, mariadb = (FAMILIES[k].local_recipe() for k in LIVE[1:4])
    assert postgresql and mysql and mariadb is mysql  # MariaDB has no local recipe of its own
    assert FAMILIES["sqlite"].local_recipe() is None and FAMILIES["mssql"].local_recipe() is None
    found = Binaries("/x/postgres", ("/x/initdb",), "PostgreSQL", "PostgreSQL binaries in /x")
    argv = postgresql.initialise(found, tmp_path / "data", "pw", None)
    assert argv[:3] == ["/x/initdb", "-D", str(tmp_path / "data")]
    assert (tmp_path / "pwfile").read_text() == "pw\n"
    assert (tmp_path / "pwfile").stat().st_mode & 0o077 == 0
    url = mysql.admin_url("mysql+pymysql", 4001, "pw")
    assert (url.username, url.port, url.password) == ("root", 4001, "pw")
    maria = Binaries("/x/mariadbd", ("/x/mariadb-install-db",), "MariaDB", "MariaDB binaries")
    setup = mysql.initialise(maria, tmp_path / "data", "pw", None)
    assert setup[0] == "/x/mariadb-install-db" and "--skip-test-db" in setup
    assert "IDENTIFIED BY 'pw'" in (tmp_path / "init.sql").read_text()
    assert mysql.socket and mysql.socket(tmp_path) == tmp_path / "mysqld.sock"
    assert f"--socket={tmp_path / 'mysqld.sock'}" in mysql.command(maria, tmp_path, 4001)


def test_server_driver_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    postgresql = FAMILIES["postgresql"]
    assert postgresql.server_driver("pg") == ("postgresql+psycopg2", {})
    monkeypatch.setattr(type(postgresql), "driver_module", "no_such_driver_module")
    with pytest.raises(BackendUnavailable, match=r"no_such_driver_module is not installed: "
                                                 r"pip install 'pytest-dbmatrix\[postgresql\]'"):
        postgresql.server_driver("pg")


class ScriptedProbe:
    """A Probe answering from a script of (SQL fragment -> rows)."""

    def __init__(self, answers: dict[str, list[tuple[Any, ...]]]) -> None:
        self.answers = answers

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        return next(rows for key, rows in self.answers.items() if key in sql)


def test_environment_facts_are_the_familys_own() -> None:
    mysql, mariadb = FAMILIES["mysql"], FAMILIES["mariadb"]
    assert mariadb.fact_gatherers() == mysql.fact_gatherers() != ()  # MariaDB reads like MySQL
    assert mariadb.identity_query() == "SELECT CURRENT_USER(), DATABASE()"
    assert FAMILIES["sqlite"].identity_query() is None
    assert FAMILIES["oracle"].fact_gatherers() == ()
    scratch = {kind: sql for kind in LIVE if (sql := FAMILIES[kind].scratch_sql())}
    assert list(scratch) == list(LIVE) and scratch["sqlite"].create_container is None
    assert scratch["mssql"].quote("t") == "[t]" and scratch["mariadb"].quote("t") == "`t`"
    info = mysql.probe_server_info(ScriptedProbe({"VERSION()": [("10.11.6-MariaDB-0+deb12u1",)]}))
    assert info == ServerInfo("MariaDB", (10, 11, 6), "10.11.6")


def test_the_minimum_version_is_the_servers_family() -> None:
    """The mysql dialect on MariaDB 10.5 is graded against MariaDB's minimum, not MySQL's."""
    old_maria = ServerInfo("MariaDB", (10, 5), "10.5.1")
    fact = version_fact(old_maria, family=FAMILIES["mysql"].served_by(old_maria))
    assert (fact.verdict, fact.detail) == ("block", "MariaDB 10.5.1 is older than MariaDB 10.6")
    mysql_8 = ServerInfo("MySQL", (8, 0, 36), "8.0.36")
    assert version_fact(mysql_8, family=FAMILIES["mysql"].served_by(mysql_8)).verdict == "ok"
    assert version_fact(mysql_8, (8, 4), FAMILIES["mysql"]).verdict == "block"
    assert [FAMILIES[k].min_version for k in LIVE] == [(3, 25), (13,), (8, 0), (10, 6), (14,)]


def test_mysql_or_mariadb_from_version_text() -> None:
    from pytest_dbmatrix.backends.mysql import product_of

    assert product_of("10.11.6-MariaDB-0+deb12u1") == "MariaDB"
    assert product_of("mariadbd  Ver 10.11.6-MariaDB for debian-linux-gnu") == "MariaDB"
    assert product_of("8.0.36") == product_of("/usr/sbin/mysqld  Ver 8.4.0") == "MySQL"
