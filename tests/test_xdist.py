"""Under pytest-xdist every worker works in a database of its own, dropped at the end."""

from __future__ import annotations

import pytest

from tests.conftest import LIVE

WORKER_TESTS = """
import os
import pytest
import sqlalchemy as sa

@pytest.mark.parametrize("n", range(6))
def test_own_database(db_engine, db_url, dbmatrix_backend, n):
    worker = os.environ["PYTEST_XDIST_WORKER"]
    if dbmatrix_backend.family.server_backed:
        assert db_url.database.endswith(f"_{worker}_{dbmatrix_backend.name}")
    else:
        assert f"-{worker}.db" in db_url.database
    with db_engine.begin() as conn:  # committed on purpose: visible to the whole database
        conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS owner (worker VARCHAR(10))")
        conn.exec_driver_sql(f"INSERT INTO owner VALUES ('{worker}')")
        owners = {r[0] for r in conn.exec_driver_sql("SELECT worker FROM owner")}
    assert owners == {worker}
"""


def test_workers_get_their_own_databases(pytester: pytest.Pytester,
                                         live_urls: dict[str, str]) -> None:
    pytester.makepyfile(test_workers=WORKER_TESTS)
    result = pytester.runpytest_subprocess("-n", "2", f"--dbmatrix={LIVE}", "--dbmatrix-strict",
                                           "--dist=load")
    result.assert_outcomes(passed=24)
    result.stdout.fnmatch_lines([  # the controller learns the servers from the reports
        "*= dbmatrix =*",
        "postgresql (PostgreSQL 15* via url): 6 passed",
        "mysql (MariaDB 10* via url; mysql dialect against a MariaDB server): 6 passed",
    ])
