"""Benchmark: dbmatrix's migration checks against pytest-alembic's on a clean history.

    pip install pytest-alembic     # benchmark-only; without it its rows are skipped
    python benchmarks/migrations.py [--revisions 30] [--backends sqlite,postgresql,mariadb]
                                    [--rounds 3] [--against REF]

Per backend, in alternating rounds (best of --rounds), one pytest process each:

- dbmatrix, every migration check (`--dbmatrix-alembic-checks` default: all ten);
- dbmatrix limited to the four that pytest-alembic's defaults correspond to
  (single_head, upgrade, model_match, downgrade);
- pytest-alembic's four default tests (test_single_head_revision, test_upgrade,
  test_model_definitions_match_ddl, test_up_down_consistency) through its plugin
  (`--test-alembic`) on the same history, its `alembic_engine` fixture giving every test the
  same scratch database (created and dropped once per run), emptied after each test so that
  each starts from base. (A fresh database per test would add a CREATE DATABASE per test,
  about 0.4 s each on this machine's PostgreSQL: not counted against pytest-alembic.)

With --against REF, a fourth variant: the ten checks of the package as committed at REF
(git archive, first on PYTHONPATH), to give before/after figures of the same invocation.

Times are whole processes (interpreter and pytest start-up included), the other plugin disabled
in each (`-p no:pytest_alembic`, `-p no:dbmatrix`). The plugin is byte-compiled first, as
`pip install` compiles pytest-alembic: under this machine's PYTHONDONTWRITEBYTECODE=1 an editable
install would be compiled from source in every run. The generated env.py is extended to accept an
Engine in `config.attributes["connection"]` (pytest-alembic hands over its engine; dbmatrix a
connection), nothing else changes. Also printed: the per-check times of dbmatrix's best full
run, and a plain `alembic upgrade head` + `downgrade base` per backend (the least any migration
test does). Exit 1 when dbmatrix's full set is slower than pytest-alembic's four on a backend.
URLs come from DBMATRIX_<NAME>_URL, defaulting to this machine's servers.
"""

from __future__ import annotations

import argparse
import compileall
import importlib.util
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

from conformance import checkout  # noqa: E402  (benchmarks/conformance.py, beside this)

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


FOUR = "single_head,upgrade,model_match,downgrade"
PA_TESTS = ("test_single_head_revision", "test_upgrade", "test_model_definitions_match_ddl",
            "test_up_down_consistency")
ENGINE_ENV = '''    if isinstance(connection, Engine):  # pytest-alembic hands over an engine
        with connection.connect() as conn:
            run_on(conn)
        return
'''
PA_CONFTEST = '''import os

import pytest
import sqlalchemy as sa
from alembic.config import Config

INI = {ini!r}
BACKEND = {backend!r}
URL = {url!r}


@pytest.fixture
def alembic_config():
    return Config(INI)


@pytest.fixture(scope="session")
def scratch_engine(tmp_path_factory):
    """One scratch database for the session, created here and dropped at its end."""
    if BACKEND == "sqlite":
        engine = sa.create_engine(f"sqlite:///{{tmp_path_factory.mktemp('pa') / 'pa.db'}}")
        yield engine
        engine.dispose()
        return
    name = f"dbmatrix_bench_pa_{{os.getpid()}}"
    admin = sa.create_engine(URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {{name}}")
    engine = sa.create_engine(sa.make_url(URL).set(database=name))
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE {{name}}")
        admin.dispose()


@pytest.fixture
def alembic_engine(scratch_engine):
    """The scratch database, emptied after each test: every test starts from base."""
    yield scratch_engine
    metadata = sa.MetaData()
    with scratch_engine.begin() as conn:
        metadata.reflect(conn)
        metadata.drop_all(conn)
'''


def prepare(project: Path) -> None:
    """Let the generated env.py take an Engine as well as a Connection."""
    env_py = project / "migrations" / "env.py"
    text = env_py.read_text()
    text = text.replace("from sqlalchemy import engine_from_config, pool",
                        "from sqlalchemy import Engine, engine_from_config, pool")
    text = text.replace("    if connection is not None:\n", ENGINE_ENV
                        + "    if connection is not None:\n", 1)
    env_py.write_text(text)


def _pytest(args: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             *args], cwd=cwd, env=env, capture_output=True, text=True,
                            check=False)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        print(result.stdout[-3000:], result.stderr[-2000:])
        raise SystemExit(f"pytest {' '.join(args)} in {cwd} failed (exit {result.returncode})")
    return elapsed


def run_dbmatrix(project: Path, backend: str, checks: str | None, source: Path | None = None,
                 ) -> tuple[float, dict[str, object]]:
    """One dbmatrix run; `source` is a directory holding the package to use instead of ours."""
    variant = "all" if checks is None else "four"
    run_dir = project / f"dbm-{backend}-{variant}{'-against' if source else ''}"
    run_dir.mkdir(exist_ok=True)
    (run_dir / "pytest.ini").write_text("[pytest]\ndbmatrix_alembic_ini = ../alembic.ini\n")
    env = dict(os.environ)
    code = source or ROOT  # whatever an editable install points at
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(code), env.get("PYTHONPATH")]))
    if backend != "sqlite":
        env[f"DBMATRIX_{backend.upper()}_URL"] = url_of(backend)
    args = ["-p", "no:pytest_alembic", "--dbmatrix-strict", f"--dbmatrix={backend}",
            "--dbmatrix-report=report.json"]
    if checks is not None:
        args.append(f"--dbmatrix-alembic-checks={checks}")
    elapsed = _pytest(args, run_dir, env)
    report: dict[str, object] = json.loads((run_dir / "report.json").read_text())
    return elapsed, report


