"""The database migrations run in: a second database of the run per backend and worker."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import URL, Engine

from pytest_dbmatrix.provision import LiveBackend, run_engine
from pytest_dbmatrix.settings import Settings

SUFFIX = "_mig"


class MigrationDatabase:
    """Named after the run's own database (so stale-run cleanup finds it); empty on `reset`."""

    def __init__(self, live: LiveBackend, tmp_dir: Path, settings: Settings,
                 suffix: str = SUFFIX) -> None:
        self.live = live
        family = live.family
        if family.server_backed:
            self.name = f"{live.database}{suffix}"
            self.url: URL = family.database_url(live.url, self.name)
        else:
            self.name = str(tmp_dir / f"{live.name}{suffix}.db")
            self.url = live.url.set(database=self.name)
        self.engine: Engine = run_engine(live.family, self.url, settings)
        self.exists = False

    def reset(self) -> None:
        """Make the database empty: drop and create it (delete the file on SQLite)."""
        self.engine.dispose()
        if not self.live.family.server_backed:
            Path(self.name).unlink(missing_ok=True)
            self.exists = True
            return
        if self.name in self.live.fresh:  # made empty beside the run's, untouched
            self.live.fresh.discard(self.name)
            self.exists = True
            return
        with self.live.engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            if self.exists:
                self.live.family.drop_database(conn, self.name)
            self.live.family.create_database(conn, self.name)
            self.live.family.relax_durability(conn, self.name)
        self.exists = True

    def close(self) -> None:
        self.engine.dispose()
        if not self.exists:
            return
        if not self.live.family.server_backed:
            Path(self.name).unlink(missing_ok=True)
        else:
            with self.live.engine.connect() as conn:
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                self.live.family.drop_database(conn, self.name)
        self.exists = False
