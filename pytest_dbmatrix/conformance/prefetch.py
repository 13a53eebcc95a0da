"""Run the live items' checks ahead, one thread per backend, while pytest works on other items.

The live tiers of one backend are independent of every other backend's and mostly wait for the
server, so each backend's checks run in order in a thread of their own; an item then reports the
result (or re-raises the exception, pytest's skip and fail included) its check produced there."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor

from pytest_dbmatrix.findings import Finding

Check = Callable[[], list[Finding]]
Result = tuple[list[Finding] | None, BaseException | None]


class RunInItem(Exception):
    """Raised by a check that has to run in the item itself (in pytest's thread)."""


class Prefetch:
    """Checks computed in background threads, keyed by node id; an item takes its result once."""

    def __init__(self) -> None:
        self._pool: ThreadPoolExecutor | None = None
        self._futures: dict[str, Future[None]] = {}
        self._results: dict[str, Result] = {}
        self._stop = threading.Event()

    def start(self, jobs: dict[str, list[tuple[str | None, Check]]]) -> None:
        """Run each backend's (node id, check) pairs in order, backends concurrently; a check
        without node id only prepares what later checks read."""
        jobs = {backend: checks for backend, checks in jobs.items() if checks}
        if not jobs:
            return
        self._pool = ThreadPoolExecutor(max_workers=len(jobs),
                                        thread_name_prefix="dbmatrix-conformance")
        for backend, checks in jobs.items():
            self._futures[backend] = self._pool.submit(self._run, checks)

    def _run(self, checks: list[tuple[str | None, Check]]) -> None:
        for key, check in checks:
            if self._stop.is_set():
                return
            try:
                found = check()
                if key is not None:
                    self._results[key] = (found, None)
            except RunInItem:
                continue
            except BaseException as exc:  # replayed in the item: skip, fail and errors alike
                if key is not None:
                    self._results[key] = (None, exc)

    def wait(self, backends: Iterable[str] | None = None) -> None:
        """Until the threads of these backends (default: all) are done."""
        names = self._futures if backends is None else backends
        for name in list(names):
            future = self._futures.get(name)
            if future is not None:
                future.result()

    def replay(self, key: str, backends: list[str], check: Check) -> Check:
        """The item's check: wait for its backends' threads, report what they found for it;
        run the check here when no thread did (or for items that only read results)."""

        def run() -> list[Finding]:
            self.wait(backends)
            found = self._results.pop(key, None)
            if found is None:
                return check()
            findings, error = found
            if error is not None:
                raise error
            assert findings is not None
            return findings

        return run

    def close(self) -> None:
        """Stop after the running checks (an interrupted run) and wait for the threads."""
        self._stop.set()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