def run_pytest_alembic(project: Path, backend: str) -> float:
    run_dir = project / f"pa-{backend}"
    run_dir.mkdir(exist_ok=True)
    (run_dir / "pytest.ini").write_text(
        "[pytest]\npytest_alembic_tests_path = conftest.py\n")
    (run_dir / "conftest.py").write_text(PA_CONFTEST.format(
        ini=str(project / "alembic.ini"), backend=backend, url=url_of(backend)))
    args = ["-p", "no:dbmatrix", "--test-alembic"]
    return _pytest(args, run_dir, dict(os.environ))


def have_pytest_alembic() -> str | None:
    """None when pytest-alembic is importable with its four default tests; else the reason."""
    if importlib.util.find_spec("pytest_alembic") is None:
        return "pytest-alembic is not installed (pip install pytest-alembic)"
    import pytest_alembic.tests as pa_tests

    missing = [t for t in PA_TESTS if not hasattr(pa_tests, t)]
    return f"pytest-alembic lacks {', '.join(missing)}" if missing else None


Best = dict[tuple[str, str], float]
Reports = dict[tuple[str, str], dict[str, object]]


def run_variant(project: Path, backend: str, variant: str, against: Path | None,
                ) -> tuple[float, dict[str, object] | None]:
    if variant == "pytest-alembic":
        return run_pytest_alembic(project, backend), None
    if variant == "against":
        return run_dbmatrix(project, backend, None, against)
    return run_dbmatrix(project, backend, None if variant == "all" else FOUR)


def measure(project: Path, backends: list[str], variants: list[str], rounds: int,
            against: Path | None) -> tuple[Best, Reports]:
    """Best time of each (backend, variant) over alternating rounds, and its JSON report."""
    best: Best = {}
    reports: Reports = {}
    for round_no in range(rounds):
        order = variants[round_no % len(variants):] + variants[:round_no % len(variants)]
        for backend in backends:
            for variant in order:
                elapsed, report = run_variant(project, backend, variant, against)
                key = (backend, variant)
                if report is not None and elapsed < best.get(key, 1e9):
                    reports[key] = report
                best[key] = min(best.get(key, elapsed), elapsed)
    return best, reports


def print_table(best: Best, backends: list[str], against: str | None) -> list[str]:
    """The table of best times and ratios; returns the backends where the target is missed."""
    extra = f" {'all at ' + against:>16} {'then/pa':>8}" if against else ""
    print(f"  {'backend':<11} {'dbmatrix all':>13} {'dbmatrix four':>14} "
          f"{'pytest-alembic four':>20} {'all/pa':>7} {'four/pa':>8}{extra}")
    missed = []
    for backend in backends:
        full, four = best[(backend, "all")], best[(backend, "four")]
        pa = best.get((backend, "pytest-alembic"))
        then = best.get((backend, "against"))
        if pa is None:
            print(f"  {backend:<11} {full:>12.2f}s {four:>13.2f}s {'skipped':>20}"
                  + (f" {'':>16} {then:>15.2f}s" if then is not None else ""))
            continue
        line = (f"  {backend:<11} {full:>12.2f}s {four:>13.2f}s {pa:>19.2f}s "
                f"{full / pa:>6.2f}x {four / pa:>7.2f}x")
        if then is not None:
            line += f" {then:>15.2f}s {then / pa:>7.2f}x"
        print(line)
        if full > pa:
            missed.append(backend)
    return missed


def print_checks(reports: Reports, backends: list[str], variant: str, title: str) -> None:
    print(f"{title} (seconds, set-up to teardown):")
    for backend in backends:
        tests = reports[(backend, variant)]["tests"]
        assert isinstance(tests, list)
        per = ", ".join(f"{row['test'].split('::')[-1]} {c['duration']:.2f}"
                        for row in tests for c in row["results"].values())
        print(f"  {backend}: {per}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--revisions", type=int, default=30)
    parser.add_argument("--backends", default="sqlite,postgresql,mariadb")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--against", metavar="REF",
                        help="also time the ten checks of the package at this git ref")
    args = parser.parse_args()
    backends = args.backends.split(",")
    skip_pa = have_pytest_alembic()
    variants = (["all", "four"] + ([] if skip_pa else ["pytest-alembic"])
                + (["against"] if args.against else []))
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        ini = generate(project, args.revisions)
        prepare(project)
        against = checkout(args.against, project) if args.against else None
        for code in (ROOT, against):  # as pip install does; pytest-alembic's is compiled
            if code is not None:
                compileall.compile_dir(code / "pytest_dbmatrix", quiet=1)
        base = {b: baseline(ini, b, project) for b in backends}
        best, reports = measure(project, backends, variants, args.rounds, against)
    from importlib.metadata import version

    pa_version = "missing" if skip_pa else version("pytest-alembic")
    print(f"clean history: {args.revisions} revisions; best of {args.rounds} alternating "
          f"rounds; whole pytest processes (start-up and provisioning included); "
          f"pytest {version('pytest')}, pytest-alembic {pa_version}")
    missed = print_table(best, backends, args.against)
    if skip_pa:
        print(f"  pytest-alembic rows skipped: {skip_pa}")
    print_checks(reports, backends, "all", "dbmatrix's checks in its best full run")
    if args.against:
        print_checks(reports, backends, "against", f"the same at {args.against}")
    print("baseline (alembic upgrade head + downgrade base, in-process): " + ", ".join(
        f"{b} {t:.2f}s" for b, t in base.items()))
    if skip_pa:
        return
    if missed:
        print(f"[missed] dbmatrix's full set slower than pytest-alembic's four on: "
              f"{', '.join(missed)}")
        raise SystemExit(1)
    print("[met] dbmatrix's full set no slower than pytest-alembic's four on every backend")


if __name__ == "__main__":
    main()
