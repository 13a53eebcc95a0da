"""Environment facts of every backend in the -v header and the JSON report of a real run."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from pytest_dbmatrix.facts import ConnectionProbe, ProbeError, environment
from tests.conftest import LIVE, LIVE_URLS

TESTS = """
def test_select(db_connection):
    import sqlalchemy as sa
    assert db_connection.scalar(sa.text("SELECT 1")) == 1
"""
FACT_KEYS = {"server", "version_supported", "encoding", "collation", "case_sensitive",
             "strict_mode", "foreign_keys", "time_zone", "isolation", "transactional_ddl",
             "identifier_limit"}


@pytest.fixture
def run_all(pytester: pytest.Pytester, live_urls: dict[str, str]) -> pytest.Pytester:
    pytester.makepyfile(test_app=TESTS)
    return pytester


def test_verbose_header_shows_facts_of_every_backend(run_all: pytest.Pytester) -> None:
    result = run_all.runpytest("-v", f"--dbmatrix={LIVE}", "--dbmatrix-strict")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines([
        "dbmatrix backends in use:",
        "  sqlite: SQLite *",
        "    environment: character set UTF-8, *foreign keys enforced yes*",
        "  postgresql: PostgreSQL 15*",
        "    environment: character set UTF8, collation *, case-sensitive compare yes, strict "
        "values yes, foreign keys enforced yes, time zone *, default isolation READ COMMITTED, "
        "transactional DDL yes, identifier length limit 63",
        "  mysql: MariaDB 10.11*",
        "    environment: character set utf8mb4, *case-sensitive compare no*transactional DDL no*",
        "    warn: case-sensitive compare: *; fix: *lower()*",
        "  mariadb: MariaDB 10.11*",
        "    environment: *default isolation REPEATABLE READ*",
    ])


def test_plain_header_has_no_facts(run_all: pytest.Pytester) -> None:
    result = run_all.runpytest(f"--dbmatrix={LIVE}", "--dbmatrix-strict")
    result.assert_outcomes(passed=4)
    assert "environment:" not in result.stdout.str()
    result.stdout.fnmatch_lines(["  postgresql: PostgreSQL 15*"])


def test_json_report_has_facts_of_every_backend(run_all: pytest.Pytester) -> None:
    result = run_all.runpytest(f"--dbmatrix={LIVE}", "--dbmatrix-strict",
                               "--dbmatrix-report=report.json")
    result.assert_outcomes(passed=4)
    backends = json.loads((run_all.path / "report.json").read_text())["backends"]
    assert set(backends) == {"sqlite", "postgresql", "mysql", "mariadb"}
    for name, info in backends.items():
        environment = info["environment"]
        assert set(environment) >= FACT_KEYS, (name, FACT_KEYS - set(environment))
        for key, fact in environment.items():
            assert fact["key"] == key
            assert fact["verdict"] in ("ok", "info", "warn", "block")
    assert backends["postgresql"]["environment"]["identifier_limit"]["value"] == 63
    assert backends["mariadb"]["environment"]["transactional_ddl"]["value"] is False
    assert backends["sqlite"]["environment"]["foreign_keys"]["value"] is True


def test_non_strict_session_is_flagged_in_the_header(pytester: pytest.Pytester,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(test_app=TESTS)
    monkeypatch.setenv("DBMATRIX_MARIADB_URL",
                       LIVE_URLS["mariadb"] + "?init_command=SET SESSION sql_mode=''")
    result = pytester.runpytest("-v", "--dbmatrix=mariadb", "--dbmatrix-strict")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["    block: strict values: session sql_mode '' *; fix: *"
                                 "STRICT_TRANS_TABLES*"])


def test_facts_survive_a_failing_query() -> None:
    """A failed read rolls back, so the later topics of a PostgreSQL transaction still read."""
    engine = sa.create_engine(LIVE_URLS["postgresql"])
    try:
        with engine.connect() as conn:
            probe = ConnectionProbe(conn)
            assert probe.rows("SELECT 1") == [(1,)]
            with pytest.raises(ProbeError, match="42P01"):
                probe.rows("SELECT * FROM no_such_table")
            facts = environment(probe, conn.dialect.name)
    finally:
        engine.dispose()
    keys = {f.key for f in facts}
    assert keys >= FACT_KEYS
    assert not [k for k in keys if k.startswith("unreadable_")]
