"""Worker calls on a Dask cluster: :class:`DaskExecutor`.

Only the worker calls go to Dask: the engine, the Runner and the store stay in the calling process
(the notebook). Each started SIMPLE task becomes one ``client.submit(..., pure=False)`` of the
shipped worker (cloudpickle) and task (pickle); the call runs ``Worker.execute`` on a Dask worker
exactly as the thread executor runs it (exceptions → FAILED / FAILED_WITH_TERMINAL_ERROR with the
traceback, ``print``/logging captured) and its :class:`~flowkit.workers.Outcome` comes back through
the client's event loop onto ``results``.

When the scheduler goes away, Dask cancels every future of the client: the tasks in flight fail
with a reason that says so and are retried per their task definition. Calls started while no
scheduler is reachable wait in the executor (the task stays IN_PROGRESS, so its
``responseTimeoutSeconds`` still applies) and are sent as soon as the client is connected again —
a Client reconnects to the same address by itself for ``distributed.comm.timeouts.connect`` — or
when :meth:`DaskExecutor.replace` gives the executor another client.

Timeouts and cancellation: when a task ends while its call runs — it timed out (``timeoutSeconds``,
``responseTimeoutSeconds``, ``totalTimeoutSeconds`` per its ``timeoutPolicy``), its workflow was
terminated (the task is CANCELED), or a rerun started it again — the executor notices within about
50 ms, answers the Runner with :data:`~flowkit.executors._executors.DROPPED` (the task keeps the
status the engine gave it and is retried per its task definition) and cancels the Dask future. The
call's late result, or the error its cancellation raises, is ignored: it can never reach the task.

Limitation: Dask cannot interrupt a function that is running in a worker thread. Cancelling the
future only makes the scheduler forget it; a hung call (``time.sleep(10**6)``, a busy loop) keeps
that Dask worker thread busy until it returns, so the cluster has one thread less for other calls.
Use ``executor="processes"`` for workers that may hang (their process is killed and replaced), or
restart the Dask workers (``client.restart_workers([...])``, which also fails the calls running
beside it on those workers).
"""

from __future__ import annotations

import atexit
import itertools
import logging
import os
import threading
import time
import weakref
from collections import deque
from typing import Any

from flowkit.executors._executors import DROPPED, Executor, _thread_pool
from flowkit.executors._shipping import (
    NEED_WORKER,
    Shipper,
    attempt_of,
    died,
    execute_blob,
    is_current,
    load_outcome,
    ref_of,
    runs_here,
)
from flowkit.workers._worker import Outcome, Task, Worker, _error

__all__ = ["DaskExecutor", "close_local_clusters"]

_log = logging.getLogger("flowkit.dask")


_in_loop_done_callback: Any = None
_GATHER_WINDOW_PER_CALL_S = 20e-6
_GATHER_WINDOW_MAX_S = 0.02
_GATHER_WINDOW_MIN_S = 0.002
_WATCH_S = 0.05  # how often the tasks of calls in flight are checked (the future of an ended task is cancelled)


def _distributed() -> Any:
    global _in_loop_done_callback
    try:
        import distributed
    except ImportError as exc:
        from flowkit.errors import InputError

        raise InputError(
            "executor='dask' needs dask.distributed. Fix: pip install 'flowkit[dask]' (or 'dask[distributed]')."
        ) from exc
    if _in_loop_done_callback is None:
        import inspect

        candidate = getattr(distributed.client, "done_callback", None)
        if candidate is not None and inspect.iscoroutinefunction(candidate):
            _in_loop_done_callback = candidate
    return distributed


def dask_call(digest: bytes, worker_blob: bytes, task_blob: bytes, log_level: int) -> bytes:
    """Run on the Dask worker: :func:`execute_blob`, telling which worker lacks a worker sent by digest."""
    answer = execute_blob(digest, worker_blob, task_blob, log_level)
    if answer == NEED_WORKER:
        from distributed import get_worker

        try:
            return NEED_WORKER + b"@" + get_worker().address.encode()
        except ValueError:  # not on a Dask worker
            return answer
    return answer


# ---------------------------------------------------------------------------------------------- local clusters

