"""The plugin loads through the entry point and through -p, and defaults to SQLite alone."""

from __future__ import annotations

import pytest

SIMPLE = """
def test_uses_db(db_connection):
    assert db_connection.exec_driver_sql("select 1").scalar() == 1

def test_plain():
    pass
"""


def test_autoloaded_default_is_sqlite_only(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(SIMPLE)
    result = pytester.runpytest("-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*test_uses_db[[]sqlite[]] PASSED*", "*test_plain PASSED*"])
    result.stdout.fnmatch_lines(["dbmatrix: sqlite (from default)"])


def test_explicit_p_with_autoload_disabled(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makepyfile(SIMPLE)
    result = pytester.runpytest_subprocess("-p", "dbmatrix", "-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*test_uses_db[[]sqlite[]] PASSED*"])


def test_autoload_disabled_without_p_has_no_fixtures(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makepyfile(SIMPLE)
    result = pytester.runpytest_subprocess()
    result.stdout.fnmatch_lines(["*fixture 'db_connection' not found*"])


def test_options_in_one_group_with_ini_twins(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    for line in ("*multi-database conformance testing*", "*--dbmatrix=NAMES*",
                 "*--dbmatrix-url=NAME=URL*", "*--dbmatrix-strict*", "*dbmatrix_backends (args):*",
                 "*dbmatrix_connect_timeout (float):*", "*dbmatrix_strict (bool):*"):
        result.stdout.fnmatch_lines([line])


def test_marker_registered_with_signature(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.dbmatrix(only=None, skip=None, xfail=None)*"])


def test_sqlite_run_imports_no_driver_alembic_or_testcontainers(
    pytester: pytest.Pytester,
) -> None:
    """Drivers, testcontainers and Alembic are imported when a backend or a migration test
    needs them, not when the plugin loads; so are the plugin's own modules for failures,
    markers, migrations and the other database families, and the thread pool that provisions
    several backends at once; so are the async drivers, SQLAlchemy's asyncio extension,
    greenlet, pytest-asyncio and anyio (without their pytest plugins, which load them)."""
    pytester.makepyfile("""
        import sys

        LAZY = ("alembic", "testcontainers", "docker", "psycopg2", "psycopg", "pymysql", "pyodbc",
                "pytest_dbmatrix.errors", "pytest_dbmatrix.exclusions", "pytest_dbmatrix.markers",
                "pytest_dbmatrix.migrations.data", "pytest_dbmatrix.report.json_report",
                "pytest_dbmatrix.backends.postgresql", "pytest_dbmatrix.backends.mysql",
                "pytest_dbmatrix.backends.mariadb", "pytest_dbmatrix.backends.mssql",
                "pytest_dbmatrix.backends.oracle", "pytest_dbmatrix.backends.recipes",
                "concurrent.futures.thread", "sqlalchemy.ext.asyncio", "greenlet", "asyncpg",
                "aiosqlite", "aiomysql", "asyncmy", "pytest_asyncio", "anyio")

        def test_nothing_lazy_imported(db_session):
            assert [m for m in LAZY if m in sys.modules] == []
    """)
    result = pytester.runpytest_subprocess("-p", "no:xdist", "-p", "no:hypothesispytest",
                                           "-p", "no:asyncio", "-p", "no:anyio")
    result.assert_outcomes(passed=1)
