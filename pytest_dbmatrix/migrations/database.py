"""The database migrations run in: a second database of the run per backend and worker, or
the run's own when no other test uses that backend."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import URL, Connection, Engine

from pytest_dbmatrix.provision import LiveBackend, run_engine
from pytest_dbmatrix.settings import Settings

SUFFIX = "_mig"


class MigrationDatabase:
    """Named after the run's own database (so stale-run cleanup finds it); empty on `reset`.

    `own`: the run's database itself (`Provisioner.hand_over`), made and dropped by the
    provisioner; dropped and made again here from the server's own database, since a
    PostgreSQL session cannot drop the database it is connected to."""

    def __init__(self, live: LiveBackend, tmp_dir: Path, settings: Settings,
                 suffix: str = SUFFIX, own: bool = False) -> None:
        self.live = live
        family = live.family
        self.own = own and family.server_backed
        if self.own:
            self.name = str(live.database)
            self.url: URL = live.url
        elif family.server_backed:
            self.name = f"{live.database}{suffix}"
            self.url = family.database_url(live.url, self.name)
        else:
            self.name = str(tmp_dir / f"{live.name}{suffix}.db")
            self.url = live.url.set(database=self.name)
        self.settings = settings
        self.engine: Engine = run_engine(live.family, self.url, settings)
        self.exists = False

    def reset(self) -> None:
        """Make the database empty: drop and create it (delete the file on SQLite)."""
        self.engine.dispose()
        if not self.live.family.server_backed:
            Path(self.name).unlink(missing_ok=True)
            self.exists = True
            return
        if self.name in self.live.fresh:  # made empty for us, untouched
            self.live.fresh.discard(self.name)
            self.exists = True
            return
        with self._admin() as conn:
            if self.exists or self.own:
                self.live.family.drop_database(conn, self.name)
            self.live.family.create_database(conn, self.name)
            self.live.family.relax_durability(conn, self.name)
        self.exists = True

    @contextmanager
    def _admin(self) -> Iterator[Connection]:
        """A connection to create and drop the database from: the run's database, or, for
        the run's database itself, the server's (its pooled sessions closed first)."""
        if not self.own:
            with self.live.engine.connect() as conn:
                yield conn.execution_options(isolation_level="AUTOCOMMIT")
            return
        self.live.engine.dispose()
        admin = run_engine(self.live.family, self.live.server.url, self.settings, admin=True)
        try:
            with admin.connect() as conn:
                yield conn
        finally:
            admin.dispose()

    def close(self) -> None:
        """Dispose the engine; drop the database unless the provisioner drops it."""
        self.engine.dispose()
        if not self.exists:
            return
        if not self.live.family.server_backed:
            Path(self.name).unlink(missing_ok=True)
        elif not self.own:
            with self._admin() as conn:
                self.live.family.drop_database(conn, self.name)
        self.exists = False
