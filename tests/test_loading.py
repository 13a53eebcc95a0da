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


LOADERS = '''
import sys


def test_the_plugin_is_imported_by_python_and_this_module_by_pytest():
    ours = {name: type(module.__loader__).__name__ for name, module in list(sys.modules.items())
            if name.startswith("pytest_dbmatrix.")}
    assert "pytest_dbmatrix.plugin" in ours and "pytest_dbmatrix.fixtures" in ours
    assert "AssertionRewritingHook" not in set(ours.values()), ours
    assert type(sys.modules[__name__].__loader__).__name__ == "AssertionRewritingHook"


def test_a_failing_assert_is_still_explained():
    value = 3
    assert value == 4
'''


WHEEL_RECORD = {
    "METADATA": "Metadata-Version: 2.1\nName: pytest-dbmatrix-as-wheel\nVersion: 0.1.0\n",
    "entry_points.txt": "[pytest11]\ndbmatrix = pytest_dbmatrix.plugin\n",
    "RECORD": "pytest_dbmatrix/__init__.py,,\npytest_dbmatrix/plugin.py,,\n",
}


@pytest.mark.parametrize("loaded", ["as a wheel", "with -p"])
def test_the_plugins_modules_skip_assertion_rewriting(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, loaded: str) -> None:
    """pytest marks an installed plugin's package for rewriting (from the wheel's RECORD, or
    the module given to -p), then parses and compiles each module from source in every run
    that cannot cache them (PYTHONDONTWRITEBYTECODE, here and in many CI images). They are
    imported as Python imports them, and the user's tests are still rewritten. (This
    checkout is an editable install, which pytest does not mark: a dist-info as a wheel
    install has it stands in.)"""
    pytester.makepyfile(test_loaders=LOADERS)
    args = ["-p", "no:cacheprovider"]
    if loaded == "as a wheel":
        info = pytester.mkdir("site") / "pytest_dbmatrix_as_wheel-0.1.0.dist-info"
        info.mkdir()
        for name, text in WHEEL_RECORD.items():
            (info / name).write_text(text)
        monkeypatch.setenv("PYTHONPATH", str(pytester.path / "site"))
    else:
        monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
        args += ["-p", "pytest_dbmatrix.plugin"]
    result = pytester.runpytest_subprocess(*args)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*assert 3 == 4*"])