_local: dict[tuple[int, int], tuple[Any, Any]] = {}  # (n_workers, threads_per_worker) -> (cluster, client)
_local_lock = threading.Lock()


def _local_client(n_workers: int, threads_per_worker: int) -> Any:
    """Return a client of this session's LocalCluster of that shape (started on first use, worker processes)."""
    distributed = _distributed()
    import dask

    with _local_lock:
        entry = _local.get((n_workers, threads_per_worker))
        if entry is not None and entry[1].status == "running" and entry[0].status.name == "running":
            return entry[1]
        if entry is not None:
            _close(*entry)
        # A worker process that dies while running a task fails that task at once (KilledWorker) instead of
        # Dask running it again on another worker: flowkit's retry policy decides what happens next.
        with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
            cluster = distributed.LocalCluster(
                n_workers=n_workers, threads_per_worker=threads_per_worker, processes=True, dashboard_address=":0"
            )
        client = distributed.Client(cluster, set_as_default=False)
        _local[(n_workers, threads_per_worker)] = (cluster, client)
        if len(_local) == 1:
            atexit.register(close_local_clusters)
        return client


def _close(cluster: Any, client: Any) -> None:
    for thing in (client, cluster):
        try:
            thing.close()
        except Exception:  # noqa: BLE001 - closing is best effort
            pass


def close_local_clusters() -> None:
    """Close the LocalClusters that ``executor="dask"`` / ``DaskExecutor(local=True)`` started."""
    with _local_lock:
        entries = list(_local.values())
        _local.clear()
    for entry in entries:
        _close(*entry)


_known_by_client: weakref.WeakKeyDictionary[Any, set[bytes]] = weakref.WeakKeyDictionary()
_known_lock = threading.Lock()


def _known_digests(client: Any) -> set[bytes]:
    """Digests of the workers that ran on ``client``'s cluster: shared by every DaskExecutor of that client."""
    with _known_lock:
        try:
            known = _known_by_client.get(client)
            if known is None:
                known = _known_by_client[client] = set()
        except TypeError:  # not weak-referenceable
            known = set()
        return known


# ---------------------------------------------------------------------------------------------- the executor


class _Call:
    __slots__ = (
        "answered",
        "attempt",
        "blob",
        "client",
        "digest",
        "dropped",
        "future",
        "key",
        "level",
        "name",
        "sent_blob",
        "task_blob",
        "tries",
    )

    def __init__(self, key: Any, digest: bytes, blob: bytes, task_blob: bytes, level: int, name: str) -> None:
        self.key = key
        self.digest = digest
        self.blob = blob
        self.task_blob = task_blob
        self.level = level
        self.name = name
        self.sent_blob = True  # whether the last submission carried the pickled worker (or its digest only)
        self.tries = 0
        self.attempt = attempt_of(key)
        self.dropped = False  # a later call for the same task replaced it
        self.answered = False  # the Runner has had its answer (exactly one per call)
        self.future: Any = None
        self.client: Any = None

    def wanted(self) -> bool:
        return not self.dropped and is_current(self.key, self.attempt)


