"""`dbmatrix doctor` against the real PostgreSQL and MariaDB here, and SQLite files."""

from __future__ import annotations

import argparse
import hashlib
import json
import secrets
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from pytest_dbmatrix import doctor
from pytest_dbmatrix.facts import ConnectionProbe, ProbeError
from tests.conftest import LIVE_URLS

PG, MARIADB, MYSQL = LIVE_URLS["postgresql"], LIVE_URLS["mariadb"], LIVE_URLS["mysql"]
NON_STRICT = "?init_command=SET SESSION sql_mode=''"
ISSUE_FACTS = {"server", "version_supported", "encoding", "collation", "case_sensitive",
               "strict_mode", "foreign_keys", "time_zone", "isolation", "transactional_ddl",
               "identifier_limit", "privileges", "connect_ms", "latency_ms", "scratch"}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    parser = argparse.ArgumentParser(prog="dbmatrix doctor")
    doctor.add_arguments("doctor", parser)
    code = doctor.run_doctor(parser.parse_args(list(argv)))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code, out = run(capsys, *argv, "--json")
    return code, json.loads(out)


def facts_of(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["key"]: f for f in report["facts"]}


def scratch_containers(url: str) -> set[str]:
    engine = sa.create_engine(url)
    sql = ("SELECT nspname FROM pg_namespace" if url.startswith("postgresql")
           else "SHOW DATABASES")
    try:
        with engine.connect() as conn:
            return {r[0] for r in conn.exec_driver_sql(sql) if r[0].startswith("dbmatrix_doctor")}
    finally:
        engine.dispose()


@pytest.mark.parametrize("url", [PG, MARIADB, MYSQL], ids=["postgresql", "mariadb", "mysql"])
def test_all_facts_on_live_servers(capsys: pytest.CaptureFixture[str], url: str) -> None:
    code, report = run_json(capsys, url)
    facts = facts_of(report)
    assert code == 0, report
    assert report["blocking"] == 0
    assert set(facts) >= ISSUE_FACTS, ISSUE_FACTS - set(facts)
    assert facts["privileges"]["verdict"] == "ok"
    assert facts["scratch"]["value"].startswith("dbmatrix_doctor_")
    assert "confirmed on scratch objects" in facts["foreign_keys"]["detail"]
    assert facts["latency_ms"]["value"] > 0
    assert facts["scratch"]["value"] not in scratch_containers(url)  # others' runs may be there


def test_postgresql_facts(capsys: pytest.CaptureFixture[str]) -> None:
    _code, report = run_json(capsys, PG)
    facts = facts_of(report)
    assert facts["server"]["value"].startswith("PostgreSQL 15")
    assert facts["encoding"]["value"] == "UTF8"
    assert facts["case_sensitive"]["value"] is True
    assert facts["transactional_ddl"]["value"] is True
    assert facts["identifier_limit"]["value"] == 63
    assert facts["isolation"]["value"] == "READ COMMITTED"
    assert facts["connected_as"]["value"] == "postgres"


def test_mariadb_facts_and_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, MARIADB)
    assert code == 0
    for expected in ("MariaDB 10.11", "supported version", "utf8mb4", "utf8mb4_general_ci",
                     "strict values", "STRICT_TRANS_TABLES", "InnoDB", "time zone",
                     "REPEATABLE READ", "transactional DDL", "identifier length limit",
                     "create/alter/drop tables and indexes", "round trip (ms)",
                     "0 blocking problem(s)"):
        assert expected in out, expected
    assert "WARN     case-sensitive compare" in out
    assert "WARN     transactional DDL" in out
    assert "confirmed on scratch objects" in out


def test_non_strict_sql_mode_by_url_is_blocking(capsys: pytest.CaptureFixture[str]) -> None:
    code, report = run_json(capsys, MARIADB + NON_STRICT)
    strict = facts_of(report)["strict_mode"]
    assert code == doctor.EXIT_BLOCKING
    assert strict["verdict"] == "block"
    assert strict["finding"] == "sql-mode-non-strict"
    assert "session sql_mode ''" in strict["detail"]
    assert "STRICT_TRANS_TABLES" in strict["hint"]


