"""The live tiers through an async-only driver (`postgresql+asyncpg`, `sqlite+aiosqlite`).

The scenarios are sync code; SQLAlchemy's `run_sync` runs them on the sync face of an async
connection, so every statement and value goes through the async driver. The loop is the
runner's own, one for the run: the user's loops never see these engines."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy.engine import Connection

from pytest_dbmatrix.errors import normalise
from pytest_dbmatrix.event_loops import outside_a_running_loop
from pytest_dbmatrix.provision import AsyncUnusable, LiveBackend, live_async_engine
from pytest_dbmatrix.run_state import MatrixState

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

T = TypeVar("T")


class AsyncDriverPath:
    """One event loop and one async engine per async-only column, made on first use."""

    def __init__(self, state: MatrixState) -> None:
        self.state = state
        self.loop: asyncio.AbstractEventLoop | None = None
        self.engines: dict[str, AsyncEngine] = {}
        self.unusable: dict[str, str] = {}

    def run(self, live: LiveBackend, work: Callable[[Connection], T]) -> T:
        """`work(connection)` on a connection of the column's async driver."""
        engine = self._engine(live)

        async def on_a_connection() -> T:
            async with engine.connect() as conn:
                return await conn.run_sync(work)

        return outside_a_running_loop(lambda: self._loop().run_until_complete(on_a_connection()))

    def _loop(self) -> asyncio.AbstractEventLoop:
        if self.loop is None:
            self.loop = asyncio.new_event_loop()
        return self.loop

    def _engine(self, live: LiveBackend) -> AsyncEngine:
        if live.name in self.unusable:
            self.state.fail_or_skip(self.unusable[live.name])
        engine = self.engines.get(live.name)
        if engine is not None:
            return engine
        try:
            engine = live_async_engine(live, self.state.settings, foreign_keys=True)
        except AsyncUnusable as exc:
            self.unusable[live.name] = str(exc)
            self.state.fail_or_skip(str(exc))
            raise
        self.engines[live.name] = engine
        return engine

    def close(self) -> list[str]:
        """Dispose the engines on their loop, then close it."""
        problems: list[str] = []
        loop = self.loop
        if loop is None:
            return problems
        for name, engine in self.engines.items():
            try:
                outside_a_running_loop(partial(loop.run_until_complete, engine.dispose()))
            except Exception as exc:
                problems.append(f"conformance cleanup on {name}: "
                                f"{normalise(exc, self.state.settings.secrets).line}")
        loop.close()
        self.loop = None
        return problems
