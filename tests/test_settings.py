"""Backend selection and URLs: command line, then env, then ini, with the source shown."""

from __future__ import annotations

import pytest

from tests.conftest import LIVE_URLS

TEST = """
def test_db(dbmatrix_backend):
    print("URL", dbmatrix_backend.masked_url)
"""


def test_cli_beats_env_beats_ini(pytester: pytest.Pytester,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makeini(f"""
        [pytest]
        dbmatrix_backends = sqlite
        dbmatrix_urls =
            postgresql = {LIVE_URLS['postgresql']}?application_name=from_ini
    """)
    pytester.makepyfile(TEST)
    monkeypatch.setenv("DBMATRIX_POSTGRESQL_URL",
                       LIVE_URLS["postgresql"] + "?application_name=from_env")
    result = pytester.runpytest("--dbmatrix=postgresql", "-s", "--dbmatrix-strict")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([
        "dbmatrix: postgresql (from option --dbmatrix, strict)",
        "*postgresql: *application_name=from_env (from env DBMATRIX_POSTGRESQL_URL)",
    ])
    result = pytester.runpytest(
        "--dbmatrix=postgresql",
        f"--dbmatrix-url=postgresql={LIVE_URLS['postgresql']}?application_name=from_cli",
    )
    result.stdout.fnmatch_lines(["*application_name=from_cli (from option --dbmatrix-url)"])
    monkeypatch.delenv("DBMATRIX_POSTGRESQL_URL")
    result = pytester.runpytest("--dbmatrix=postgresql")
    result.stdout.fnmatch_lines(["*application_name=from_ini (from ini dbmatrix_urls)"])


def test_ini_backends_and_all(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ndbmatrix_backends = sqlite postgresql\n")
    pytester.makepyfile(TEST)
    result = pytester.runpytest("--collect-only", "-q")
    result.stdout.fnmatch_lines(["*test_db[[]sqlite[]]", "*test_db[[]postgresql[]]"])
    result = pytester.runpytest("--dbmatrix=all", "--collect-only", "-q")
    result.stdout.fnmatch_lines(["*[[]sqlite[]]", "*[[]postgresql[]]", "*[[]mysql[]]",
                                 "*[[]mariadb[]]", "*[[]mssql[]]"])


def test_env_selects_backends(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DBMATRIX_BACKENDS", "sqlite,mariadb")
    pytester.makepyfile(TEST)
    result = pytester.runpytest("--collect-only", "-q")
    result.stdout.fnmatch_lines(["*test_db[[]sqlite[]]", "*test_db[[]mariadb[]]"])


def test_named_servers_of_one_dialect(pytester: pytest.Pytester) -> None:
    url = LIVE_URLS["postgresql"]
    pytester.makepyfile("""
        def test_db(dbmatrix_backend):
            assert dbmatrix_backend.family.kind == "postgresql"
            assert dbmatrix_backend.dialect == "postgresql"
    """)
    result = pytester.runpytest("--dbmatrix=postgresql13,pg_legacy", "-v", "--dbmatrix-strict",
                                f"--dbmatrix-url=postgresql13={url}",
                                f"--dbmatrix-url=pg_legacy={url}")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*test_db[[]postgresql13[]] PASSED*",
                                 "*test_db[[]pg_legacy[]] PASSED*"])


@pytest.mark.parametrize(("args", "message"), [
    (["--dbmatrix=oracle"], "*unknown backend 'oracle': known are sqlite, postgresql, mysql, "
     "mariadb, mssql*--dbmatrix-url oracle=URL or DBMATRIX_ORACLE_URL*"),
    (["--dbmatrix=postgresql", "--dbmatrix-url=postgresql=not a url"],
     "*cannot parse the URL of backend 'postgresql' from option --dbmatrix-url*"),
    (["--dbmatrix-url=postgresql"], "*option --dbmatrix-url expects NAME=VALUE, got 'postgresql'*"),
    (["--dbmatrix=postgresql", "--dbmatrix-url=postgresql=mysql+pymysql://u@127.0.0.1/x"],
     "*backend 'postgresql' has a mysql URL from option --dbmatrix-url*"),
    (["--dbmatrix-connect-timeout=-1"], "*bad value for option --dbmatrix-connect-timeout*"),
    (["--dbmatrix=mssql", "--dbmatrix-provider=mssql=cloud"],
     "*provider 'cloud' for 'mssql'; choose one of url, docker, local*"),
])
def test_bad_settings_are_usage_errors(pytester: pytest.Pytester, args: list[str],
                                       message: str) -> None:
    pytester.makepyfile(TEST)
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_bad_ini_bool_names_the_ini(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ndbmatrix_sqlite_foreign_keys = maybe\n")
    pytester.makepyfile(TEST)
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*bad value for ini dbmatrix_sqlite_foreign_keys*"])


def test_one_row_per_option_gives_flag_ini_and_default(pytester: pytest.Pytester,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Every row of the table is a flag, an ini, and a default-sourced setting."""
    from pytest_dbmatrix.options import Options
    from pytest_dbmatrix.settings import resolve

    for opt in Options.rows():
        if opt.env:
            monkeypatch.delenv(opt.env, raising=False)
    monkeypatch.delenv("DBMATRIX_SQLITE_URL", raising=False)
    pytester.makeini("[pytest]\ndbmatrix_summary = diff\n")
    settings = resolve(pytest.Config.fromdictargs({}, ["--dbmatrix-strict"]))
    for opt in Options.rows():
        assert opt.ini == f"dbmatrix_{opt.name}"
        sourced = getattr(settings, opt.name)
        if opt.name not in ("strict", "summary"):
            assert sourced == (opt.default, "default"), opt.name
    assert settings.strict == (True, "option --dbmatrix-strict")
    assert settings.summary == ("diff", "ini dbmatrix_summary")
