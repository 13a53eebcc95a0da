"""Soak check: run a suite N times in a loop and show that the servers end as they began.

    python benchmarks/soak.py                      # the plugin's own test suite, 20 times
    python benchmarks/soak.py --runs 3 -- tests/test_isolation.py -n 2

Counted before and after, on PostgreSQL and MariaDB: databases made by the plugin
(dbmatrix_*), all databases, client connections other than this script's, SQLite files in
pytest's dbmatrix temp dirs and throwaway server dirs. Exit code 1 when a count grew.
Other test runs on the same servers change the counts too: run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

SERVERS = {
    "postgresql": os.environ.get("DBMATRIX_TEST_POSTGRESQL_URL",
                                 "postgresql+psycopg2://postgres@127.0.0.1:5432/test"),
    "mariadb": os.environ.get("DBMATRIX_TEST_MARIADB_URL",
                              "mariadb+pymysql://root@127.0.0.1:3306/test"),
}
QUERIES = {
    "postgresql": {
        "databases": "SELECT datname FROM pg_database",
        "connections": "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client "
                       "backend' AND pid <> pg_backend_pid()",
    },
    "mariadb": {
        "databases": "SHOW DATABASES",
        "connections": "SELECT count(*) FROM information_schema.PROCESSLIST WHERE "
                       "ID <> CONNECTION_ID() AND COMMAND <> 'Daemon'",
    },
}
FILES = {
    "SQLite files left by runs": "pytest-of-*/pytest-*/**/dbmatrix/*.db",
    "throwaway server dirs": "dbm-reliability-pg-*",
    "benchmark dirs": "dbmatrix-bench-*",
}


def server_counts() -> dict[str, int]:
    counts: dict[str, int] = {}
    for backend, url in SERVERS.items():
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        with engine.connect() as conn:
            names = [r[0] for r in conn.exec_driver_sql(QUERIES[backend]["databases"])]
            connections = conn.exec_driver_sql(QUERIES[backend]["connections"]).scalar()
        engine.dispose()
        counts[f"{backend} databases"] = len(names)
        counts[f"{backend} dbmatrix_* databases"] = sum(n.startswith("dbmatrix_") for n in names)
        counts[f"{backend} other connections"] = int(connections or 0)
    return counts


def file_counts() -> dict[str, int]:
    tmp = Path(tempfile.gettempdir())
    return {what: sum(1 for _ in tmp.glob(pattern)) for what, pattern in FILES.items()}


def counts() -> dict[str, int]:
    return server_counts() | file_counts()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("pytest_args", nargs="*", help="after --: arguments for pytest")
    args = parser.parse_args(argv)
    pytest_args = args.pytest_args or ["tests", "-n", "2"]
    env = dict(os.environ)
    env.setdefault("DBMATRIX_POSTGRESQL_URL", SERVERS["postgresql"])
    env.setdefault("DBMATRIX_MYSQL_URL", SERVERS["mariadb"].replace("mariadb+", "mysql+"))
    env.setdefault("DBMATRIX_MARIADB_URL", SERVERS["mariadb"])
    before = counts()
    started = time.perf_counter()
    failures = 0
    for run in range(1, args.runs + 1):
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
             "--dbmatrix=sqlite,postgresql,mysql,mariadb", "--dbmatrix-strict", *pytest_args],
            env=env, capture_output=True, text=True)
        last = (result.stdout.strip().splitlines() or ["(no output)"])[-1]
        failures += result.returncode != 0
        print(f"run {run}/{args.runs}: exit {result.returncode}: {last}", flush=True)
    time.sleep(2)  # let the servers reap the last connections
    after = counts()
    print(f"\n{args.runs} runs in {time.perf_counter() - started:.0f} s, {failures} failed")
    print(f"{'count':45} {'before':>7} {'after':>7}")
    grew = []
    for key in before:
        mark = "  GREW" if after[key] > before[key] else ""
        print(f"{key:45} {before[key]:7} {after[key]:7}{mark}")
        if mark:
            grew.append(key)
    print("soak: " + ("servers and temp dir as before" if not grew else f"grew: {', '.join(grew)}"))
    return 1 if grew or failures else 0


if __name__ == "__main__":
    sys.exit(main())
