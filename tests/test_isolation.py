"""Per-test isolation on every live backend: nothing a test writes is seen by the next one."""

from __future__ import annotations

import pytest

from tests.conftest import LIVE

MODELS = """
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

class Base(DeclarativeBase):
    pass

class Parent(Base):
    __tablename__ = "parent"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(50), unique=True)

class Child(Base):
    __tablename__ = "child"
    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int] = mapped_column(sa.ForeignKey("parent.id"))
"""

ISOLATION_TESTS = """
import pytest
import sqlalchemy as sa
from models import Parent

@pytest.mark.parametrize("round", [1, 2])
def test_connection_rolls_back(db_connection, round):
    assert db_connection.scalar(sa.select(sa.func.count()).select_from(Parent)) == 0
    db_connection.execute(sa.insert(Parent).values(name="a"))

@pytest.mark.parametrize("round", [1, 2])
def test_session_commit_is_undone(db_session, round):
    assert db_session.scalar(sa.select(sa.func.count()).select_from(Parent)) == 0
    db_session.add(Parent(name="committed"))
    db_session.commit()
    assert db_session.scalar(sa.select(sa.func.count()).select_from(Parent)) == 1

def test_savepoint_rolls_back_inside_the_test(db_session):
    db_session.add(Parent(name="kept"))
    db_session.flush()
    nested = db_session.begin_nested()
    db_session.add(Parent(name="undone"))
    db_session.flush()
    nested.rollback()
    names = db_session.scalars(sa.select(Parent.name)).all()
    assert names == ["kept"]

def test_failed_flush_can_roll_back_and_continue(db_session):
    db_session.add(Parent(name="dup"))
    db_session.commit()
    db_session.add(Parent(name="dup"))
    with pytest.raises(sa.exc.IntegrityError):
        db_session.commit()
    db_session.rollback()
    assert db_session.scalars(sa.select(Parent.name)).all() == ["dup"]
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(models=MODELS)
    pytester.makeini("[pytest]\ndbmatrix_metadata = models:Base\n")
    pytester.syspathinsert()
    return pytester


def test_isolation_on_every_backend(project: pytest.Pytester, live_urls: dict[str, str]) -> None:
    project.makepyfile(test_inner_isolation=ISOLATION_TESTS)
    result = project.runpytest(f"--dbmatrix={LIVE}", "--dbmatrix-strict", "-p", "no:randomly")
    result.assert_outcomes(passed=6 * 4)


def test_schema_is_created_once_and_dropped(project: pytest.Pytester,
                                            live_urls: dict[str, str]) -> None:
    project.makepyfile("""
        import sqlalchemy as sa
        SEEN = []
        def test_tables_exist(db_engine, dbmatrix_backend):
            names = set(sa.inspect(db_engine).get_table_names())
            assert {"parent", "child"} <= names
            SEEN.append((dbmatrix_backend.name, str(db_engine.url.database)))
        def test_database_is_the_runs_own(dbmatrix_backend, db_url):
            if dbmatrix_backend.family.server_backed:
                assert db_url.database.startswith("dbmatrix_")
                assert db_url.database.endswith("_main_" + dbmatrix_backend.name)
            else:
                assert db_url.database.endswith("sqlite-main.db")
    """)
    result = project.runpytest(f"--dbmatrix={LIVE}", "--dbmatrix-strict")
    result.assert_outcomes(passed=8)


@pytest.mark.parametrize(("setting", "enforced"), [("on", True), ("off", False)])
def test_sqlite_foreign_keys_setting(project: pytest.Pytester, setting: str,
                                     enforced: bool) -> None:
    project.makepyfile(f"""
        import pytest
        import sqlalchemy as sa
        from models import Child

        def test_orphan(db_connection):
            insert = sa.insert(Child).values(parent_id=999)
            if {enforced}:
                with pytest.raises(sa.exc.IntegrityError, match="FOREIGN KEY"):
                    db_connection.execute(insert)
            else:
                db_connection.execute(insert)
    """)
    result = project.runpytest(f"--dbmatrix-sqlite-foreign-keys={setting}")
    result.assert_outcomes(passed=1)
    fk = "on" if enforced else "off (SQLite default)"
    result.stdout.fnmatch_lines([f"*sqlite: embedded, foreign keys {fk}, journal *"])


@pytest.mark.parametrize(("setting", "journal", "synchronous"),
                         [(None, "memory", 0), ("on", "delete", 2), ("off", "memory", 0)])
def test_sqlite_durable_setting(project: pytest.Pytester, setting: str | None, journal: str,
                                synchronous: int) -> None:
    """The throwaway file journals in memory unless durable; rollback isolates either way."""
    project.makepyfile(f"""
        import pytest
        import sqlalchemy as sa
        from models import Parent

        @pytest.mark.parametrize("n", range(2))
        def test_pragmas(db_connection, n):
            assert db_connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "{journal}"
            assert db_connection.exec_driver_sql("PRAGMA synchronous").scalar() == {synchronous}
            assert db_connection.scalar(sa.select(sa.func.count()).select_from(Parent)) == 0
            db_connection.execute(sa.insert(Parent).values(name="p"))
    """)
    args = [f"--dbmatrix-sqlite-durable={setting}"] if setting else []
    result = project.runpytest(*args)
    result.assert_outcomes(passed=2)
    text = "file, fsync (SQLite default)" if setting == "on" else "in memory, no fsync"
    result.stdout.fnmatch_lines([f"*sqlite: embedded, foreign keys on, journal {text}"])


def test_leaves_no_database_behind(pytester: pytest.Pytester, live_urls: dict[str, str]) -> None:
    import sqlalchemy as sa

    pytester.makepyfile("""
        def test_write(db_connection, dbmatrix_backend, tmp_path_factory):
            db_connection.exec_driver_sql("CREATE TABLE IF NOT EXISTS t (x INTEGER)")
            if dbmatrix_backend.database and dbmatrix_backend.family.server_backed:
                with open("databases.txt", "a") as out:
                    out.write(dbmatrix_backend.database + "\\n")
    """)
    result = pytester.runpytest(f"--dbmatrix={LIVE}", "--dbmatrix-strict")
    result.assert_outcomes(passed=4)
    used = set((pytester.path / "databases.txt").read_text().split())
    assert len(used) == 3 and all(name.startswith("dbmatrix_") for name in used)
    remaining = set()
    for url, query in ((live_urls["postgresql"], "SELECT datname FROM pg_database"),
                       (live_urls["mariadb"], "SHOW DATABASES")):
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            remaining |= {r[0] for r in conn.exec_driver_sql(query)}
        engine.dispose()
    assert used & remaining == set()
    assert "test" in remaining


def test_ddl_leak_on_mysql_family_is_cleaned_and_reported(pytester: pytest.Pytester,
                                                          live_urls: dict[str, str]) -> None:
    pytester.makepyfile("""
        import pytest
        import sqlalchemy as sa

        @pytest.mark.parametrize("round", [1, 2])
        def test_creates_table(db_connection, round):
            assert "made_in_test" not in sa.inspect(db_connection).get_table_names()
            db_connection.exec_driver_sql("CREATE TABLE made_in_test (x INTEGER)")
    """)
    result = pytester.runpytest("--dbmatrix=sqlite,postgresql,mariadb", "--dbmatrix-strict",
                                "-p", "no:randomly")
    result.assert_outcomes(passed=6, warnings=2)
    result.stdout.fnmatch_lines([
        "*DDLLeakWarning: dbmatrix: on mariadb (mariadb) DDL commits implicitly: tables "
        "made_in_test created by this test outlived its rollback*",
    ])


def test_conftest_overrides_dbmatrix_metadata(pytester: pytest.Pytester,
                                             live_urls: dict[str, str]) -> None:
    pytester.makeconftest("""
        import pytest
        import sqlalchemy as sa

        NOTES = sa.Table("notes", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True),
                         sa.Column("text", sa.String(20)))

        @pytest.fixture(scope="session")
        def dbmatrix_metadata():
            return NOTES.metadata
    """)
    pytester.makepyfile("""
        import sqlalchemy as sa
        from conftest import NOTES

        def test_the_overriding_models_are_created(db_connection, dbmatrix_backend):
            db_connection.execute(sa.insert(NOTES).values(text=dbmatrix_backend.name))
            assert db_connection.scalar(sa.select(NOTES.c.text)) == dbmatrix_backend.name
    """)
    pytester.syspathinsert()
    result = pytester.runpytest("--dbmatrix=sqlite,postgresql", "--dbmatrix-strict")
    result.assert_outcomes(passed=2)


def test_backend_fixture_is_bound_to_the_item_being_set_up(pytester: pytest.Pytester,
                                                           live_urls: dict[str, str]) -> None:
    """Items of two backends interleaved by their own parameters: each sees its backend, and a
    session fixture built on db_engine is rebuilt per backend."""
    pytester.makeconftest("""
        import pytest

        @pytest.fixture(scope="session")
        def dialect_of_engine(db_engine):
            return db_engine.dialect.name
    """)
    pytester.makepyfile("""
        import pytest

        @pytest.mark.parametrize("n", range(3))
        def test_backend(dbmatrix_backend, dialect_of_engine, db_url, n):
            assert dbmatrix_backend.dialect == dialect_of_engine
            assert db_url.get_backend_name() == dialect_of_engine

        def test_not_in_the_matrix(request):
            request.getfixturevalue("dbmatrix_backend")
    """)
    result = pytester.runpytest("--dbmatrix=sqlite,postgresql", "--dbmatrix-strict", "-v",
                                "-p", "no:randomly")
    result.assert_outcomes(passed=6, errors=0, failed=1)
    result.stdout.fnmatch_lines(["*test_backend[[]postgresql-2[]] PASSED*",
                                 "*request it as a test argument*"])


SHARED_TRANSACTION_TESTS = """
import pytest
import sqlalchemy as sa
from models import Parent

