"""The user's Alembic project: its Config, its scripts, revisions in the order they apply."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from alembic.config import Config
from alembic.script import Script, ScriptDirectory
from alembic.util import CommandError

from pytest_dbmatrix.migrations.revision_scan import alter_intents, empty_downgrade

ASYNC_ENV = re.compile(r"\basync_engine_from_config\b|\bcreate_async_engine\b")


class HistoryError(Exception):
    """The Alembic project cannot be loaded; the message names the setting and the fix."""


def load_config(ini: str, base: Path, source: str) -> Config:
    """An Alembic Config for `ini` (relative to `base`), or a clear error naming `source`."""
    path = Path(ini)
    if not path.is_absolute():
        path = base / path
    if not path.is_file():
        raise HistoryError(f"dbmatrix: {source} names {ini!r} but {path} does not exist; "
                           f"give the path of alembic.ini (relative to {base})")
    return Config(str(path))


@dataclass
class History:
    """The scripts of one Alembic project, loaded once and shared by every check."""

    config: Config
    _intents: dict[str, dict[tuple[str, str], frozenset[str]]] = field(
        default_factory=dict, init=False, repr=False)

    @cached_property
    def script(self) -> ScriptDirectory:
        try:
            return ScriptDirectory.from_config(self.config)
        except CommandError as exc:
            raise HistoryError(f"dbmatrix: cannot load the Alembic scripts of "
                               f"{self.config.config_file_name}: {exc}") from None

    @cached_property
    def env_is_async(self) -> bool:
        """env.py makes an async engine (Alembic's `async` template, `run_sync`): it gets an
        async driver's URL of the run's migration database in sqlalchemy.url."""
        env = Path(self.script.dir) / "env.py"
        try:
            source = env.read_text(encoding="utf-8")
        except OSError:
            return False
        return ASYNC_ENV.search(source) is not None

    @cached_property
    def ordered(self) -> list[Script]:
        """Every revision, parents before children (merge points after all their parents)."""
        return list(reversed(list(self.script.walk_revisions("base", "heads"))))

    @property
    def heads(self) -> list[str]:
        return list(self.script.get_heads())

    def index(self, revision: str) -> int:
        return next(i for i, s in enumerate(self.ordered) if s.revision == revision)

    def label(self, script: Script) -> str:
        doc = (script.doc or "").strip().splitlines()
        return f"{script.revision} ({doc[0]})" if doc else script.revision

    def source(self, script: Script) -> str:
        return Path(script.path).read_text(encoding="utf-8")

    def alter_intents(self, script: Script) -> dict[tuple[str, str], frozenset[str]]:
        """revision_scan.alter_intents of the script, parsed once: data_preserved asks after
        every revision on every backend (3 ms a parse)."""
        found = self._intents.get(script.revision)
        if found is None:
            found = self._intents[script.revision] = alter_intents(self.source(script))
        return found

    @cached_property
    def irreversible(self) -> dict[str, str]:
        """Revision -> how its downgrade() says it does nothing (revision_scan.empty_downgrade):
        a history cannot be downgraded below such a revision."""
        return {s.revision: how for s in self.ordered
                if (how := empty_downgrade(self.source(s))) is not None}
