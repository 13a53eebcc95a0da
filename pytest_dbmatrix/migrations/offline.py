"""Offline (--sql) rendering of the whole history for a dialect, with no server."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic.runtime.environment import EnvironmentContext

from pytest_dbmatrix.backends import for_dialect
from pytest_dbmatrix.migrations.history import History

RUNNING = re.compile(r"^-- Running (upgrade|downgrade) (\S*) -> (\S+)", re.M)


@dataclass
class Rendering:
    """The SQL of an offline upgrade (and downgrade), or where and why it stopped."""

    dialect: str
    sql: str
    direction: str
    error: BaseException | None = None

    @property
    def failed_revision(self) -> str | None:
        """The revision being rendered when it failed (the last one the output announces)."""
        found = RUNNING.findall(self.sql)
        if not found or self.error is None:
            return None
        direction, source, target = found[-1]
        return str(target if direction == "upgrade" else source)


def offline_url(dialect: str) -> str:
    family = for_dialect(dialect)
    return family.offline_url if family is not None else f"{dialect}://"


def render(history: History, dialect: str, direction: str = "upgrade") -> Rendering:
    """`alembic upgrade base:heads --sql` (or downgrade heads:base) for `dialect`."""
    script = history.script
    config = history.config
    buffer = io.StringIO()
    up = direction == "upgrade"
    heads = script.get_heads()
    if not up and len(heads) != 1:
        return Rendering(dialect, "", direction,
                         ValueError("offline downgrade needs a single head"))

    def fn(rev: Any, context: object) -> object:
        if up:
            return script._upgrade_revs("heads", rev)
        return script._downgrade_revs("base", rev)

    config.file_config  # noqa: B018 - read the ini before hiding its name
    saved = config.config_file_name, config.output_buffer
    config.set_main_option("sqlalchemy.url", offline_url(dialect))
    config.config_file_name, config.output_buffer = None, buffer
    kw = {"starting_rev": None if up else heads[0], "destination_rev": "heads" if up else "base"}
    try:
        with EnvironmentContext(config, script, fn=fn, as_sql=True, **kw):
            script.run_env()
    except Exception as exc:
        return Rendering(dialect, buffer.getvalue(), direction, exc)
    finally:
        config.config_file_name, config.output_buffer = saved
    return Rendering(dialect, buffer.getvalue(), direction)


def save(rendering: Rendering, directory: Path, name: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}-{rendering.direction}.sql"
    path.write_text(rendering.sql, encoding="utf-8")
    return path