@pytest.fixture
def seeded(db_connection):
    db_connection.execute(sa.insert(Parent).values(name="seed"))
    yield
    assert db_connection.scalar(sa.select(sa.func.count()).select_from(Parent)) >= 1

def names(db_connection):
    return db_connection.scalars(sa.select(Parent.name).order_by(Parent.name)).all()

@pytest.mark.parametrize("round", [1, 2])
def test_session_then_connection(db_session, db_connection, round):
    assert names(db_connection) == []
    db_session.add(Parent(name="orm"))
    db_session.commit()
    assert names(db_connection) == ["orm"]
    assert db_session.connection().connection.dbapi_connection is \\
        db_connection.connection.dbapi_connection

@pytest.mark.parametrize("round", [1, 2])
def test_connection_then_session(db_connection, db_session, round):
    db_connection.execute(sa.insert(Parent).values(name="core"))
    assert db_session.scalars(sa.select(Parent.name)).all() == ["core"]

@pytest.mark.parametrize("round", [1, 2])
def test_user_fixture_on_the_connection(db_session, seeded, round):
    assert db_session.scalars(sa.select(Parent.name)).all() == ["seed"]
"""


def test_session_and_connection_share_one_transaction(project: pytest.Pytester,
                                                      live_urls: dict[str, str]) -> None:
    """db_session does not depend on db_connection, yet a test asking for both sees one
    transaction, rolled back once both are torn down, whatever the order."""
    project.makepyfile(test_inner_shared=SHARED_TRANSACTION_TESTS)
    result = project.runpytest(f"--dbmatrix={LIVE}", "--dbmatrix-strict", "-p", "no:randomly")
    result.assert_outcomes(passed=6 * 4)
