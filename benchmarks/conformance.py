"""Time the conformance suite on a generated model set of 200 tables.

Runs `pytest --dbmatrix-conformance` in a subprocess on SQLite alone, then on SQLite, PostgreSQL,
MySQL (dialect on MariaDB) and MariaDB, and prints wall time, items per second and the ratio to a
baseline measured in the same run: plain `metadata.create_all` + `drop_all` of the same tables on
the same backends.  Each run is timed with and without the backend threads and the child process
(issue 16 item 4: kept only if they save 30% or more), in alternating rounds, best of each:
since they were removed, the code here is timed against the package of the last commit that had
them (git archive; --against REF for another).
Usage: python benchmarks/conformance.py [--tables 200] [--sqlite-only] [--rounds 3] [--against REF]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import sqlalchemy as sa

REPO = Path(__file__).resolve().parent.parent
URLS = {
    "postgresql": os.environ.get("DBMATRIX_TEST_POSTGRESQL_URL",
                                 "postgresql+psycopg2://postgres@127.0.0.1:5432/test"),
    "mysql": os.environ.get("DBMATRIX_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test"),
    "mariadb": os.environ.get("DBMATRIX_TEST_MARIADB_URL",
                              "mariadb+pymysql://root@127.0.0.1:3306/test"),
}
MODELS = '''
import sqlalchemy as sa

metadata = sa.MetaData()
for i in range({tables}):
    columns = [
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code", sa.String(40), unique=True, nullable=False),
        sa.Column("name", sa.String(120)),
        sa.Column("amount", sa.Numeric(12, 2)),
        sa.Column("created", sa.DateTime),
        sa.Column("active", sa.Boolean),
        sa.Column("payload", sa.JSON),
    ]
    if i % 10:
        columns.append(sa.Column("parent_id", sa.ForeignKey(f"t{{i - 1:03d}}.id")))
    sa.Table(f"t{{i:03d}}", metadata, *columns)
'''


def write_models(directory: Path, tables: int) -> None:
    (directory / "bench_models.py").write_text(textwrap.dedent(MODELS.format(tables=tables)))


def baseline(directory: Path, backends: list[str]) -> float:
    """create_all + drop_all of the same tables, in a scratch database per server backend."""
    sys.path.insert(0, str(directory))
    import bench_models

    total = 0.0
    for backend in backends:
        url = URLS.get(backend, f"sqlite:///{directory / 'baseline.db'}")
        admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        scratch = f"dbmatrix_bench_{os.getpid()}_{backend}"
        if backend != "sqlite":
            with admin.connect() as conn:
                conn.exec_driver_sql(f"CREATE DATABASE {scratch}")
            engine = sa.create_engine(sa.make_url(url).set(database=scratch))
        else:
            engine = admin
        try:
            start = time.perf_counter()
            bench_models.metadata.create_all(engine)
            bench_models.metadata.drop_all(engine)
            total += time.perf_counter() - start
        finally:
            engine.dispose()
            if backend != "sqlite":
                with admin.connect() as conn:
                    conn.exec_driver_sql(f"DROP DATABASE {scratch}")
            admin.dispose()
    return total


def run_suite(directory: Path, backends: list[str], source: Path = REPO) -> tuple[float, str]:
    env = dict(os.environ)
    # the code of `source` (by default next to this script), whatever an editable install says
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(source), env.get("PYTHONPATH")]))
    for name, url in URLS.items():
        env[f"DBMATRIX_{name.upper()}_URL"] = url
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
               "--dbmatrix-conformance", "--dbmatrix-metadata=bench_models:metadata",
               f"--dbmatrix={','.join(backends)}", "--dbmatrix-strict",
               "--dbmatrix-summary=none"]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=directory, env=env, capture_output=True, text=True,
                          check=False)
    elapsed = time.perf_counter() - start
    last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-300:]
    return elapsed, last


def checkout(ref: str, directory: Path) -> Path:
    """The package as committed at `ref` (git archive), to time it beside the code here."""
    target = directory / "extra-paths"
    target.mkdir()
    archive = subprocess.run(["git", "-C", str(REPO), "archive", ref, "pytest_dbmatrix"],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def last_with_extra_paths() -> str:
    """The parent of the commit that removed prefetch.py (threads) and worker.py (child)."""
    removal = subprocess.run(["git", "-C", str(REPO), "log", "-1", "--format=%H", "--",
                              "pytest_dbmatrix/conformance/prefetch.py"],
                             capture_output=True, text=True, check=True).stdout.strip()
    return f"{removal}^"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tables", type=int, default=200)
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--rounds", type=int, default=3,
                        help="alternating rounds of both variants; the best of each is kept")
    parser.add_argument("--against", metavar="REF",
                        help="time the code here (one path) against the package at this git "
                             "commit; default: the last commit with the backend threads and "
                             "the child process")
    args = parser.parse_args()
    runs = [["sqlite"]]
    if not args.sqlite_only:
        runs.append(["sqlite", "postgresql", "mysql", "mariadb"])
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        write_models(directory, args.tables)
        against = args.against or last_with_extra_paths()
        sources = {"extra": checkout(against, directory), "one": REPO}
        print(f"model set: {args.tables} tables (7-8 columns, FK chains of 10), "
              f"best of {args.rounds} alternating rounds, extra paths as at {against}")
        for backends in runs:
            base = baseline(directory, backends)
            times: dict[str, list[float]] = {"extra": [], "one": []}
            summaries = {}
            for round_ in range(args.rounds):
                order = ["extra", "one"] if round_ % 2 == 0 else ["one", "extra"]
                for variant in order:
                    elapsed, summaries[variant] = run_suite(directory, backends,
                                                            sources[variant])
                    times[variant].append(elapsed)
                    print(f"  round {round_ + 1} {variant:5s} {elapsed:7.2f} s", flush=True)
            elapsed, single = min(times["extra"]), min(times["one"])
            print(f"{','.join(backends)}:")
            print(f"  threads and child process  {elapsed:7.2f} s   ({summaries['extra']})")
            print(f"  one path (checks in items) {single:7.2f} s   ({summaries['one']})")
            print(f"  threads and child process save {1 - elapsed / single:6.1%} "
                  f"(kept only at 30% or more)")
            print(f"  create_all+drop_all baseline {base:7.2f} s   ratio {single / base:6.1f}x")
            print(f"  under a minute: {'yes' if single < 60 else 'NO'}", flush=True)


if __name__ == "__main__":
    main()
