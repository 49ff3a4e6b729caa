"""Worker calls in worker processes: :class:`ProcessExecutor` (a pool of worker processes on this machine).

The engine, the store and the Runner stay in the calling process; only ``Worker.execute(task)``
runs in a child. The worker (function + its input binder) is shipped with cloudpickle, so functions
defined in a notebook or inside another function work; the task goes with pickle (cloudpickle when
pickle cannot). The child runs ``Worker.execute`` exactly as the thread executor does — exceptions
become FAILED / FAILED_WITH_TERMINAL_ERROR outcomes with their traceback, ``print`` and logging are
captured per attempt — and sends the :class:`~flowkit.workers.Outcome` back pickled.

Each worker process has its own pipe and runs one call at a time, so the pool always knows which
process runs which task, and one process can be stopped without disturbing the others:

* a call whose task ends while it runs — timed out (``timeoutSeconds``, ``responseTimeoutSeconds``,
  ``totalTimeoutSeconds`` per the task's ``timeoutPolicy``; ALERT_ONLY leaves it running as Conductor
  does), cancelled because its workflow was terminated, timed out or failed, or started again by a
  rerun — has its process stopped (SIGTERM, then SIGKILL after a short grace) within about 50 ms,
  and a fresh process takes its place so the pool keeps its size. The task keeps the status the
  engine gave it (TIMED_OUT with Conductor's reason and retried per its task definition, CANCELED
  for a terminated workflow); whatever the stopped call would have answered is dropped
  (:data:`~flowkit.executors._executors.DROPPED`), never applied;
* a worker process that dies by itself (``os._exit``, a signal, the OOM killer) fails the task it
  was running with ``worker process died (exit code N) while running task 'ref'`` and is replaced;
  the calls running in the other processes go on undisturbed;
* an input or output value that cannot be pickled fails the task FAILED_WITH_TERMINAL_ERROR and
  names the value (``input.x is a _thread.lock``);
* a worker that cannot be pickled (a closure over a lock, an open file) fails the same way.

Calls wait in the pool's backlog until a process is free; those whose task ended meanwhile (timed
out, workflow terminated) are not started. How a call is pickled, run and answered (shared with the
Dask executor) is in :mod:`flowkit.executors._shipping`.
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing
import multiprocessing.util  # its atexit hook (join the children) must run after ours (stop them)
import os
import pickle
import signal
import socket
import threading
import time
from collections import deque
from multiprocessing.connection import wait
from typing import Any

from flowkit.executors._executors import DROPPED, Executor, Job, _thread_pool
from flowkit.executors._shipping import (
    Shipper,
    _cloudpickle,
    _install_capture,
    attempt_of,
    died,
    execute_blob,
    is_current,
    load_outcome,
    ref_of,
    run_job,
    runs_here,
)
from flowkit.workers._worker import Outcome, Task, Worker, _error

__all__ = ["ProcessExecutor", "shutdown_process_pools"]

_log = logging.getLogger("flowkit.processes")

_CALL, _JOB = 0, 1  # the two kinds of message a worker process receives
_WATCH_S = 0.05  # how often the tasks of running calls are checked (a call whose task ended is stopped)
_KILL_GRACE_S = 1.0  # SIGTERM, then SIGKILL when the process is still there after this long
_OWNER_CHECK_S = 1.0  # a worker process whose owner (the notebook, the script) went away exits (checked this often)

# ============================================================================================ child side


def _child_main(conn: Any, owner: int) -> None:
    """Run the calls the parent sends, one at a time, until the pipe closes (a worker process's main)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in a notebook interrupts the kernel, not the workers
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the parent stops a call whose task ended with SIGTERM
    _install_capture()
    _exit_with_owner(owner)
    recv, send = conn.recv_bytes, conn.send_bytes
    while True:
        try:
            kind, args = pickle.loads(recv())
        except (EOFError, OSError):  # the parent closed the pipe (shutdown) or went away
            return
        answer = execute_blob(*args) if kind == _CALL else run_job(*args)
        try:
            send(answer)
        except OSError:
            return


def _exit_with_owner(owner: int) -> None:
    """End this process when the process that owns the pool (``owner``'s pid) is gone.

    A busy worker never reads its pipe, so it would not notice the end of the notebook on its own; nor
    does its parent (with forkserver, the fork server, which every worker keeps alive) go away.
    """

    def gone() -> bool:
        try:
            os.kill(owner, 0)
        except ProcessLookupError:
            return True
        except OSError:  # not ours to signal: it exists
            return False
        try:
            with open(f"/proc/{owner}/stat", "rb") as stat:
                return stat.read().rpartition(b")")[2].split()[0] == b"Z"  # dead, not reaped yet
        except (OSError, IndexError):
            return False

    def watch() -> None:
        while not gone():
            time.sleep(_OWNER_CHECK_S)
        os._exit(1)

    threading.Thread(target=watch, name="flowkit-owner-watch", daemon=True).start()


# ============================================================================================ parent side


class _Call:
    """One call waiting in the backlog or running in a worker process; answered exactly once."""

    __slots__ = ("attempt", "dropped", "executor", "job", "key", "message")

    def __init__(self, executor: ProcessExecutor, key: Any, message: bytes, job: bool = False) -> None:
        self.executor = executor
        self.key = key
        self.message = message
        self.job = job
        self.attempt = None if job else attempt_of(key)
        self.dropped = False  # a later call for the same task replaced it

    def wanted(self) -> bool:
        return not self.dropped and is_current(self.key, self.attempt)

    def answer(self, value: Any) -> None:
        self.executor.results.put((self.key, value))

    def lost(self, code: int | None) -> None:
        """Its worker process died under it."""
        ref = ref_of(self.key)
        if self.job:
            self.answer(RuntimeError(died(code, ref)))
        elif self.wanted():
            self.answer(Outcome("FAILED", {}, died(code, ref)))
        else:
            self.answer(DROPPED)


class _Proc:
    """One worker process: its end of the pipe and the call it runs."""

    __slots__ = ("call", "conn", "eof", "hard", "kill_at", "pid", "process", "retired")

    def __init__(self, context: Any) -> None:
        ours, theirs = context.Pipe(duplex=True)
        process = context.Process(target=_child_main, args=(theirs, os.getpid()), name="flowkit-worker")
        try:
            process.start()
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self.process = process
        self.pid: int = process.pid
        self.conn = ours
        self.call: _Call | None = None
        self.kill_at: float | None = None  # set once it is being stopped (SIGTERM sent): SIGKILL at that time
        self.hard = False  # SIGKILL sent
        self.eof = False  # its pipe closed: only its exit is awaited
        self.retired = False  # the pool shut down: nothing but shutdown touches it

    def terminate(self) -> None:
        try:
            self.process.terminate()
        except (OSError, ValueError, AttributeError):  # already gone
            pass

    def kill(self) -> None:
        self.hard = True
        try:
            self.process.kill()
        except (OSError, ValueError, AttributeError):
            pass

    def release(self) -> None:
        try:
            self.conn.close()
        except OSError:
            pass
        try:
            self.process.join(0)
            if self.process.exitcode is not None:
                self.process.close()
        except (OSError, ValueError):
            pass


class _SharedPool:
    """Worker processes shared by every ProcessExecutor of one size (they start once per Python session).

    Calls wait in ``backlog`` and go to an idle process one at a time. One thread per pool (the
    collector) reads the answers, notices processes that exit, and every ``_WATCH_S`` while calls run
    checks their tasks: the process of a call whose task ended is stopped and replaced.
    """

    def __init__(self, max_workers: int, context: Any) -> None:
        self.max_workers = max_workers
        self.context = context
        self.lock = threading.Lock()
        self.backlog: deque[_Call] = deque()
        self.procs: list[_Proc] = []
        self.idle: list[_Proc] = []
        self.live: dict[int, _Call] = {}  # id(task) -> its latest call: an older one for the same task is dropped
        self.starting = 0
        self.serving: object | None = None  # the running collector's token (None: not started or shut down)
        self.thread: threading.Thread | None = None
        self.sleeping = False  # the collector waits without a timeout: wake it when a call starts
        self.wake_r, self.wake_w = socket.socketpair()
        self.wake_w.setblocking(False)
        self.wake_r.setblocking(False)

    # ------------------------------------------------------------------ calls in
    def enqueue(self, call: _Call) -> None:
        with self.lock:
            if not call.job:
                old = self.live.get(id(call.key))
                if old is not None and old.key is call.key:
                    old.dropped = True  # the same task started again (a rerun): its earlier call is not wanted
                self.live[id(call.key)] = call
            self.backlog.append(call)
            grow = self.serving is None or (not self.idle and len(self.procs) + self.starting < self.max_workers)
        if grow:
            self.grow()
        self.pump()

    def pids(self) -> list[int]:
        """List the pids of the worker processes (for tests and diagnostics)."""
        with self.lock:
            return [p.pid for p in self.procs if p.kill_at is None]

    def grow(self) -> None:
        """Start worker processes up to ``max_workers`` (and the collector, on first use)."""
        with self.lock:
            n = self.max_workers - len(self.procs) - self.starting
            token = self.serving
            if token is None:
                token = self.serving = object()
                self.thread = threading.Thread(
                    target=self._serve, args=(token,), name="flowkit-process-pool", daemon=True
                )
                self.thread.start()
            if n <= 0:
                return
            self.starting += n
        started: list[_Proc] = []
        error: BaseException | None = None
        try:
            for _ in range(n):
                started.append(_Proc(self.context))
        except Exception as exc:  # noqa: BLE001 - reported below
            error = exc
        with self.lock:
            self.starting -= n
            current = self.serving is token
            if current:
                self.procs.extend(started)
                self.idle.extend(started)
            stranded = [] if self.procs or self.starting else list(self.backlog)
            if error is not None and stranded:
                self.backlog.clear()
        if not current:  # shut down meanwhile
            for proc in started:
                proc.release()
        self._wake()
        if error is not None:
            _log.warning("flowkit could not start a worker process: %r", error)
            for call in stranded:
                self._forget(call)
                reason = f"no worker process could be started for task '{ref_of(call.key)}' ({type(error).__name__}: {error})"
                call.answer(RuntimeError(reason) if call.job else Outcome("FAILED", {}, reason, None, _error(error)))

    def pump(self) -> None:
        """Hand waiting calls to idle processes."""
        while True:
            with self.lock:
                if not self.backlog or not self.idle:
                    return
                call = self.backlog.popleft()
                proc = None
                if call.wanted():
                    proc = self.idle.pop()
                    proc.call = call
                    wake, self.sleeping = self.sleeping, False
                else:
                    self._forget(call)
            if proc is None:
                call.answer(DROPPED)  # its task ended while it waited: never started
                continue
            if wake:
                self._wake()
            try:
                proc.conn.send_bytes(call.message)
            except (OSError, ValueError):  # the process died while idle: the collector replaces it; send the call again
                with self.lock:
                    if proc.call is call:
                        proc.call = None
                        self.backlog.appendleft(call)

    def _forget(self, call: _Call) -> None:
        """(Under the lock.) ``call`` is being answered."""
        if not call.job and self.live.get(id(call.key)) is call:
            del self.live[id(call.key)]

    def _wake(self) -> None:
        try:
            self.wake_w.send(b"w")
        except OSError:  # full: it is awake already
            pass

    # ------------------------------------------------------------------ the collector
    def _serve(self, token: object) -> None:
        while self.serving is token:
            try:
                self._serve_once(token)
            except Exception:  # noqa: BLE001 - the collector must go on, or every call would wait forever
                _log.exception("flowkit process pool: unexpected error in the collector thread")
                time.sleep(_WATCH_S)

    def _serve_once(self, token: object) -> None:
        """Wait for answers, exits and wake-ups (at most ``_WATCH_S`` while calls run), then handle them."""
        wake_r = self.wake_r
        with self.lock:
            if self.serving is not token:
                return
            procs = list(self.procs)
            busy = any(p.call is not None or p.kill_at is not None for p in procs)
            self.sleeping = not busy
        timeout: float | None = None
        if busy:
            timeout = _WATCH_S
            now = time.monotonic()
            for p in procs:
                if p.kill_at is not None and not p.hard:
                    timeout = min(timeout, max(0.0, p.kill_at - now))
        waitables: list[Any] = [wake_r]
        for p in procs:
            if not p.eof:
                waitables.append(p.conn)
            waitables.append(p.process.sentinel)
        try:
            ready = set(wait(waitables, timeout))
        except (OSError, ValueError):  # a pipe closed under us (shutdown): look again
            return
        if wake_r in ready:
            try:
                while wake_r.recv(4096):
                    pass
            except OSError:
                pass
        for p in procs:
            if p.conn in ready and not p.eof:
                self._receive(p)
            if p.process.sentinel in ready:
                self._exited(p, token)
        if busy:
            self._watch()

    def _receive(self, proc: _Proc) -> None:
        try:
            blob = proc.conn.recv_bytes()
        except (EOFError, OSError):  # it is exiting: its sentinel says when
            proc.eof = True
            return
        with self.lock:
            if proc.retired:
                return
            call, proc.call = proc.call, None
            if call is not None:
                self._forget(call)
            if proc.kill_at is None:
                self.idle.append(proc)
        if call is not None:
            if call.job:
                try:
                    value: Any = pickle.loads(blob)
                except BaseException as exc:  # noqa: BLE001
                    value = exc
                call.answer(value)
            elif proc.kill_at is not None or not call.wanted():
                call.answer(DROPPED)  # a late answer: its task ended meanwhile
            else:
                call.answer(load_outcome(blob, ref_of(call.key)))
        self.pump()

    def _exited(self, proc: _Proc, token: object) -> None:
        try:
            proc.process.join(1)  # reaped: its exit code
            code = proc.process.exitcode
        except (OSError, ValueError):
            code = None
        with self.lock:
            if proc.retired:
                return
            if proc in self.procs:
                self.procs.remove(proc)
            if proc in self.idle:
                self.idle.remove(proc)
            call, proc.call = proc.call, None
            if call is not None:
                self._forget(call)
            stopped = proc.kill_at is not None
            replace = self.serving is token
        proc.release()
        if call is not None:
            if stopped and not call.job:
                call.answer(DROPPED)
            else:
                call.lost(code)
        if stopped:
            _log.info("flowkit worker process %s stopped (exit code %s); a new one takes its place", proc.pid, code)
        if replace:
            self.grow()
        self.pump()

    def _watch(self) -> None:
        """Stop the processes whose call is no longer wanted; SIGKILL those that outlived their grace."""
        now = time.monotonic()
        with self.lock:
            running = [(p, p.call) for p in self.procs if p.call is not None and p.kill_at is None]
            late = [p for p in self.procs if p.kill_at is not None and not p.hard and now >= p.kill_at]
        unwanted = [(p, c) for p, c in running if c is not None and not c.job and not c.wanted()]
        stop = []
        if unwanted:
            with self.lock:
                for p, c in unwanted:
                    if p.call is c and p.kill_at is None and not p.retired:
                        p.kill_at = now + _KILL_GRACE_S
                        stop.append((p, c))
        for p, c in stop:
            _log.info(
                "flowkit stops worker process %s: task '%s' ended (%s) while it ran",
                p.pid,
                ref_of(c.key),
                getattr(c.key, "status", "?"),
            )
            p.terminate()
        for p in late:
            _log.warning("flowkit worker process %s ignored SIGTERM for %.1f s: SIGKILL", p.pid, _KILL_GRACE_S)
            p.kill()

    # ------------------------------------------------------------------ shutdown
    def close(self) -> None:
        """Stop every worker process; running and waiting calls are answered as cancelled."""
        with self.lock:
            self.serving = None
            procs, self.procs, self.idle = self.procs, [], []
            calls = [p.call for p in procs if p.call is not None] + list(self.backlog)
            self.backlog.clear()
            self.live.clear()
            for p in procs:
                p.retired = True
                p.call = None
            thread, self.thread = self.thread, None
        self._wake()
        if thread is not None and thread is not threading.current_thread():
            thread.join(2)
        for call in calls:
            if call.job:
                call.answer(
                    RuntimeError(f"job '{ref_of(call.key)}' was cancelled: its worker process pool was shut down")
                )
            elif call.wanted():
                call.answer(
                    Outcome(
                        "FAILED", {}, f"task '{ref_of(call.key)}' was cancelled: its worker process pool was shut down"
                    )
                )
            else:
                call.answer(DROPPED)
        for p in procs:  # idle processes exit when their pipe closes, busy ones on SIGTERM
            busy = p.process.exitcode is None
            try:
                p.conn.close()
            except OSError:
                pass
            if busy:
                p.terminate()
        deadline = time.monotonic() + _KILL_GRACE_S
        for p in procs:
            p.process.join(max(0.0, deadline - time.monotonic()))
            if p.process.exitcode is None:
                p.kill()
                p.process.join(1)
            p.release()


_pools: dict[tuple[int, str], _SharedPool] = {}
_pools_lock = threading.Lock()


def _default_context() -> str:
    return "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"


def _shared_pool(max_workers: int, method: str) -> _SharedPool:
    with _pools_lock:
        pool = _pools.get((max_workers, method))
        if pool is None:
            context = multiprocessing.get_context(method)
            if method == "forkserver":
                # The fork server imports these once; each worker process forks from it ready to run.
                context.set_forkserver_preload(["flowkit.executors._process", "cloudpickle"])
            if not _pools:
                # Registered after multiprocessing's own hook, so it runs first: the workers are stopped
                # before multiprocessing waits for its children (a busy worker would never end by itself).
                atexit.register(shutdown_process_pools)
            pool = _pools[(max_workers, method)] = _SharedPool(max_workers, context)
        return pool


class ProcessExecutor(Executor):
    """Runs worker calls in a pool of worker processes (CPU-bound workers on one machine).

    Args:
        max_workers: Number of worker processes (default: the number of CPUs).
        start_method: ``"forkserver"`` (default where available) or ``"spawn"``. Processes are never
            forked from the notebook itself (its threads and state must not leak into workers).

    The processes are shared by every ProcessExecutor of the same size and method in this Python
    session and start on first use. Workers are shipped with cloudpickle: module-level functions
    are sent by reference (their module must be importable in the children), notebook functions,
    lambdas and closures by value. HTTP system tasks run on the calling process's thread pool.

    A call whose task ends while it runs (it timed out, its workflow was terminated) has its worker
    process stopped — SIGTERM, SIGKILL after a grace of one second — and replaced by a fresh one;
    nothing it would still answer reaches the task.

    """

    def __init__(self, max_workers: int | None = None, *, start_method: str | None = None) -> None:
        super().__init__()
        self.max_workers = max(1, max_workers or os.cpu_count() or 1)
        self.start_method = start_method or _default_context()
        self._pool = _shared_pool(self.max_workers, self.start_method)
        self._ship = Shipper()

    def submit_worker(self, key: Any, worker: Worker, task: Task) -> None:
        """Run ``worker.execute(task)`` in a worker process; ``(key, Outcome)`` goes on ``results``."""
        if runs_here(key):
            self._here(key, worker, task)
            return
        packed = self._ship.pack(worker, task)
        if isinstance(packed, Outcome):
            self.results.put((key, packed))
            return
        message = pickle.dumps((_CALL, (*packed, logging.getLogger().level)), protocol=pickle.HIGHEST_PROTOCOL)
        self._pool.enqueue(_Call(self, key, message))

    def submit(self, key: Any, job: Job) -> None:
        """Run a plain job in a worker process (pickled with cloudpickle)."""
        try:
            blob = _cloudpickle().dumps(job, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            self.results.put((key, exc))
            return
        message = pickle.dumps((_JOB, (blob,)), protocol=pickle.HIGHEST_PROTOCOL)
        self._pool.enqueue(_Call(self, key, message, job=True))

    def _here(self, key: Any, worker: Worker, task: Task) -> None:
        results = self.results

        def run() -> None:
            try:
                value: Any = worker.execute(task)
            except BaseException as exc:  # noqa: BLE001 - the runner turns this into a task failure
                value = exc
            results.put((key, value))

        _thread_pool(8).submit(run)

    def worker_pids(self) -> list[int]:
        """List the pids of this executor's worker processes (shared with every ProcessExecutor of its size)."""
        return self._pool.pids()

    def shutdown(self) -> None:
        """Nothing to release: the processes are shared (see :func:`shutdown_process_pools`)."""

    def __repr__(self) -> str:
        return f"ProcessExecutor(max_workers={self.max_workers}, start_method={self.start_method!r})"


def shutdown_process_pools() -> None:
    """Stop every shared worker process (they start again on next use)."""
    with _pools_lock:
        pools = list(_pools.values())
    for pool in pools:
        pool.close()