def test_non_strict_sql_mode_by_init_sql(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, MARIADB, "--init-sql", "SET SESSION sql_mode=''")
    assert code == 1
    assert "BLOCK    strict values" in out
    assert "1 blocking problem(s)" in out


def test_min_version_makes_an_old_server_blocking(capsys: pytest.CaptureFixture[str]) -> None:
    code, report = run_json(capsys, PG, "--min-version", "99.1")
    version = facts_of(report)["version_supported"]
    assert code == 1
    assert (version["value"], version["verdict"]) == (False, "block")
    assert "older than PostgreSQL 99.1" in version["detail"]


def test_password_is_never_printed(capsys: pytest.CaptureFixture[str]) -> None:
    password = sa.make_url(PG).password or "Pw" + secrets.token_hex(6)  # a server's own, or any
    url = sa.make_url(PG).set(password=password).render_as_string(hide_password=False)
    code, out = run(capsys, url)
    assert code == 0
    _code_json, out_json = run(capsys, url, "--json")
    bad = sa.make_url(MARIADB).set(username="nobody_" + secrets.token_hex(3), password=password)
    code_bad, out_bad = run(capsys, bad.render_as_string(hide_password=False))
    assert code_bad == doctor.EXIT_UNCHECKED
    assert "cannot connect" in out_bad and "***" in out_bad
    for text in (out, out_json, out_bad):
        assert password not in text


def test_bad_url_and_missing_driver(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "not a url")
    assert code == 2 and "expected dialect+driver://" in out
    code, out = run(capsys, "oracle://scott:tiger@127.0.0.1/x")
    assert code == 2 and "unsupported database 'oracle'" in out and "tiger" not in out
    code, report = run_json(capsys, "mssql+pyodbc://sa:Secret123@127.0.0.1:1/app")
    assert code == 2
    assert "pytest-dbmatrix[mssql]" in report["error"] or "cannot connect" in report["error"]
    assert "Secret123" not in json.dumps(report)


def test_url_from_environment(capsys: pytest.CaptureFixture[str],
                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(doctor.URL_ENV, PG)
    code, report = run_json(capsys)
    assert code == 0 and report["dialect"] == "postgresql"
    monkeypatch.delenv(doctor.URL_ENV)
    code, out = run(capsys)
    assert code == 2 and doctor.URL_ENV in out


def _digest(path: Path) -> tuple[str, float]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime


@pytest.fixture
def sqlite_file(tmp_path: Path) -> Path:
    path = tmp_path / "customer.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, total INTEGER)")
        conn.execute("INSERT INTO orders VALUES (1, 10)")
    return path


def test_sqlite_file_is_never_changed(capsys: pytest.CaptureFixture[str],
                                      sqlite_file: Path) -> None:
    before = _digest(sqlite_file)
    files = set(sqlite_file.parent.iterdir())
    code, report = run_json(capsys, f"sqlite:///{sqlite_file}")
    facts = facts_of(report)
    assert code == 0, report
    assert set(facts) >= ISSUE_FACTS
    assert facts["privileges"]["verdict"] == "ok"
    assert facts["file_access"]["value"] is True
    assert (facts["foreign_keys"]["value"], facts["foreign_keys"]["finding"]) == (
        False, "sqlite-fk-pragma-off")
    assert _digest(sqlite_file) == before
    assert set(sqlite_file.parent.iterdir()) == files
    with sqlite3.connect(sqlite_file) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master")]
    assert tables == ["orders"]


def test_sqlite_init_sql(capsys: pytest.CaptureFixture[str], sqlite_file: Path) -> None:
    code, report = run_json(capsys, f"sqlite:///{sqlite_file}", "--init-sql",
                            "PRAGMA foreign_keys=ON")
    foreign_keys = facts_of(report)["foreign_keys"]
    assert code == 0
    assert foreign_keys["value"] is True
    assert "confirmed on scratch objects" in foreign_keys["detail"]


