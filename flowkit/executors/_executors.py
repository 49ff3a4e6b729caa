"""Where worker functions run: the calling thread (inline) or a thread pool."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

__all__ = ["Executor", "InlineExecutor", "ThreadExecutor", "make_executor"]

Job = Callable[[], Any]


class Executor:
    """Runs jobs and reports ``(key, result)`` pairs through ``results``."""

    inline = False

    def __init__(self) -> None:
        self.results: queue.SimpleQueue[tuple[Any, Any]] = queue.SimpleQueue()

    def submit(self, key: Any, job: Job) -> None:
        """Run ``job``; put ``(key, job())`` on ``results`` when it returns."""
        raise NotImplementedError

    def shutdown(self) -> None:
        """Release resources."""


class InlineExecutor(Executor):
    """Runs each job at once in the calling thread: deterministic, lowest overhead."""

    inline = True

    def submit(self, key: Any, job: Job) -> None:
        self.results.put((key, job()))


_shared: dict[int, ThreadPoolExecutor] = {}
_shared_lock = threading.Lock()


class ThreadExecutor(Executor):
    """Runs jobs on a thread pool (shared per size, so repeated runs do not pay thread start-up)."""

    def __init__(self, max_workers: int = 8) -> None:
        super().__init__()
        with _shared_lock:
            pool = _shared.get(max_workers)
            if pool is None:
                pool = _shared[max_workers] = ThreadPoolExecutor(max_workers, thread_name_prefix="flowkit-worker")
        self._pool = pool
        self.max_workers = max_workers

    def submit(self, key: Any, job: Job) -> None:
        results = self.results

        def run() -> None:
            try:
                value = job()
            except BaseException as exc:  # the runner turns this into a task failure
                value = exc
            results.put((key, value))

        self._pool.submit(run)


def make_executor(executor: str | Executor | None, max_workers: int = 8) -> Executor:
    """``"inline"``, ``"threads"`` (default) or an Executor instance."""
    from flowkit.errors import InputError

    if isinstance(executor, Executor):
        return executor
    if executor in (None, "threads", "thread"):
        return ThreadExecutor(max_workers)
    if executor == "inline":
        return InlineExecutor()
    raise InputError(f"unknown executor {executor!r}. Fix: use executor='inline' or executor='threads'.")
