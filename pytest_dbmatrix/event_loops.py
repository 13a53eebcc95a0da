"""Running asyncio work from sync code that may itself be inside a running event loop."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def outside_a_running_loop(work: Callable[[], T]) -> T:
    """Run `work` here, or in a thread of its own when this thread runs an event loop:
    asyncio.run() and run_until_complete() refuse to start inside a running loop (an async
    env.py, a check called from an async test)."""
    import asyncio  # not at import: a SQLite-only run never needs it

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return work()
    from concurrent.futures import ThreadPoolExecutor  # only under a running loop

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(work).result()