def test_read_only_sqlite_file_is_blocking(capsys: pytest.CaptureFixture[str],
                                           sqlite_file: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(doctor.os, "access", lambda path, mode: False)  # root may write anyway
    code, report = run_json(capsys, f"sqlite:///{sqlite_file}")
    access = facts_of(report)["file_access"]
    assert code == doctor.EXIT_BLOCKING
    assert (access["value"], access["finding"]) == (False, "sqlite-file-readonly")


def test_missing_sqlite_file_is_not_created(capsys: pytest.CaptureFixture[str],
                                            tmp_path: Path) -> None:
    missing = tmp_path / "nope.db"
    code, out = run(capsys, f"sqlite:///{missing}")
    assert code == 2 and "does not exist" in out
    assert not missing.exists()


class FailOnAlter(ConnectionProbe):
    """A probe whose ALTER TABLE dies with a non-database error, half-way through."""

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        if sql.startswith("ALTER TABLE"):
            raise RuntimeError("interrupted")
        return super().rows(sql)


@pytest.mark.parametrize("url", [PG, MARIADB], ids=["postgresql", "mariadb"])
def test_scratch_objects_are_removed_on_error(url: str) -> None:
    token = secrets.token_hex(4)
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn, pytest.raises(RuntimeError, match="interrupted"):
            doctor.diagnose(FailOnAlter(conn), conn.dialect.name, token=token)
    finally:
        engine.dispose()
    assert f"dbmatrix_doctor_{token}" not in scratch_containers(url)


@pytest.fixture
def restricted_pg() -> Iterator[tuple[str, str]]:
    """A login role without CREATE anywhere, and a database of the test's own where it may
    create tables in public but not schemas: (url of test db, url of own db)."""
    role, password = f"dbmatrix_doctor_role_{secrets.token_hex(3)}", secrets.token_hex(8)
    database = f"dbmatrix_doctortest_{secrets.token_hex(3)}"
    admin = sa.create_engine(PG, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE ROLE \"{role}\" LOGIN PASSWORD '{password}'")
        conn.exec_driver_sql(f'CREATE DATABASE "{database}"')
    own = sa.make_url(PG).set(database=database)
    owner = sa.create_engine(own, isolation_level="AUTOCOMMIT")
    with owner.connect() as conn:
        conn.exec_driver_sql(f'GRANT CREATE ON SCHEMA public TO "{role}"')
    owner.dispose()
    as_role = sa.make_url(PG).set(username=role, password=password)
    try:
        yield (as_role.render_as_string(hide_password=False),
               as_role.set(database=database).render_as_string(hide_password=False))
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            conn.exec_driver_sql(f'DROP OWNED BY "{role}"')
            conn.exec_driver_sql(f'DROP ROLE IF EXISTS "{role}"')
        admin.dispose()


def test_missing_privileges_are_blocking(capsys: pytest.CaptureFixture[str],
                                         restricted_pg: tuple[str, str]) -> None:
    no_rights, _ = restricted_pg
    code, report = run_json(capsys, no_rights)
    facts = facts_of(report)
    assert code == doctor.EXIT_BLOCKING
    assert facts["privileges"]["verdict"] == "block"
    assert "permission denied" in facts["privileges"]["detail"]
    assert facts["privileges"]["finding"] == "privilege-missing"
    assert facts["scratch"]["finding"] == "scratch-schema-denied"
    assert "scratch_left" not in facts


def test_prefixed_tables_when_schemas_are_denied(capsys: pytest.CaptureFixture[str],
                                                 restricted_pg: tuple[str, str]) -> None:
    _, table_rights = restricted_pg
    code, report = run_json(capsys, table_rights)
    facts = facts_of(report)
    assert code == 0, report
    assert facts["scratch"]["value"].endswith("_*")
    assert facts["privileges"]["verdict"] == "ok"
    engine = sa.create_engine(table_rights)
    try:
        with engine.connect() as conn:
            left = conn.exec_driver_sql(
                "SELECT tablename FROM pg_tables WHERE tablename LIKE 'dbmatrix_doctor%%'"
            ).fetchall()
    finally:
        engine.dispose()
    assert left == []


def test_probe_error_is_one_line_and_does_not_poison() -> None:
    engine = sa.create_engine(PG)
    try:
        with engine.connect() as conn:
            probe = ConnectionProbe(conn)
            with pytest.raises(ProbeError) as caught:
                probe.rows("SELECT * FROM no_such_table_here")
            assert probe.rows("SELECT 1") == [(1,)]
    finally:
        engine.dispose()
    assert "\n" not in str(caught.value)
    assert "ProgrammingError[42P01]" in str(caught.value)
