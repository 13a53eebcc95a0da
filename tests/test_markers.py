"""The dbmatrix marker: only, skip, strict xfail, version predicates, and bad arguments."""

from __future__ import annotations

import pytest

from tests.conftest import LIVE


def test_only_skip_and_xfail_with_versions(pytester: pytest.Pytester,
                                           live_urls: dict[str, str]) -> None:
    pytester.makepyfile("""
        import pytest

        @pytest.mark.dbmatrix(only=["postgresql", "sqlite"])
        def test_only(dbmatrix_backend):
            assert dbmatrix_backend.name in ("postgresql", "sqlite")

        @pytest.mark.dbmatrix(skip={"mariadb>=10.5": "too new", "sqlite": "no server"})
        def test_skip(dbmatrix_backend):
            assert dbmatrix_backend.name in ("postgresql", "mysql")

        @pytest.mark.dbmatrix(xfail={"mysql<8.0.16": "never true on MariaDB 10",
                                     "postgresql>=9": "fails on postgresql"})
        def test_xfail(dbmatrix_backend):
            assert dbmatrix_backend.name != "postgresql"
    """)
    result = pytester.runpytest(f"--dbmatrix={LIVE}", "--dbmatrix-strict", "-rsx")
    result.assert_outcomes(passed=2 + 1 + 3, skipped=2 + 3, xfailed=1)
    result.stdout.fnmatch_lines([
        "*dbmatrix: only on postgresql, sqlite*",
        "*too new*",
        "*test_xfail[[]postgresql[]]*fails on postgresql*",
    ])


def test_mariadb_predicate_matches_the_server_behind_the_mysql_dialect(
    pytester: pytest.Pytester, live_urls: dict[str, str]
) -> None:
    pytester.makepyfile("""
        import pytest

        @pytest.mark.dbmatrix(only="mariadb>=10.2")
        def test_on_mariadb_servers(dbmatrix_backend):
            assert dbmatrix_backend.info.product == "MariaDB"
    """)
    result = pytester.runpytest("--dbmatrix=sqlite,mysql,mariadb", "--dbmatrix-strict", "-v")
    result.assert_outcomes(passed=2, skipped=1)
    result.stdout.fnmatch_lines(["*[[]mysql[]] PASSED*", "*[[]mariadb[]] PASSED*"])


def test_xfail_is_strict(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import pytest

        @pytest.mark.dbmatrix(xfail=["sqlite"])
        def test_passes_anyway(dbmatrix_backend):
            pass
    """)
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*XPASS(strict)*"])


def test_xfail_covers_schema_errors_at_setup(pytester: pytest.Pytester,
                                              live_urls: dict[str, str]) -> None:
    pytester.makepyfile(models="""
        import sqlalchemy as sa
        metadata = sa.MetaData()
        sa.Table("t", metadata, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("s", sa.String))
    """)
    pytester.syspathinsert()
    pytester.makeini("[pytest]\ndbmatrix_metadata = models:metadata\n")
    pytester.makepyfile("""
        import pytest

        @pytest.mark.dbmatrix(xfail={"mariadb": "VARCHAR needs a length"})
        def test_schema(db_engine):
            pass
    """)
    result = pytester.runpytest("--dbmatrix=sqlite,mariadb", "--dbmatrix-strict")
    result.assert_outcomes(passed=1, xfailed=1)


@pytest.mark.parametrize(("marker", "message"), [
    ('"postgresql"', "*takes keyword arguments only*"),
    ("olny=['postgresql']", "*unknown argument(s) olny; accepted: only, skip, xfail*"),
    ("only=['mysql<eight']", "*only=: 'mysql<eight' is not a backend predicate*"),
    ("xfail={'mysql': 3}", "*xfail= reason for 'mysql' must be a string*"),
    ("skip=42", "*skip= takes a name, a list of names or a dict, not 42*"),
])
def test_invalid_marker_fails_collection(pytester: pytest.Pytester, marker: str,
                                         message: str) -> None:
    pytester.makepyfile(f"""
        import pytest

        @pytest.mark.dbmatrix({marker})
        def test_x(dbmatrix_backend):
            pass
    """)
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*ERROR collecting*", message])


def test_markers_from_module_class_param_and_hooks(pytester: pytest.Pytester) -> None:
    """Every way a marker reaches an item is honoured (the set-up hook looks for its name in
    the item's keywords before it reads rules)."""
    pytester.makeconftest("""
        import pytest

        def pytest_collection_modifyitems(items):
            for item in items:
                if "by_hook" in item.name:
                    item.add_marker(pytest.mark.dbmatrix(skip={"sqlite": "added by a hook"}))
    """)
    pytester.makepyfile("""
        import pytest

        pytestmark = pytest.mark.dbmatrix(xfail={"sqlite": "module marker"})

        def test_module_marker(dbmatrix_backend):
            assert False

        @pytest.mark.dbmatrix(skip={"sqlite": "class marker"})
        class TestClass:
            def test_in_class(self, dbmatrix_backend):
                pass

        @pytest.mark.parametrize("n", [1, pytest.param(2, marks=pytest.mark.dbmatrix(
            skip={"sqlite": "param marker"}))])
        def test_param_marker(dbmatrix_backend, n):
            assert False

        def test_by_hook(dbmatrix_backend):
            pass
    """)
    result = pytester.runpytest("-rsx")
    result.assert_outcomes(skipped=3, xfailed=2)
    result.stdout.fnmatch_lines_random(["*class marker*", "*param marker*", "*added by a hook*",
                                        "*module marker*"])
