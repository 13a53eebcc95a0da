"""Benchmark: the whole migration check set on a clean 30-revision history.

    python benchmarks/migrations.py [--revisions 30] [--backends sqlite,postgresql,mariadb]

Prints the wall time of one pytest run with every migration check on the backends, the time
per check summed over backends, and a baseline measured in the same run: a plain
`alembic upgrade head` + `downgrade base` per backend (the least any migration test does), so
the ratio says how many such round trips the full check set costs. URLs come from
DBMATRIX_<NAME>_URL, defaulting to this machine's servers.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "conformance" / "alembic_clean"))
from generate import generate  # noqa: E402

DEFAULT_URLS = {
    "postgresql": "postgresql+psycopg2://postgres@127.0.0.1:5432/test",
    "mysql": "mysql+pymysql://root@127.0.0.1:3306/test",
    "mariadb": "mariadb+pymysql://root@127.0.0.1:3306/test",
}


def url_of(name: str) -> str:
    return os.environ.get(f"DBMATRIX_{name.upper()}_URL", DEFAULT_URLS.get(name, ""))


def baseline(ini: Path, backend: str, workdir: Path) -> float:
    """Seconds for upgrade head + downgrade base in a scratch database made for it."""
    scratch = f"dbmatrix_bench_{os.getpid()}"
    if backend == "sqlite":
        url = f"sqlite:///{workdir / 'baseline.db'}"
        admin = None
    else:
        admin = sa.create_engine(url_of(backend), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {scratch}")
        url = sa.make_url(url_of(backend)).set(database=scratch).render_as_string(False)
    engine = sa.create_engine(url)
    try:
        config = Config(str(ini))
        start = time.perf_counter()
        with engine.connect() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
            command.downgrade(config, "base")
            conn.commit()
        return time.perf_counter() - start
    finally:
        engine.dispose()
        if admin is not None:
            with admin.connect() as conn:
                conn.exec_driver_sql(f"DROP DATABASE {scratch}")
            admin.dispose()


def run_checks(project: Path, backends: list[str]) -> tuple[float, dict[str, object]]:
    env = dict(os.environ)
    for name in backends:
        if name != "sqlite":
            env[f"DBMATRIX_{name.upper()}_URL"] = url_of(name)
    (project / "pytest.ini").write_text("[pytest]\ndbmatrix_alembic_ini = alembic.ini\n")
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--dbmatrix-strict",
         f"--dbmatrix={','.join(backends)}", "--dbmatrix-report=report.json"],
        cwd=project, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        print(result.stdout[-3000:], result.stderr[-2000:])
        raise SystemExit(f"the check set failed (exit {result.returncode})")
    report: dict[str, object] = json.loads((project / "report.json").read_text())
    return elapsed, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--revisions", type=int, default=30)
    parser.add_argument("--backends", default="sqlite,postgresql,mariadb")
    args = parser.parse_args()
    backends = args.backends.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        ini = generate(project, args.revisions)
        base = {b: baseline(ini, b, project) for b in backends}
        elapsed, report = run_checks(project, backends)
    tests = report["tests"]
    assert isinstance(tests, list)
    print(f"clean history: {args.revisions} revisions; backends: {', '.join(backends)}")
    print(f"migration check set: {len(tests)} checks x {len(backends)} backends, "
          f"{elapsed:.1f}s wall (pytest start-up and provisioning included)")
    for row in tests:
        cells = row["results"]
        per = ", ".join(f"{b} {c['duration']:.2f}s" for b, c in cells.items())
        print(f"  {row['test']:<30} {per}")
    total_base = sum(base.values())
    print("baseline (alembic upgrade head + downgrade base): " + ", ".join(
        f"{b} {t:.2f}s" for b, t in base.items()) + f"; total {total_base:.2f}s")
    print(f"ratio check set / baseline: {elapsed / total_base:.1f}x")


if __name__ == "__main__":
    main()
