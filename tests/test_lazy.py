"""Lazy provisioning: a backend is connected only when a collected test needs it, and the
backends that are needed are set up concurrently."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

TESTS = """
def test_db(db_connection):
    pass

def test_plain():
    pass
"""


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port that accepts connections and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield sock.getsockname()[1]


def test_deselected_backend_is_never_connected(pytester: pytest.Pytester) -> None:
    """-k sqlite leaves a broken postgresql alone: no error, no line about it after collection."""
    pytester.makepyfile(TESTS)
    result = pytester.runpytest("--dbmatrix=sqlite,postgresql", "--dbmatrix-strict",
                                "--dbmatrix-url=postgresql=postgresql+psycopg2://u@127.0.0.1:1/x",
                                "-k", "sqlite or plain")
    result.assert_outcomes(passed=2, deselected=1)
    assert "cannot connect" not in result.stdout.str()
    assert "  postgresql: ERROR" not in result.stdout.str()
    result.stdout.fnmatch_lines(["dbmatrix backends in use:", "  sqlite: SQLite * via embedded*"])


def test_no_database_test_collected_connects_nothing(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(TESTS)
    result = pytester.runpytest("--dbmatrix=postgresql", "--dbmatrix-strict",
                                "--dbmatrix-url=postgresql=postgresql+psycopg2://u@127.0.0.1:1/x",
                                "-k", "plain")
    result.assert_outcomes(passed=1, deselected=1)
    result.stdout.no_fnmatch_line("dbmatrix backends in use:*")


def test_collect_only_connects_nothing(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(TESTS)
    result = pytester.runpytest("--dbmatrix=sqlite,postgresql", "--collect-only",
                                "--dbmatrix-url=postgresql=postgresql+psycopg2://u@127.0.0.1:1/x")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*test_db[[]postgresql[]]*"])
    result.stdout.no_fnmatch_line("*cannot connect*")


def test_needed_backends_are_set_up_concurrently(pytester: pytest.Pytester,
                                                 silent_port: int) -> None:
    """Two silent servers, connect timeout 3: each backend's attempt starts before the other's
    ends (recorded by the connect calls themselves, no clock assertions)."""
    pytester.makeconftest("""
        import threading
        import psycopg2
        ACTIVE, PEAK, LOCK = [0], [0], threading.Lock()
        real = psycopg2.connect

        def counting(*args, **kwargs):
            with LOCK:
                ACTIVE[0] += 1
                PEAK[0] = max(PEAK[0], ACTIVE[0])
            try:
                return real(*args, **kwargs)
            finally:
                with LOCK:
                    ACTIVE[0] -= 1

        psycopg2.connect = counting

        def pytest_terminal_summary(terminalreporter):
            terminalreporter.write_line(f"peak concurrent connects: {PEAK[0]}")
    """)
    pytester.makepyfile(TESTS)
    url = f"postgresql+psycopg2://u@127.0.0.1:{silent_port}/x"
    result = pytester.runpytest("--dbmatrix=postgresql_a,postgresql_b",
                                f"--dbmatrix-url=postgresql_a={url}",
                                f"--dbmatrix-url=postgresql_b={url}",
                                "--dbmatrix-connect-timeout=3", "-k", "db")
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines(["peak concurrent connects: 2"])
    result.stdout.fnmatch_lines(["*postgresql_a: skipped: cannot connect*timeout expired*"])
    result.stdout.fnmatch_lines(["*postgresql_b: skipped: cannot connect*timeout expired*"])
