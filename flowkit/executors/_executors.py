"""Where worker functions run: the calling thread (inline), a thread pool, worker processes or a Dask cluster."""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flowkit.workers import Task, Worker

__all__ = ["DROPPED", "Executor", "InlineExecutor", "ThreadExecutor", "make_executor"]

Job = Callable[[], Any]


class _Dropped:
    __slots__ = ()

    def __repr__(self) -> str:
        return "DROPPED"


DROPPED: Any = _Dropped()
"""What an executor reports for a call it abandoned because its task had ended meanwhile (timed out,
cancelled, started again by a rerun): the Runner frees the call's slot and reports nothing to the engine,
so a late result can never land on the task (or on a later attempt of it)."""


class Executor:
    """Runs worker calls and reports ``(key, result)`` pairs through ``results``.

    The Runner calls :meth:`submit_worker` for every task it starts; a subclass that only
    implements :meth:`submit` (run a closure) gets ``worker.execute(task)`` as that closure.
    Every call is answered exactly once, with its result or with :data:`DROPPED`.
    """

    inline = False
    batches = False
    """True when :meth:`submit_worker` may hold calls back until :meth:`send` (one request for many)."""

    def __init__(self) -> None:
        self.results: queue.SimpleQueue[tuple[Any, Any]] = queue.SimpleQueue()

    def send(self) -> None:
        """Send the calls held back since the last send (the Runner calls it after each round of starts)."""

    def submit(self, key: Any, job: Job) -> None:
        """Run ``job``; put ``(key, job())`` on ``results`` when it returns."""
        raise NotImplementedError

    def submit_worker(self, key: Any, worker: Worker, task: Task) -> None:
        """Run ``worker.execute(task)``; put ``(key, outcome)`` on ``results`` when it returns."""
        self.submit(key, lambda: worker.execute(task))

    def shutdown(self) -> None:
        """Release resources."""


class InlineExecutor(Executor):
    """Runs each job at once in the calling thread: deterministic, lowest overhead."""

    inline = True

    def submit(self, key: Any, job: Job) -> None:
        self.results.put((key, job()))


class _Pool:
    """``size`` daemon threads taking ``(results, key, function, argument)`` from one queue.

    Cheaper per call than ``ThreadPoolExecutor.submit`` (no Future, no work item, no idle
    semaphore), and daemon threads: a script whose worker still sleeps after an interrupt exits.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.jobs: queue.SimpleQueue[tuple[Any, Any, Callable[[Any], Any], Any]] = queue.SimpleQueue()
        self.threads = 0
        self._lock = threading.Lock()

    def put(self, results: Any, key: Any, function: Callable[[Any], Any], argument: Any) -> None:
        if self.threads < self.size:
            with self._lock:
                # all of them at the first call, then kept for the process's life: parallel calls
                # start together instead of waiting for a thread to be born
                while self.threads < self.size:
                    self.threads += 1
                    threading.Thread(target=self._work, name=f"flowkit-worker-{self.threads}", daemon=True).start()
        self.jobs.put((results, key, function, argument))

    def submit(self, job: Job) -> None:
        """Run ``job()`` on a worker thread, its result dropped (``job`` reports by itself)."""
        self.put(_DISCARD, None, _call, job)

    def _work(self) -> None:
        get = self.jobs.get
        while True:
            results, key, function, argument = get()
            try:
                value = function(argument)
            except BaseException as exc:  # the runner turns this into a task failure
                value = exc
            results.put((key, value))
            del results, key, function, argument, value  # hold nothing of a finished call while idle


_shared: dict[int, _Pool] = {}
_shared_lock = threading.Lock()


def _thread_pool(max_workers: int) -> _Pool:
    """The worker threads of this size shared by the whole process."""
    with _shared_lock:
        pool = _shared.get(max_workers)
        if pool is None:
            pool = _shared[max_workers] = _Pool(max_workers)
        return pool


def _forget_pools() -> None:
    _shared.clear()  # a forked child has none of its parent's threads


os.register_at_fork(after_in_child=_forget_pools)


def _call(job: Job) -> Any:
    return job()


class _Discard:
    __slots__ = ()

    def put(self, item: Any) -> None:
        pass


_DISCARD = _Discard()


class ThreadExecutor(Executor):
    """Runs jobs on daemon worker threads (shared per size, so repeated runs do not pay thread start-up)."""

    def __init__(self, max_workers: int = 8) -> None:
        if type(max_workers) is not int or max_workers < 1:
            from flowkit.errors import InputError

            raise InputError(
                f"max_workers must be a whole number of threads, at least 1 (got {max_workers!r}): with no "
                "worker thread a run would wait forever for its tasks. Fix: pass max_workers=1 or more "
                "(default 8), or executor='inline' to run every worker on the calling thread."
            )
        super().__init__()
        self._pool = _thread_pool(max_workers)
        self.max_workers = max_workers

    def submit(self, key: Any, job: Job) -> None:
        self._pool.put(self.results, key, _call, job)

    def submit_worker(self, key: Any, worker: Worker, task: Task) -> None:
        self._pool.put(self.results, key, worker.result, task)  # execute(), without an Outcome for a plain result


def make_executor(executor: str | Executor | None, max_workers: int = 8) -> Executor:
    """``"inline"``, ``"threads"`` (default), ``"processes"``, ``"dask"`` (a local Dask cluster) or an Executor.

    ``max_workers`` sizes the thread pool (``"threads"``) or the process pool (``"processes"``);
    ``"dask"`` uses one LocalCluster per Python session (2 worker processes, started on first use).
    """
    from flowkit.errors import InputError

    if isinstance(executor, Executor):
        return executor
    if executor in (None, "threads", "thread"):
        return ThreadExecutor(max_workers)
    if executor == "inline":
        return InlineExecutor()
    if executor in ("processes", "process"):
        from flowkit.executors._process import ProcessExecutor

        return ProcessExecutor(max_workers)
    if executor == "dask":
        from flowkit.executors._dask import DaskExecutor

        return DaskExecutor(local=True)
    raise InputError(
        f"unknown executor {executor!r}. Fix: use executor='inline', 'threads', 'processes' or 'dask', "
        "or pass an Executor instance (e.g. flowkit.executors.DaskExecutor(address=...))."
    )
