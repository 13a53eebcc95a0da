"""The Alembic migration checks on live backends: the bad sample, a clean history, contracts."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import LIVE

ROOT = Path(__file__).resolve().parent.parent
BAD = ROOT / "conformance" / "alembic_bad"
sys.path.insert(0, str(ROOT / "conformance" / "alembic_clean"))
from generate import generate  # noqa: E402

INI = "[pytest]\ndbmatrix_alembic_ini = alembic.ini\n"


def run_migrations(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("--dbmatrix-strict", "--dbmatrix-report=report.json",
                              "-p", "no:cacheprovider", *args)


def findings(pytester: pytest.Pytester) -> set[tuple[str, str, str | None, str]]:
    data = json.loads((pytester.path / "report.json").read_text())
    return {(f["check"], f["hazard"], f["revision"], f["backend"])
            for f in data["migrations"]["findings"]}


def report(pytester: pytest.Pytester) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((pytester.path / "report.json").read_text())
    return data


def test_bad_sample_reports_exactly_the_expected_findings(
        pytester: pytest.Pytester, live_urls: dict[str, str]) -> None:
    shutil.copytree(BAD, pytester.path, dirs_exist_ok=True)
    pytester.makeini(INI)
    result = run_migrations(pytester, f"--dbmatrix={LIVE}")
    expected = json.loads((BAD / "expected_findings.json").read_text())
    wanted = {(f["check"], f["kind"], f["revision"], backend)
              for f in expected["findings"] for backend in f["backends"]}
    assert findings(pytester) == wanted
    assert all(f["hazard"] and f["severity"] in ("error", "warning")
               for f in report(pytester)["findings"]), "every finding has hazard and severity"
    rows = {t["test"]: t["results"] for t in report(pytester)["tests"]}
    assert rows["migrations::model_match"]["postgresql"]["outcome"] == "passed"
    assert rows["migrations::upgrade"]["sqlite"]["outcome"] == "failed"
    assert rows["migrations::downgrade"]["sqlite"]["outcome"] == "skipped"
    hints = {f["hazard"]: f["hint"] for f in report(pytester)["migrations"]["findings"]}
    assert "new_column_name" in hints["rename-as-add-drop"]
    atomicity = [f for f in report(pytester)["migrations"]["findings"]
                 if f["hazard"] == "non-atomic-revision" and f["backend"] == "mysql"]
    assert atomicity[0]["severity"] == "warning" and atomicity[0]["status"] == "reported"
    assert "re-running fails (OperationalError[1060]: Duplicate column name 'full_name')" in (
        atomicity[0]["message"])
    # its one finding is a warning, below fail-on: not failed, and skipped as partial (the
    # upgrade fails at r05 on mysql, so only the revisions before it were checked)
    assert rows["migrations::atomicity"]["mysql"]["outcome"] == "skipped"
    result.stdout.fnmatch_lines(["WARNING non-atomic-revision: * on mariadb, mysql (* reported)"])
    result.stdout.fnmatch_lines(
        ["FAILED migrations::upgrade[[]mysql[]] - error [[]alter-needs-existing[]] at r05 on *"])


def test_clean_history_passes_everywhere_and_renders_offline_sql(
        pytester: pytest.Pytester, live_urls: dict[str, str]) -> None:
    generate(pytester.path, revisions=9)
    pytester.makeini(INI + "dbmatrix_alembic_sql_dir = sql\n")
    result = run_migrations(pytester, f"--dbmatrix={LIVE}")
    result.assert_outcomes(passed=10 * 4 + 2)
    assert findings(pytester) == set()
    mssql = (pytester.path / "sql" / "mssql-upgrade.sql").read_text()
    assert "GO" in mssql and "CREATE TABLE t2" in mssql
    assert "CREATE TABLE t2" in (pytester.path / "sql" / "oracle-upgrade.sql").read_text()
    artifacts = report(pytester)["migrations"]["artifacts"]
    assert set(artifacts) == {"sqlite", "postgresql", "mysql", "mariadb", "mssql", "oracle"}


BATCH = 'with op.batch_alter_table("item") as b:\n        '
HAZARD_REVISIONS = {
    "h01": ('op.create_table("item", sa.Column("id", sa.Integer, primary_key=True), '
            'sa.Column("name", sa.String(50), nullable=False, server_default="x"), '
            'sa.Column("mood", sa.Enum("calm", "angry", name="mood")))',
            'op.drop_table("item")'),
    "h02": (BATCH + 'b.alter_column("name", type_=sa.String(60), existing_type=sa.String(50))',
            BATCH + 'b.alter_column("name", type_=sa.String(50), existing_type=sa.String(60))'),
    "h03": (BATCH + 'b.alter_column("name", type_=sa.String(3), existing_type=sa.String(60), '
            'existing_nullable=True)',
            BATCH + 'b.alter_column("name", type_=sa.String(60), existing_type=sa.String(3))'),
}
REVISION = '''import sqlalchemy as sa
from alembic import op

revision = {rev!r}
down_revision = {down!r}


def upgrade():
    {up}


def downgrade():
    {down_op}
'''


def write_history(path: Path, revisions: dict[str, tuple[str, str]],
                  parents: dict[str, str | None] | None = None) -> None:
    shutil.copy(BAD / "alembic.ini", path / "alembic.ini")
    (path / "migrations" / "versions").mkdir(parents=True)
    for name in ("env.py", "script.py.mako"):
        shutil.copy(BAD / "migrations" / name, path / "migrations" / name)
    (path / "models.py").write_text("import sqlalchemy as sa\nmetadata = sa.MetaData()\n")
    down = None
    for rev, (up, down_op) in revisions.items():
        parent = parents[rev] if parents else down
        (path / "migrations" / "versions" / f"{rev}.py").write_text(
            REVISION.format(rev=rev, down=parent, up=up, down_op=down_op))
        down = rev


def history_findings(pytester: pytest.Pytester, revisions: dict[str, tuple[str, str]],
                     checks: str, backends: str) -> list[dict[str, Any]]:
    """The migration findings of `checks` on a history of `revisions`, run on `backends`."""
    write_history(pytester.path, revisions)
    pytester.makeini(INI + f"dbmatrix_alembic_checks = {checks}\n")
    run_migrations(pytester, f"--dbmatrix={backends}")
    found: list[dict[str, Any]] = report(pytester)["migrations"]["findings"]
    return found


def test_enum_leak_narrowing_and_dropped_not_null_on_the_right_backends(
        pytester: pytest.Pytester, live_urls: dict[str, str]) -> None:
    write_history(pytester.path, HAZARD_REVISIONS)
    pytester.makeini(INI + "dbmatrix_alembic_checks = all -model_match -offline_sql\n")
    run_migrations(pytester, f"--dbmatrix={LIVE}")
    found = findings(pytester)
    assert ("downgrade", "pg-enum-type-leak", "h01", "postgresql") in found
    assert ("up_down_up", "pg-enum-type-leak", "h01", "postgresql") in found
    leak = next(f for f in report(pytester)["findings"] if f["hazard"] == "pg-enum-type-leak")
    assert leak["message"].endswith("leaves enum type(s) mood(calm, angry)")  # not cut
    for backend in ("mysql", "mariadb"):  # type change without existing_nullable
        assert ("data_preserved", "constraint-dropped", "h02", backend) in found
        assert ("hazards", "alter-needs-existing", "h02", backend) in found
    for backend in ("postgresql", "mysql", "mariadb"):  # narrowing fails once rows are there
        assert ("data_preserved", "data-too-long", "h03", backend) in found
    assert not {f for f in found if f[3] == "sqlite"}  # SQLite keeps every value and NOT NULL
    assert not {f for f in found if f[3] == "postgresql" and f[2] == "h02"}


def test_multiple_heads_and_check_selection(pytester: pytest.Pytester) -> None:
    branch = ('op.create_table("b", sa.Column("id", sa.Integer, primary_key=True))',
              'op.drop_table("b")')
    write_history(pytester.path, {"m01": HAZARD_REVISIONS["h01"], "m02": branch,
                                  "m03": (branch[0].replace('"b"', '"c"'),
                                          branch[1].replace('"b"', '"c"'))},
                  parents={"m01": None, "m02": "m01", "m03": "m01"})
    pytester.makeini(INI + "dbmatrix_alembic_checks = single_head upgrade downgrade\n")
    result = run_migrations(pytester, "--dbmatrix=sqlite")
    result.assert_outcomes(passed=2, failed=1)
    assert findings(pytester) == {("single_head", "multiple-heads", None, "sqlite")}


def test_unknown_check_name_is_a_usage_error(pytester: pytest.Pytester) -> None:
    shutil.copytree(BAD, pytester.path, dirs_exist_ok=True)
    pytester.makeini(INI + "dbmatrix_alembic_checks = all -upgrades\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.stderr.fnmatch_lines(["*ini dbmatrix_alembic_checks names unknown migration check "
                                 "'upgrades'; known: all, single_head*"])
    assert result.ret == pytest.ExitCode.USAGE_ERROR


DATA_TESTS = '''
import pytest

@pytest.fixture(scope="session")
def dbmatrix_before_revision_data():
    return {"c002": {"t0": [{"id": 7, "name": "before note"}]}}

@pytest.fixture(scope="session")
def dbmatrix_at_revision_data():
    return {"c002": {"t0": [{"id": 8, "name": "after", "note": "noted"}]}}

def test_rows_survive(dbmatrix_alembic):
    dbmatrix_alembic.migrate_up_before("c003")
    assert dbmatrix_alembic.current() == ("c002",)
    dbmatrix_alembic.insert_into("t0", {"id": 9, "name": "manual"})
    dbmatrix_alembic.migrate_up_to("heads")
    rows = dbmatrix_alembic.rows("t0")
    assert [(r["id"], r["name"], r["note"]) for r in rows] == [
        (7, "before note", None), (8, "after", "noted"), (9, "manual", None)]
    dbmatrix_alembic.migrate_down_to("c001")
    assert "note" not in dbmatrix_alembic.rows("t0")[0]
'''


def test_revision_data_fixtures_on_every_backend(
        pytester: pytest.Pytester, live_urls: dict[str, str]) -> None:
    generate(pytester.path, revisions=4)
    pytester.makeini(INI)
    pytester.makepyfile(test_data=DATA_TESTS)
    result = run_migrations(pytester, f"--dbmatrix={LIVE}", "test_data.py::test_rows_survive")
    result.assert_outcomes(passed=4)


def test_findings_reach_the_report_from_xdist_workers(pytester: pytest.Pytester) -> None:
    shutil.copytree(BAD, pytester.path, dirs_exist_ok=True)
    pytester.makeini(INI)
    run_migrations(pytester, "--dbmatrix=sqlite", "-n", "2")
    expected = json.loads((BAD / "expected_findings.json").read_text())
    wanted = {(f["check"], f["kind"], f["revision"], backend)
              for f in expected["findings"] for backend in f["backends"]
              if backend in ("sqlite", "mssql", "oracle")}
    assert findings(pytester) == wanted


def test_generated_items_have_unique_node_ids(pytester: pytest.Pytester) -> None:
    shutil.copytree(BAD, pytester.path, dirs_exist_ok=True)
    pytester.makeini(INI)
    result = pytester.runpytest("--dbmatrix=sqlite,postgresql,mariadb", "--collect-only", "-q")
    ids = [line for line in result.outlines if line.startswith("migrations::")]
    assert "migrations::upgrade[postgresql]" in ids
    assert len(ids) > 10 and len(ids) == len(set(ids))


def test_a_type_created_twice_in_a_first_upgrade_is_not_called_a_leak(
        pytester: pytest.Pytester, live_urls: dict[str, str]) -> None:
    """PostgreSQL's 'type "x" already exists' is a downgrade's leak only after a downgrade."""
    failed = history_findings(pytester, {
        "t01": ('sa.Enum("calm", "angry", name="mood").create(op.get_bind())',
                'sa.Enum(name="mood").drop(op.get_bind())'),
        "t02": ('op.create_table("item", sa.Column("id", sa.Integer, primary_key=True), '
                'sa.Column("mood", sa.Enum("calm", "angry", name="mood")))',
                'op.drop_table("item")'),
    }, "upgrade", "postgresql")
    assert [(f["hazard"], f["revision"]) for f in failed] == [("pg-type-exists", "t02")]
    assert 'type "mood" already exists' in failed[0]["message"]
    assert "create_type=False" in failed[0]["hint"]


ITEM = ('op.create_table("item", sa.Column("id", sa.Integer, primary_key=True), '
        'sa.Column("name", sa.String(20)))', 'op.drop_table("item")')


def test_a_not_null_column_added_to_rows_fails_here_and_is_filled_there(
        pytester: pytest.Pytester, live_urls: dict[str, str]) -> None:
    """PostgreSQL and SQLite refuse the revision once rows are there (the plain upgrade
    passes); MySQL and MariaDB fill the rows with '' and 0: one hazard, per backend what it
    did."""
    write_history(pytester.path, {
        "n01": ITEM,
        "n02": ('op.add_column("item", sa.Column("code", sa.String(10), nullable=False))\n    '
                'op.add_column("item", sa.Column("qty", sa.Integer, nullable=False))',
                'op.drop_column("item", "qty")\n    op.drop_column("item", "code")'),
    })
    pytester.makeini(INI + "dbmatrix_alembic_checks = upgrade, data_preserved\n")
    result = run_migrations(pytester, f"--dbmatrix={LIVE}")
    result.stdout.fnmatch_lines([
        "dbmatrix migrations by revision: 1 revision(s) the backends do differently", "  n02",
        "    sqlite: not-null-added-to-rows (data_preserved): *Cannot add a NOT NULL column*",
        "    postgresql: not-null-added-to-rows (data_preserved): *contains null values*",
        "    mysql, mariadb: not-null-added-to-rows (data_preserved, +1 more): item.code was "
        "added NOT NULL without a default: the server filled the 2 existing row(s) with ''"])
    row = report(pytester)["migrations"]["by_revision"]["n02"]
    assert set(row) == {"sqlite", "postgresql", "mysql", "mariadb"}
    assert [f["hazard"] for f in row["mariadb"]] == [
        "not-null-added-to-rows"] * 2
    failed = [f for f in report(pytester)["migrations"]["findings"] if f["revision"] == "n02"]
    seen = {(f["check"], f["backend"], f["column"]) for f in failed
            if f["hazard"] == "not-null-added-to-rows"}
    assert seen == {("data_preserved", "sqlite", None), ("data_preserved", "postgresql", None),
                    ("data_preserved", "mysql", "code"), ("data_preserved", "mysql", "qty"),
                    ("data_preserved", "mariadb", "code"), ("data_preserved", "mariadb", "qty")}
    messages = {(f["backend"], f["column"]): f["message"] for f in failed}
    assert "contains null values" in messages[("postgresql", None)]
    assert messages[("mariadb", "code")].endswith("filled the 2 existing row(s) with ''")
    assert messages[("mysql", "qty")].endswith("filled the 2 existing row(s) with '0'")
    assert all(f["severity"] == "error" for f in failed)


def test_a_constraint_the_seeded_rows_break_is_the_seedings_doing(
        pytester: pytest.Pytester, live_urls: dict[str, str]) -> None:
    """A CHECK added over generated names fails on the seeded rows: a warning that names the
    seeding, not a failure of the revision; plain upgrade passes."""
    write_history(pytester.path, {
        "s01": ITEM,
        "s02": ('op.create_check_constraint("ck_item_name", "item", "char_length(name) < 3")',
                'op.drop_constraint("ck_item_name", "item", type_="check")'),
    })
    pytester.makeini(INI + "dbmatrix_alembic_checks = upgrade, data_preserved\n")
    result = run_migrations(pytester, "--dbmatrix=postgresql,mysql,mariadb")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()[-3000:]
    found = report(pytester)["migrations"]["findings"]
    assert {(f["hazard"], f["backend"], f["status"]) for f in found} == {
        ("seeded-rows-rejected", b, "reported") for b in ("postgresql", "mysql", "mariadb")}
    outcomes = {(t["test"], b): c["outcome"] for t in report(pytester)["tests"]
                for b, c in t["results"].items()}
    assert outcomes[("migrations::data_preserved", "postgresql")] == "skipped"
    assert outcomes[("migrations::upgrade", "mariadb")] == "passed"


def test_a_batch_rebuild_of_a_referenced_table_is_the_revisions_failure(
        pytester: pytest.Pytester) -> None:
    """SQLite with foreign keys on: batch mode drops the old copy of a table other rows
    reference, and fails (MLflow's a8c4a736bde6 does so); the seeded rows only reveal it."""
    found = history_findings(pytester, {
        "b01": ('op.create_table("parent", sa.Column("id", sa.Integer, primary_key=True), '
                'sa.Column("code", sa.String(20), nullable=False))\n    '
                'op.create_table("child", sa.Column("id", sa.Integer, primary_key=True), '
                'sa.Column("parent_id", sa.Integer, sa.ForeignKey("parent.id"), nullable=False))',
                'op.drop_table("child")\n    op.drop_table("parent")'),
        "b02": ('with op.batch_alter_table("parent") as b:\n        '
                'b.alter_column("code", nullable=True, existing_type=sa.String(20))',
                'pass'),
    }, "upgrade, data_preserved", "sqlite")
    assert [(f["check"], f["hazard"], f["revision"], f["status"]) for f in found] == [
        ("data_preserved", "sqlite-batch-referenced", "b02", "failed")]
    assert "FOREIGN KEY constraint failed" in found[0]["message"]
    assert "PRAGMA foreign_keys=OFF" in found[0]["hint"]


SECOND_UPGRADE = '''CALLS = {}


def upgrade():
    url = str(op.get_bind().engine.url)
    CALLS[url] = CALLS.get(url, 0) + 1
    again = CALLS[url] > 1  # every upgrade of this database after the timeline's
    %s


def downgrade():
    op.drop_table("b")
'''
LATER_UPGRADES = {
    "differs": ('op.create_table("b", sa.Column("id", sa.Integer, primary_key=True), '
                '*([sa.Column("extra", sa.Integer)] if again else []))'),
    "fails": ('op.create_table("b", sa.Column("id", sa.Integer, primary_key=True))\n    '
              'if again:\n        raise RuntimeError("second upgrade refused")'),
}


@pytest.mark.parametrize("case", ["leftover", "differs", "fails"])
def test_up_down_up_walks_alone_where_the_shared_walks_find_something(
        pytester: pytest.Pytester, live_urls: dict[str, str], case: str) -> None:
    """downgrade walks from head to base; up_down_up's second upgrade and data_preserved's
    rows walk are then one walk up from there. Where the downgrade walk left something
    (f01 leaves table a2) or the second upgrade of a revision differs from or fails unlike
    the timeline's (f02), up_down_up runs its own walk from base and reports what it finds
    there; the rows walk then starts from a fresh base, so a downgrade's leftover is not
    blamed on the rows."""
    clean = ('op.create_table("a", sa.Column("id", sa.Integer, primary_key=True))',
             'op.drop_table("a")')
    leaky = (clean[0] + '\n    op.create_table("a2", sa.Column("id", sa.Integer, '
             'primary_key=True))', clean[1])
    write_history(pytester.path, {"f01": leaky if case == "leftover" else clean,
                                  "f02": (clean[0].replace('"a"', '"c"'),
                                          clean[1].replace('"a"', '"c"'))})
    if case != "leftover":
        module = pytester.path / "migrations" / "versions" / "f02.py"
        text = module.read_text()
        module.write_text(text[:text.index("def upgrade")]
                          + SECOND_UPGRADE % LATER_UPGRADES[case])
    checks = "downgrade, up_down_up" + (", data_preserved" if case == "leftover" else "")
    pytester.makeini(INI + f"dbmatrix_alembic_checks = {checks}\n")
    run_migrations(pytester, "--dbmatrix=sqlite,postgresql")
    found = findings(pytester)
    expected = {
        "leftover": {("downgrade", "downgrade-mismatch", "f01"),
                     ("up_down_up", "downgrade-mismatch", "f01"),
                     ("up_down_up", "up-down-up-failed", "f01")},
        "differs": {("up_down_up", "up-down-up-mismatch", "f02")},
        "fails": {("up_down_up", "up-down-up-failed", "f02")},
    }[case]
    for backend in ("sqlite", "postgresql"):
        assert {(check, kind, rev) for check, kind, rev, b in found if b == backend} == expected
    if case == "leftover":
        messages = [f["message"] for f in report(pytester)["migrations"]["findings"]
                    if f["check"] == "downgrade"]
        assert all("table a2: added" in m for m in messages), messages


def test_a_clean_history_upgrades_each_revision_twice_and_downgrades_it_once(
        pytester: pytest.Pytester) -> None:
    """On a clean history up_down_up's second upgrade is data_preserved's rows walk, after
    the downgrade walk: each revision is upgraded twice in all (the timeline, that walk) and
    downgraded once."""
    generate(pytester.path, revisions=3)
    pytester.makeconftest('''
from alembic.runtime import migration

COUNT = {}
ORIGINAL = {way: migration.MigrationStep.__dict__[f"{way}_from_script"]
            for way in ("upgrade", "downgrade")}


def counting(way):
    def counted(cls, revision_map, script):
        COUNT[way, script.revision] = COUNT.get((way, script.revision), 0) + 1
        return ORIGINAL[way].__func__(cls, revision_map, script)
    return classmethod(counted)


for way in ORIGINAL:
    setattr(migration.MigrationStep, f"{way}_from_script", counting(way))


def pytest_sessionfinish(session):
    for way, original in ORIGINAL.items():
        setattr(migration.MigrationStep, f"{way}_from_script", original)
    counts = {way: sorted(n for (w, _), n in COUNT.items() if w == way) for way in ORIGINAL}
    (session.config.rootpath / "moves.txt").write_text(repr(counts))
''')
    pytester.makeini(INI + "dbmatrix_alembic_checks = upgrade, downgrade, up_down_up, "
                     "data_preserved\n")
    result = run_migrations(pytester, "--dbmatrix=sqlite")
    result.assert_outcomes(passed=4)
    assert (pytester.path / "moves.txt").read_text() == repr(
        {"upgrade": [2, 2, 2], "downgrade": [1, 1, 1]})


def test_the_seeder_writes_a_table_again_only_when_its_columns_changed() -> None:
    """Rows of a shape a table has already test nothing new: data_preserved seeds a table
    again after a revision only when it is empty or its columns changed."""
    import sqlalchemy as sa

    from pytest_dbmatrix.migrations import data

    engine = sa.create_engine("sqlite://")
    with engine.connect() as conn:
        conn.exec_driver_sql("CREATE TABLE item (id INTEGER PRIMARY KEY, name VARCHAR(20))")
        conn.exec_driver_sql("CREATE TABLE tag (id INTEGER PRIMARY KEY)")
        seeder = data.Seeder()
        assert seeder.seed(conn) == {"item", "tag"}
        rows = data.read(conn)
        assert seeder.seed(conn, data.reflect(conn), rows) == set()
        conn.exec_driver_sql("ALTER TABLE item ADD COLUMN note VARCHAR(20)")
        conn.exec_driver_sql("DELETE FROM tag")
        assert seeder.seed(conn, data.reflect(conn), data.read(conn)) == {"item", "tag"}
        assert len(data.read(conn)["item"]) == 4
    engine.dispose()


def test_rows_are_matched_by_the_old_key_when_a_revision_changes_the_primary_key() -> None:
    """MLflow's 1b5f0d9ad7c1 adds `workspace` to the primary keys of its model tables: keyed by
    the new key, every seeded row looked gone ("2 row(s) of registered_models are gone"). The
    rows are matched by the old key's columns, so a row really deleted still counts."""
    import sqlalchemy as sa

    from pytest_dbmatrix.migrations import data

    engine = sa.create_engine("sqlite://")
    with engine.connect() as conn:
        conn.exec_driver_sql("CREATE TABLE model (name VARCHAR(20) PRIMARY KEY, note TEXT)")
        conn.exec_driver_sql("INSERT INTO model VALUES ('a', 'x'), ('b', 'y'), ('c', 'z')")
        before = data.read(conn)
        conn.exec_driver_sql("CREATE TABLE new_model (workspace VARCHAR(20) DEFAULT 'default' "
                             "NOT NULL, name VARCHAR(20), note TEXT, PRIMARY KEY (workspace, "
                             "name))")
        conn.exec_driver_sql("INSERT INTO new_model (name, note) SELECT name, note FROM model")
        conn.exec_driver_sql("DROP TABLE model")
        conn.exec_driver_sql("ALTER TABLE new_model RENAME TO model")
        assert data.losses(before, data.read(conn)) == []
        conn.exec_driver_sql("DELETE FROM model WHERE name = 'c'")
        conn.exec_driver_sql("UPDATE model SET note = 'changed' WHERE name = 'b'")
        assert [loss.message for loss in data.losses(before, data.read(conn))] == [
            "1 row(s) of model are gone",
            "1 value(s) of model.note changed, e.g. 'y' -> 'changed'"]
    engine.dispose()


def test_a_renamed_column_keeps_its_values_and_a_dropped_one_loses_them() -> None:
    """alter_column(new_column_name=...) (MLflow's 5d2d30f0abce renames jobs.function_fullname)
    was reported as "dropped with its values"; a column dropped while another is added with
    different values still is."""
    import sqlalchemy as sa

    from pytest_dbmatrix.migrations import data

    engine = sa.create_engine("sqlite://")
    with engine.connect() as conn:
        conn.exec_driver_sql("CREATE TABLE job (id INTEGER PRIMARY KEY, fullname TEXT)")
        conn.exec_driver_sql("INSERT INTO job VALUES (1, 'a.b'), (2, 'c.d')")
        before = data.read(conn)
        conn.exec_driver_sql("ALTER TABLE job RENAME COLUMN fullname TO name")
        assert data.losses(before, data.read(conn)) == []
        conn.exec_driver_sql("ALTER TABLE job DROP COLUMN name")
        conn.exec_driver_sql("ALTER TABLE job ADD COLUMN name TEXT DEFAULT 'other'")
        assert [loss.message for loss in data.losses(before, data.read(conn))] == [
            "job.fullname was dropped with its values"]
    engine.dispose()


def test_a_nullable_asked_for_through_a_table_name_not_written_out_is_no_finding(
        pytester: pytest.Pytester) -> None:
    """MLflow's a8c4a736bde6: `op.batch_alter_table(SqlModelVersion.__tablename__)` then
    alter_column("run_id", nullable=True): the revision asks for the lost NOT NULL although
    its table name is not a literal. One that does not ask is still found."""
    found = history_findings(pytester, {
        "n01": ('op.create_table("item", sa.Column("id", sa.Integer, primary_key=True), '
                'sa.Column("code", sa.String(20), nullable=False), '
                'sa.Column("kind", sa.String(20), nullable=False))',
                'op.drop_table("item")'),
        "n02": ('table = "it" + "em"\n    with op.batch_alter_table(table) as b:\n        '
                'b.alter_column("code", nullable=True, existing_type=sa.String(20))\n    '
                'op.execute("ALTER TABLE item ALTER COLUMN kind DROP NOT NULL")',
                'pass'),
    }, "upgrade, data_preserved", "postgresql")
    assert [(f["hazard"], f["revision"], f["message"]) for f in found] == [
        ("constraint-dropped", "n02", "item.kind lost NOT NULL (the revision did not ask for "
                                      "it)")]


def test_a_revision_that_queries_its_connection_offline_gets_the_offline_mode_hint(
        pytester: pytest.Pytester) -> None:
    """MLflow's 90e64c465722 opens an ORM Session on op.get_bind() to move data: under --sql
    the mock connection fails it, and the hint says to guard the data part, not to avoid
    reflection."""
    found = history_findings(pytester, {
        "o01": ('op.create_table("item", sa.Column("id", sa.Integer, primary_key=True))',
                'op.drop_table("item")'),
        "o02": ('from sqlalchemy import orm\n    session = orm.Session(bind=op.get_bind())\n    '
                'session.execute(sa.text("UPDATE item SET id = id"))\n    session.close()',
                'pass'),
    }, "offline_sql", "postgresql")
    assert {(f["hazard"], f["revision"], f["backend"]) for f in found} >= {
        ("offline-needs-connection", "o02", "postgresql")}
    assert all(f["hazard"] == "offline-needs-connection" for f in found), found
    assert "'MockConnection' object has no attribute" in found[0]["message"]
    assert "context.is_offline_mode()" in found[0]["hint"]


def test_a_downgrade_that_does_nothing_is_one_warning_not_a_cascade(
        pytester: pytest.Pytester) -> None:
    """30 of MLflow's 68 revisions have `def downgrade(): pass`: each was a downgrade-mismatch,
    the downgrades below it then ran on tables they did not expect (PostgreSQL: "cannot drop
    table registered_models because other objects depend on it"), and up_down_up's second
    upgrade failed ("duplicate column"). Now: one warning, the downgrades above it checked,
    up_down_up upgrades it only and checks the others."""
    write_history(pytester.path, {
        "e01": ('op.create_table("item", sa.Column("id", sa.Integer, primary_key=True))',
                'op.drop_table("item")'),
        "e02": ('op.add_column("item", sa.Column("note", sa.String(20)))', 'pass'),
        "e03": ('op.add_column("item", sa.Column("extra", sa.String(20)))',
                'op.drop_column("item", "extra")'),
    })
    pytester.makeini(INI + "dbmatrix_alembic_checks = upgrade, downgrade, up_down_up\n")
    run_migrations(pytester, "--dbmatrix=sqlite,postgresql", "-rs")
    assert findings(pytester) == {("downgrade", "downgrade-empty", "e02", b)
                                  for b in ("sqlite", "postgresql")}
    found = report(pytester)["migrations"]["findings"]
    assert {(f["message"], f["severity"], f["status"]) for f in found} == {(
        "the downgrade() of e02 is empty: the history cannot be downgraded below it, and what "
        "it changed stays", "warning", "reported")}
    outcomes = {(t["test"], b): c["outcome"] for t in report(pytester)["tests"]
                for b, c in t["results"].items()}
    assert outcomes == {(f"migrations::{check}", b): outcome for b in ("sqlite", "postgresql")
                        for check, outcome in (("upgrade", "passed"), ("downgrade", "skipped"),
                                               ("up_down_up", "passed"))}


def test_an_empty_or_refusing_downgrade_is_recognised() -> None:
    from pytest_dbmatrix.migrations.revision_scan import empty_downgrade

    assert empty_downgrade("def downgrade():\n    '''Irreversible.'''\n    pass\n") == "is empty"
    assert empty_downgrade("def downgrade():\n    ...\n") == "is empty"
    assert empty_downgrade("def downgrade():\n    raise NotImplementedError('no')\n") == (
        "raises NotImplementedError")
    assert empty_downgrade("def downgrade():\n    op.drop_table('x')\n") is None
    assert empty_downgrade("def downgrade():\n    if False:\n        pass\n") is None



def test_a_downgrade_refused_by_a_foreign_key_fails_on_mysql_too(
        pytester: pytest.Pytester) -> None:
    """MLflow's 2b4d017a5e9b drops registered_models before model_versions, which references
    it. MySQL's error carries 1451, which the warning integrity-error-codes also matches: it
    made the failed downgrade "reported" and the check pass there while it failed elsewhere."""
    found = history_findings(pytester, {
        "k01": ('op.create_table("parent", sa.Column("id", sa.Integer, primary_key=True))\n    '
                'op.create_table("child", sa.Column("id", sa.Integer, primary_key=True), '
                'sa.Column("parent_id", sa.Integer, sa.ForeignKey("parent.id")))',
                'op.drop_table("parent")\n    op.drop_table("child")'),
    }, "downgrade", "postgresql,mysql,mariadb")
    assert {(f["hazard"], f["backend"], f["status"]) for f in found} == {
        ("downgrade-failed", b, "failed") for b in ("postgresql", "mysql", "mariadb")}
    assert any("1451" in f["message"] for f in found if f["backend"] == "mysql"), found


FRESH_CONFTEST = '''
import json

import sqlalchemy as sa

from pytest_dbmatrix.run_state import get_state

SEEN = {}


def pytest_runtest_setup(item):
    """What the run's provisioner made beside each backend's database, before the item."""
    check, backend = item.name.rstrip("]").split("[")
    live = get_state(item.config).provisioner.live.get(backend)
    if live is not None and backend not in SEEN:
        with live.engine.connect() as conn:
            listed = set(live.family.list_databases(conn))
        SEEN[backend] = {"before": check, "run": live.database, "listed": sorted(listed),
                         "fresh": sorted(name for name in live.fresh if name in listed)}


def pytest_runtest_teardown(item):
    """The tables in the run's own database once the upgrade check has run."""
    check, backend = item.name.rstrip("]").split("[")
    if check == "upgrade":
        live = get_state(item.config).provisioner.live[backend]
        with live.engine.connect() as conn:
            SEEN[backend]["run_tables"] = sorted(sa.inspect(conn).get_table_names())


def pytest_sessionfinish(session):
    (session.config.rootpath / "fresh.json").write_text(json.dumps(SEEN))
'''


def server_databases() -> set[str]:
    import sqlalchemy as sa

    from tests.conftest import LIVE_URLS

    names = set()
    for backend, query in (("postgresql", "SELECT datname FROM pg_database"),
                           ("mariadb", "SHOW DATABASES")):
        engine = sa.create_engine(LIVE_URLS[backend], poolclass=sa.pool.NullPool)
        with engine.connect() as conn:
            names |= {f"{backend}:{r[0]}" for r in conn.exec_driver_sql(query)}
        engine.dispose()
    return names


@pytest.mark.parametrize(("select", "alongside"), [(None, True), ("single_head", True),
                                                   (None, False)])
def test_the_migration_database_is_made_beside_the_runs_and_never_left(
        pytester: pytest.Pytester, live_urls: dict[str, str], select: str | None,
        alongside: bool) -> None:
    """Beside a test that uses the run's database, the migration database is created while
    the run's is (one CREATE DATABASE's wait instead of two on PostgreSQL), claimed by the
    first check that needs it and dropped with it; when no check needs it (all deselected),
    the run drops it unused. When only the migration checks use a backend, they migrate in
    the run's database itself and no second one is made. Nothing is left either way."""
    generate(pytester.path, revisions=2)
    pytester.makeconftest(FRESH_CONFTEST)
    pytester.makeini(INI + "dbmatrix_alembic_checks = single_head, env_contract, upgrade\n")
    if alongside:
        pytester.makepyfile(test_plain="def test_plain(db_engine):\n    assert db_engine\n")
    before = server_databases()
    result = run_migrations(pytester, "--dbmatrix=postgresql,mariadb",
                            *(["-k", f"{select} or plain"] if select else []))
    migrations = 2 if select else 6
    result.assert_outcomes(passed=migrations + (2 if alongside else 0),
                           deselected=4 if select else 0)
    seen = json.loads((pytester.path / "fresh.json").read_text())
    for backend in ("postgresql", "mariadb"):
        run = seen[backend]["run"]
        assert seen[backend]["fresh"] == [run + "_mig" if alongside else run], backend
        assert (run + "_mig" in seen[backend]["listed"]) is alongside, backend
        if not select:  # where the upgrade ran: the run's database only when it is alone
            assert ("alembic_version" in seen[backend]["run_tables"]) is not alongside
    after = server_databases()
    ours = {f"{b}:{seen[b]['run']}{suffix}" for b in seen for suffix in ("", "_mig")}
    assert ours & after == set()
    # other runs' databases come and go (the suite runs beside itself); the rest stays
    assert {name for name in before - after if ":dbmatrix_" not in name} == set()