class DaskExecutor(Executor):
    """Runs SIMPLE tasks' worker calls on a dask.distributed cluster.

    Args:
        client: A ``distributed.Client`` to use.
        address: The scheduler address of an existing cluster (``"tcp://host:8786"``): a Client is made for it.
        local: Start (once per Python session) a ``LocalCluster`` of worker processes on this machine.
        n_workers, threads_per_worker: The shape of that LocalCluster.

    With none of these, the default Client (``distributed.get_client()``) is used. Workers are shipped
    with cloudpickle; flowkit itself must be importable on the Dask workers (it is for a LocalCluster).

    Examples:
        >>> flowkit.run(wf, {...}, workers=[...], executor="dask")                      # a LocalCluster
        >>> flowkit.run(wf, {...}, workers=[...], executor=DaskExecutor(address="tcp://10.0.0.5:8786"))

    If the scheduler goes away mid-run, the tasks in flight fail (and are retried per their task
    definition); the run goes on when a scheduler is reachable again: the client reconnects to the
    same address by itself, or give the executor a new one with ``executor.replace(Client(...))``
    (``replace(address=...)``, or ``replace(local=True)`` for a new LocalCluster). With
    ``flowkit.start``/a background Runtime this works while the run waits; the executor of a Runtime
    is ``runtime.runner.executor``.

    """

    batches = True

    def __init__(
        self,
        client: Any = None,
        address: str | None = None,
        local: bool = False,
        n_workers: int = 2,
        threads_per_worker: int = 1,
    ) -> None:
        super().__init__()
        _distributed()
        self.n_workers = n_workers
        self.threads_per_worker = threads_per_worker
        self.client: Any = None
        self.address: str | None = None
        self._lock = threading.Lock()
        self._held: deque[_Call] = deque()
        self._batch: list[_Call] = []  # calls started in this round of the Runner, sent by send()
        self._watching = False
        self._ready: list[tuple[Any, Any, _Call]] = []
        self._running = 0  # calls submitted and not finished yet
        self._known: set[bytes] = (
            set()
        )  # digests of workers that ran on the current client (sent by digest from then on)
        self._draining = False
        self._inflight: dict[_Call, None] = {}  # calls sent and not answered yet
        self._live: dict[int, _Call] = {}  # id(task) -> its latest call: an older one for the same task is dropped
        self._guarding = False  # the thread that cancels the futures of ended tasks runs
        self._ship = Shipper()
        self._token = os.urandom(4).hex()
        self._count = itertools.count()
        self.replace(client, address=address, local=local)

    # ------------------------------------------------------------------ connection
    def replace(self, client: Any = None, *, address: str | None = None, local: bool = False) -> None:
        """Use another client from now on (after the scheduler went away, or to move to another cluster).

        Calls that waited for a scheduler are sent to it at once; results still due from the old
        client are delivered if they arrive.
        """
        distributed = _distributed()
        if client is None:
            if address is not None:
                client = distributed.Client(address, set_as_default=False)
            elif local:
                client = _local_client(self.n_workers, self.threads_per_worker)
            else:
                try:
                    client = distributed.get_client()
                except ValueError as exc:
                    from flowkit.errors import InputError

                    raise InputError(
                        "DaskExecutor has no cluster to use. Fix: pass client=distributed.Client(...), "
                        "address='tcp://scheduler:8786', or local=True (a LocalCluster on this machine)."
                    ) from exc
        self.client = client
        self.address = getattr(getattr(client, "scheduler", None), "address", None) or address
        try:
            self._threads = max(1, sum(client.nthreads().values()))
        except Exception:  # noqa: BLE001 - not connected yet: assume a small cluster
            self._threads = 8
        self._known = _known_digests(client)
        self._flush()

    def _usable(self, client: Any) -> bool:
        return client is not None and client.status == "running"

    # ------------------------------------------------------------------ submitting
    def submit_worker(self, key: Any, worker: Worker, task: Task) -> None:
        """Run ``worker.execute(task)`` on the cluster; ``(key, Outcome)`` goes on ``results``."""
        if runs_here(key):
            self._here(key, lambda: worker.execute(task))
            return
        packed = self._ship.pack(worker, task)
        if isinstance(packed, Outcome):
            self.results.put((key, packed))
            return
        name = f"flowkit-{task.task_def_name}-{self._token}-{next(self._count)}"
        call = _Call(key, *packed, logging.getLogger().level, name)
        with self._lock:
            old = self._live.get(id(key))
            if old is not None and old.key is key:
                old.dropped = True  # the same task started again (a rerun): its earlier call is not wanted
            self._live[id(key)] = call
        self._batch.append(call)

    def send(self) -> None:
        """Send the calls of this round: one ``client.map`` for many (one message to the scheduler)."""
        batch, self._batch = self._batch, []
        if not batch:
            return
        client = self.client
        if not self._usable(client) or self._held:
            for call in batch:
                self._hold(call)
            return
        try:
            if len(batch) == 1:
                self._submit(client, batch[0])
            else:
                self._submit_many(client, batch)
        except Exception:  # noqa: BLE001 - the client closed under us: wait for a scheduler
            for call in batch:
                if call.future is None:
                    self._hold(call)

    def submit(self, key: Any, job: Any) -> None:
        """Run a plain job on the cluster."""
        client = self.client
        results = self.results
        try:
            future = client.submit(job, pure=False)
        except Exception as exc:  # noqa: BLE001
            results.put((key, exc))
            return

        async def track() -> None:
            try:
                value = await client.gather(future, asynchronous=True)
            except BaseException as exc:  # noqa: BLE001
                value = exc
            results.put((key, value))

        client.loop.add_callback(track)

    def _submit(self, client: Any, call: _Call, where: str | None = None) -> None:
        """Send one call with ``client.submit``.

        Once a worker has run on this client's cluster, later calls carry only its digest: each Dask
        worker process keeps the workers it has loaded and answers NEED_WORKER when it lacks one; the
        call then goes again with the pickle, preferably to that worker process (``where``).
        """
        call.tries += 1
        call.sent_blob = call.digest not in self._known or call.tries > 1
        blob = call.blob if call.sent_blob else b""
        name = call.name if call.tries == 1 else f"{call.name}-{call.tries}"
        if where:
            future = client.submit(
                dask_call,
                call.digest,
                blob,
                call.task_blob,
                call.level,
                key=name,
                pure=False,
                workers=[where],
                allow_other_workers=True,
            )
        else:
            future = client.submit(dask_call, call.digest, blob, call.task_blob, call.level, key=name, pure=False)
        self._sent(client, future, call)

    def _submit_many(self, client: Any, calls: list[_Call]) -> None:
        """Send first tries together; the worker's pickle goes only where this cluster has not run it yet."""
        blobs = []
        for call in calls:
            call.tries += 1
            call.sent_blob = call.digest not in self._known
            blobs.append(call.blob if call.sent_blob else b"")
        futures = client.map(
            dask_call,
            [c.digest for c in calls],
            blobs,
            [c.task_blob for c in calls],
            [c.level for c in calls],
            key=[c.name for c in calls],
            pure=False,
        )
        for future, call in zip(futures, calls, strict=True):
            self._sent(client, future, call)

    def _hold(self, call: _Call) -> None:
        with self._lock:
            self._held.append(call)
            if self._watching:
                return
            self._watching = True
        threading.Thread(target=self._watch, name="flowkit-dask-reconnect", daemon=True).start()

    def _watch(self) -> None:
        """While calls wait for a scheduler: send them once the client is connected again."""
        while True:
            time.sleep(0.1)
            with self._lock:
                unwanted = [call for call in self._held if not call.wanted()]
                for call in unwanted:
                    self._held.remove(call)
                if not self._held:
                    self._watching = False
            for call in unwanted:  # its task ended while it waited: never sent
                self._answer(call, DROPPED)
            if not self._watching:
                return
            if self._usable(self.client):
                self._flush()

    def _flush(self) -> None:
        while True:
            with self._lock:
                if not self._held or not self._usable(self.client):
                    return
                call = self._held.popleft()
            if not call.wanted():
                self._answer(call, DROPPED)
                continue
            try:
                self._submit(self.client, call)
            except Exception:  # noqa: BLE001
                with self._lock:
                    self._held.appendleft(call)
                return

    # ------------------------------------------------------------------ results
    def _answer(self, call: _Call, value: Any) -> bool:
        """Give the Runner the call's answer, once: DROPPED instead when its task ended meanwhile."""
        with self._lock:
            if call.answered:
                return False
            call.answered = True
            self._inflight.pop(call, None)
            if self._live.get(id(call.key)) is call:
                del self._live[id(call.key)]
        if value is not DROPPED and not call.wanted():
            value = DROPPED  # a late answer: the task timed out or was cancelled while the call ran
        self.results.put((call.key, value))
        return True

    def _guard(self) -> None:
        """While calls are in flight: cancel the futures of calls whose task ended (timed out, cancelled).

        Dask cannot stop the function itself (see the module docstring): its result is ignored.
        """
        while True:
            time.sleep(_WATCH_S)
            with self._lock:
                calls = list(self._inflight)
                if not calls:
                    self._guarding = False
                    return
            for call in calls:
                if call.wanted() or not self._answer(call, DROPPED):
                    continue
                _log.info(
                    "flowkit cancels the Dask future of task '%s': the task ended (%s) while it ran",
                    ref_of(call.key),
                    getattr(call.key, "status", "?"),
                )
                try:
                    call.future.cancel()
                except Exception:  # noqa: BLE001 - best effort: its result is ignored anyway
                    pass

    def _sent(self, client: Any, future: Any, call: _Call) -> None:
        call.future, call.client = future, client
        with self._lock:
            self._running += 1
            lone = self._running == 1
            self._inflight[call] = None
            guard = not self._guarding
            self._guarding = True
        if guard:
            threading.Thread(target=self._guard, name="flowkit-dask-guard", daemon=True).start()
        if lone:
            client.loop.add_callback(self._lone, client, future, call)
        elif _in_loop_done_callback is not None:
            # distributed's own coroutine behind Future.add_done_callback, minus the hop through its callback
            # thread: the finished call is queued on the event loop itself.
            client.loop.add_callback(_in_loop_done_callback, future, lambda f: self._on_done(client, f, call))
        else:  # pragma: no cover - other distributed versions
            future.add_done_callback(lambda f: self._on_done(client, f, call))

    async def _lone(self, client: Any, future: Any, call: _Call) -> None:
        """The only call in flight (a chain): wait for its result directly, as ``future.result()`` does."""
        try:
            await self._track(client, future, call)
        finally:
            with self._lock:
                self._running -= 1

    def _on_done(self, client: Any, future: Any, call: _Call) -> None:
        """Queue the finished call; results are gathered in batches on the event loop."""
        with self._lock:
            self._running -= 1
            self._ready.append((client, future, call))
            if self._draining:
                return
            self._draining = True
        client.loop.add_callback(self._drain)

    async def _drain(self) -> None:
        """Gather every call that finished meanwhile in one request per client (one per call is ~2x slower)."""
        import asyncio

        while True:
            with self._lock:
                batch, self._ready = self._ready, []
                if not batch:
                    self._draining = False
                    return
            groups: dict[int, tuple[Any, list[tuple[Any, _Call]]]] = {}
            for client, future, call in batch:
                if future.status == "finished":
                    groups.setdefault(id(client), (client, []))[1].append((future, call))
                else:  # errors and cancellations, one by one (they need their exception)
                    asyncio.ensure_future(self._track(client, future, call))
            for client, items in groups.values():
                try:
                    blobs = await client.gather([f for f, _ in items], asynchronous=True)
                except BaseException:  # noqa: BLE001 - one went wrong: settle them one by one
                    for future, call in items:
                        asyncio.ensure_future(self._track(client, future, call))
                    continue
                for (_, call), blob in zip(items, blobs, strict=True):
                    self._deliver(client, call, blob)
            # Each gather is a round trip through the scheduler (~1 ms of its CPU, whatever the batch size): with
            # many calls still running, let results pile up a little longer. The wait follows the work left
            # (20 µs per running call, 2 to 20 ms), and a lone call (a chain) is gathered at once.
            # Only when more calls run than the cluster has threads (a queue): a handful of long calls
            # (C's sleeps) would just finish later.
            running = self._running
            if running > self._threads:
                await asyncio.sleep(
                    min(_GATHER_WINDOW_MAX_S, max(_GATHER_WINDOW_MIN_S, running * _GATHER_WINDOW_PER_CALL_S))
                )

    def _deliver(self, client: Any, call: _Call, blob: bytes) -> None:
        if call.answered:  # cancelled because its task ended: the late result is ignored
            return
        if blob[: len(NEED_WORKER)] == NEED_WORKER:  # that Dask worker has not loaded this worker yet: send it along
            where = blob[len(NEED_WORKER) + 1 :].decode() or None
            try:
                self._submit(self.client, call, where if self.client is client else None)
            except Exception:  # noqa: BLE001 - the client closed meanwhile: wait for a scheduler
                self._hold(call)
            return
        if call.sent_blob:
            self._known.add(call.digest)
        self._answer(call, load_outcome(blob, ref_of(call.key)))

    async def _track(self, client: Any, future: Any, call: _Call) -> None:
        """On the client's event loop: wait for one call and put its Outcome on ``results``."""
        try:
            blob = await client.gather(future, asynchronous=True)
        except BaseException as exc:  # noqa: BLE001 - every way a call can end is a task outcome
            if call.answered:  # its future was cancelled because its task ended: answered already
                return
            ref = ref_of(call.key)
            try:
                if type(exc).__name__ == "KilledWorker":
                    outcome = await self._killed(exc, ref, client)
                else:
                    outcome = self._failure(exc, ref, client)
            except BaseException as inner:  # noqa: BLE001 - the runner must hear about every call
                outcome = Outcome("FAILED", {}, f"worker crashed: {exc!r}", None, _error(inner))
            self._answer(call, outcome)
            return
        self._deliver(client, call, blob)

    async def _killed(self, exc: BaseException, ref: str, client: Any) -> Outcome:
        """Word the failure of a call whose Dask worker process died: its exit code from the nannies' logs (best effort)."""
        worker = getattr(exc, "last_worker", None)
        try:
            code = await self._exit_code(client, getattr(worker, "pid", None))
        except Exception:  # noqa: BLE001 - the exit code is a nicety
            code = None
        address = getattr(worker, "address", None) or "?"
        return Outcome(
            "FAILED",
            {},
            died(code, ref, f" on Dask worker {address}", "Dask's nanny restarts the worker"),
            None,
            _error(exc),
        )

    @staticmethod
    async def _exit_code(client: Any, pid: int | None) -> int | None:
        import asyncio
        import re

        if not pid:
            return None
        pattern = re.compile(rf"Worker process {pid} (?:exited with status (-?\d+)|was killed by signal (\d+))")
        for _ in range(10):
            logs = await asyncio.wait_for(client.scheduler.worker_logs(n=200, nanny=True), 2)
            for lines in (logs or {}).values() if isinstance(logs, dict) else ():
                for entry in lines or ():
                    match = pattern.search(str(entry[-1] if isinstance(entry, list | tuple) else entry))
                    if match:
                        status, sig = match.groups()
                        return int(status) if status is not None else -int(sig)
            await asyncio.sleep(0.1)
        return None

    def _failure(self, exc: BaseException, ref: str, client: Any) -> Outcome:
        if isinstance(exc, _cancelled_types()):
            why = getattr(exc, "reason", None) or "unknown"
            if why == "scheduler-connection-lost" or client.status != "running":
                detail = "" if why == "unknown" else f" ({why})"
                return Outcome(
                    "FAILED",
                    {},
                    (
                        f"the Dask scheduler at {self.address} went away while task '{ref}' was running{detail}. The task "
                        "is retried per its task definition; the run goes on once a scheduler is reachable again (the "
                        "client reconnects to the same address by itself for a while), or call executor.replace(client) "
                        "with a client of another cluster."
                    ),
                    None,
                    _error(exc),
                )
            return Outcome("FAILED", {}, f"the Dask future of task '{ref}' was cancelled ({why})", None, _error(exc))
        if isinstance(exc, ModuleNotFoundError | ImportError) and "flowkit" in str(exc):
            return Outcome(
                "FAILED_WITH_TERMINAL_ERROR",
                {},
                (
                    f"flowkit is not importable on the Dask worker that ran task '{ref}' ({exc}). Fix: install flowkit in "
                    "the Dask workers' environment (pip install flowkit)."
                ),
                None,
                _error(exc),
            )
        return Outcome("FAILED", {}, f"worker crashed: {exc!r}", None, _error(exc))

    def _here(self, key: Any, job: Any) -> None:
        results = self.results

        def run() -> None:
            try:
                value = job()
            except BaseException as exc:  # noqa: BLE001 - the runner turns this into a task failure
                value = exc
            results.put((key, value))

        _thread_pool(8).submit(run)

    def shutdown(self) -> None:
        """Nothing to release: clients and LocalClusters are shared (see :func:`close_local_clusters`)."""

    def __repr__(self) -> str:
        return f"DaskExecutor(address={self.address!r})"


def _cancelled_types() -> tuple[type[BaseException], ...]:
    import asyncio
    import concurrent.futures

    return (asyncio.CancelledError, concurrent.futures.CancelledError)
