"""Worker calls in worker processes: :class:`ProcessExecutor` (a process pool on this machine).

The engine, the store and the Runner stay in the calling process; only ``Worker.execute(task)``
runs in a child. The worker (function + its input binder) is shipped with cloudpickle, so functions
defined in a notebook or inside another function work; the task goes with pickle (cloudpickle when
pickle cannot). The child runs ``Worker.execute`` exactly as the thread executor does — exceptions
become FAILED / FAILED_WITH_TERMINAL_ERROR outcomes with their traceback, ``print`` and logging are
captured per attempt — and sends the :class:`~flowkit.workers.Outcome` back pickled.

Failures of the transport itself are task failures with a reason that says what happened:

* a worker process that dies (``os._exit``, a signal, the OOM killer) fails the task it was
  running with ``worker process died (exit code N) while running task 'ref'``; the pool is replaced
  and the tasks that were merely queued or running beside it are sent again (up to 3 times);
* an input or output value that cannot be pickled fails the task FAILED_WITH_TERMINAL_ERROR and
  names the value (``input.x is a _thread.lock``);
* a worker that cannot be pickled (a closure over a lock, an open file) fails the same way.

Queued calls whose task ended meanwhile (timed out, workflow terminated) are not started.
The helpers here (``dump_worker``, ``dump_task``, ``execute_blob``, ``load_outcome``) are shared
with the Dask executor.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import multiprocessing
import os
import pickle
import signal
import struct
import threading
from collections import deque
from concurrent.futures import CancelledError, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from flowkit.executors._executors import Executor, Job, _thread_pool
from flowkit.workers._worker import Outcome, Task, Worker, _error

__all__ = ["ProcessExecutor"]

_TERMINAL = "FAILED_WITH_TERMINAL_ERROR"
_MAX_BREAKS = 3  # a call caught in this many pool breaks (another task's process died) fails
_START = struct.Struct("qq")  # (pid, seq): a child tells the parent which call it started

# ============================================================================================ child side

_WORKERS: dict[bytes, Any] = {}  # digest of the pickled worker -> the worker, in this process
_started: Any = None  # the write end of the "started" pipe (process pool children only)
_captured = False


def _child_init(started: Any) -> None:
    """Process-pool initializer: remember the "started" pipe, install print/logging capture."""
    global _started
    _started = started
    _install_capture()
    # Ctrl-C in a notebook interrupts the kernel, not the pool's children.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _install_capture() -> None:
    global _captured
    if not _captured:
        from flowkit.workers._capture import installed

        installed().__enter__()  # for the life of this process (the capture is per thread, per attempt)
        _captured = True


def run_call(seq: int, digest: bytes, worker_blob: bytes, task_blob: bytes, log_level: int) -> bytes:
    """Process-pool entry point: report the start, then :func:`execute_blob`."""
    conn = _started
    if conn is not None:
        try:
            conn.send_bytes(_START.pack(os.getpid(), seq))
        except OSError:
            pass
    return execute_blob(digest, worker_blob, task_blob, log_level)


def run_job(job_blob: bytes) -> bytes:
    """Process-pool entry point for a plain job (``Executor.submit``): the pickled return value."""
    try:
        value: Any = pickle.loads(job_blob)()
    except BaseException as exc:  # noqa: BLE001 - handed to the parent, as the thread executor does
        value = RuntimeError(f"{type(exc).__name__}: {exc}")
    try:
        return _dumps(value)
    except Exception as exc:
        return _dumps(RuntimeError(f"the job's result cannot be pickled: {exc}"))


NEED_WORKER = b"flowkit:need-worker"  # execute_blob's answer to a worker sent by digest that it does not hold


def execute_blob(digest: bytes, worker_blob: bytes, task_blob: bytes, log_level: int) -> bytes:
    """Run a shipped worker on a shipped task; the pickled :class:`Outcome` (never raises).

    ``worker_blob`` may be empty when the caller believes this process already holds the worker
    (by ``digest``); if it does not, the answer is :data:`NEED_WORKER` instead of an Outcome.
    """
    _install_capture()
    root = logging.getLogger()
    if root.level != log_level:
        root.setLevel(log_level)
    task: Task | None = None
    try:
        worker = _WORKERS.get(digest)
        if worker is None and not worker_blob:
            return NEED_WORKER  # sent by digest only, and this process has not seen it: the caller sends it again
        task = pickle.loads(task_blob)
        if worker is None:
            try:
                worker = pickle.loads(worker_blob)
            except BaseException as exc:  # noqa: BLE001
                name = getattr(task, "task_def_name", "?")
                return _dump_outcome(Outcome(
                    _TERMINAL, {},
                    f"worker '{name}' could not be loaded in the worker process ({type(exc).__name__}: {exc}). Fix: "
                    "make the module that defines it importable there (on sys.path / installed), or define the "
                    "function in the notebook or script that runs the workflow.",
                    None, _error(exc),
                ), task)  # fmt: skip
            if len(_WORKERS) > 256:
                _WORKERS.clear()
            _WORKERS[digest] = worker
        outcome = worker.execute(task)
    except BaseException as exc:  # noqa: BLE001 - SystemExit & co. end the task, not the process (as with threads)
        outcome = Outcome("FAILED", {}, f"worker crashed: {exc!r}", None, _error(exc))
    return _dump_outcome(outcome, task)


def _dump_outcome(outcome: Outcome, task: Task | None) -> bytes:
    try:
        return _dumps(outcome)
    except Exception:
        pass
    where = _find_unpicklable(outcome.output, "output")
    if where is None:  # not the output: a log line or the error (never expected); drop them
        outcome.logs, outcome.error = [str(x) for x in outcome.logs or ()], None
        return _dumps(outcome)
    path, value, exc = where
    ref = getattr(task, "reference_task_name", "?")
    return _dumps(Outcome(
        _TERMINAL, {},
        f"task '{ref}' output cannot be pickled to send it back from the worker process: {path} is a "
        f"{_type_name(value)} ({type(exc).__name__}: {exc}). Fix: return only JSON values (dicts, lists, strings, "
        "numbers, booleans, None); convert other objects first.",
        outcome.logs,
    ))  # fmt: skip


# ============================================================================================ shared helpers


def _cloudpickle() -> Any:
    """Cloudpickle (ships notebook functions, lambdas and closures by value), or plain pickle without it."""
    try:
        import cloudpickle  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - an optional dependency (pip install 'flowkit[dask]')
        return pickle
    return cloudpickle


def _dumps(value: Any) -> bytes:
    """pickle, or cloudpickle for what pickle cannot do by reference (notebook classes and functions)."""
    try:
        return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        pickler = _cloudpickle()
        if pickler is pickle:
            raise
        return pickler.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)  # type: ignore[no-any-return]


def _type_name(value: Any) -> str:
    kind = type(value)
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


def _find_unpicklable(value: Any, path: str, depth: int = 0) -> tuple[str, Any, Exception] | None:
    """The innermost value under ``value`` that cannot be pickled: (path, value, error), or None."""
    try:
        _dumps(value)
        return None
    except Exception as exc:
        error = exc
    if depth < 64:
        items: Any = ()
        if isinstance(value, dict):
            items = ((f"{path}.{k}" if isinstance(k, str) else f"{path}[{k!r}]", v) for k, v in value.items())
        elif isinstance(value, list | tuple | set | frozenset):
            items = ((f"{path}[{i}]", v) for i, v in enumerate(value))
        for sub_path, sub in items:
            found = _find_unpicklable(sub, sub_path, depth + 1)
            if found is not None:
                return found
    return path, value, error


def transport_failure(reason: str, exc: BaseException | None = None) -> Outcome:
    """A FAILED_WITH_TERMINAL_ERROR outcome for a call that could not be sent."""
    return Outcome(_TERMINAL, {}, reason, None, None if exc is None else _error(exc))


class Shipper:
    """Pickles workers once per executor (content-addressed: the child caches them by digest) and tasks per call."""

    def __init__(self) -> None:
        self._workers: dict[int, tuple[Any, bytes, bytes]] = {}

    def worker(self, worker: Any) -> tuple[bytes, bytes] | Outcome:
        """(digest, blob) of ``worker``, or the Outcome that fails the task when it cannot be pickled."""
        entry = self._workers.get(id(worker))
        if entry is not None and entry[0] is worker:
            return entry[1], entry[2]
        pickler = _cloudpickle()
        try:
            blob = pickler.dumps(worker, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            fn = getattr(worker, "fn", worker)
            where = _find_unpicklable(_captured_values(fn), "")
            detail = f": it refers to {where[0].lstrip('.')}, a {_type_name(where[1])}" if where else ""
            if pickler is pickle:
                detail += " (install cloudpickle to ship notebook functions, lambdas and closures: pip install 'flowkit[dask]')"
            return transport_failure(
                f"worker '{getattr(worker, 'name', worker)}' ({getattr(fn, '__qualname__', fn)}) cannot be pickled to "
                f"send it to a worker process{detail} ({type(exc).__name__}: {exc}). Fix: define it at module level, "
                "or create locks, clients and open files inside the function instead of capturing them.",
                exc,
            )
        digest = hashlib.blake2b(blob, digest_size=16).digest()
        if len(self._workers) > 1024:
            self._workers.clear()
        self._workers[id(worker)] = (worker, digest, blob)
        return digest, blob

    @staticmethod
    def task(task: Task) -> bytes | Outcome:
        """The pickled task, or the Outcome that fails it when its input cannot be pickled."""
        try:
            return _dumps(task)
        except Exception:
            pass
        where = _find_unpicklable(task.input_data, "input") or ("input", task.input_data, ValueError("?"))
        path, value, exc = where
        return transport_failure(
            f"task '{task.reference_task_name}' input cannot be pickled to send it to a worker process: {path} is a "
            f"{_type_name(value)} ({type(exc).__name__}: {exc}). Fix: pass values that can be pickled (JSON values "
            "always can), or run this workflow with executor='threads'.",
            exc,
        )


def _captured_values(fn: Any) -> dict[str, Any]:
    """The variables a function closes over and the module globals it names (what cloudpickle ships)."""
    values: dict[str, Any] = {}
    code = getattr(fn, "__code__", None)
    for name, cell in zip(getattr(code, "co_freevars", ()), getattr(fn, "__closure__", None) or (), strict=False):
        try:
            values[name] = cell.cell_contents
        except ValueError:  # an empty cell
            pass
    module_globals = getattr(fn, "__globals__", {})
    for name in getattr(code, "co_names", ()):
        if name in module_globals and not isinstance(module_globals[name], type(os)):
            values[name] = module_globals[name]
    return values


def load_outcome(blob: bytes, ref: str) -> Outcome:
    """The Outcome a child sent back."""
    try:
        outcome = pickle.loads(blob)
    except Exception as exc:
        return Outcome("FAILED", {}, f"the result of task '{ref}' could not be read back from the worker process "
                       f"({type(exc).__name__}: {exc})", None, _error(exc))  # fmt: skip
    if not isinstance(outcome, Outcome):
        return Outcome("FAILED", {}, f"worker crashed: {outcome!r}")
    return outcome


def is_stale(key: Any) -> bool:
    """The task ended before its call started (timed out, workflow terminated): do not run it."""
    status = getattr(key, "status", None)
    wf = getattr(key, "workflow", None)
    try:
        return bool(status is not None and status.is_terminal or wf is not None and wf.status.is_terminal)
    except AttributeError:
        return False


_NOT_RUN = Outcome("FAILED", {}, "not run: the task had ended before a worker was free")


def ref_of(key: Any) -> str:
    return str(getattr(key, "ref", None) or getattr(key, "reference_task_name", None) or key)


def runs_here(key: Any) -> bool:
    """System tasks with a built-in worker (HTTP) run on the local thread pool, not in a worker process."""
    node = getattr(key, "node", None)
    return node is not None and getattr(node, "kind", "SIMPLE") != "SIMPLE"


def died(code: int | None, ref: str, where: str = "", after: str = "the pool was restarted for the next tasks") -> str:
    """The reason of a task whose worker process died under it (``code``: its exit code, -N for signal N)."""
    if code is None:
        how = "exit code unknown"
    elif code < 0:
        try:
            how = f"exit code {code}, killed by {signal.Signals(-code).name}"
        except ValueError:
            how = f"exit code {code}"
    else:
        how = f"exit code {code}"
    return (
        f"worker process died ({how}) while running task '{ref}'{where}. A worker that calls os._exit(), crashes "
        f"the interpreter or is killed (e.g. out of memory) ends its process; {after}."
    )


# ============================================================================================ parent side


class _Call:
    __slots__ = ("blob", "breaks", "digest", "executor", "key", "level", "seq", "task_blob")

    def __init__(self, executor: ProcessExecutor, key: Any, digest: bytes, blob: bytes, task_blob: bytes, level: int,
                 seq: int) -> None:  # fmt: skip
        self.executor = executor
        self.key = key
        self.digest = digest
        self.blob = blob
        self.task_blob = task_blob
        self.level = level
        self.seq = seq
        self.breaks = 0


class _Generation:
    """One ProcessPoolExecutor and its "started" pipe; replaced as a whole when the pool breaks."""

    def __init__(self, max_workers: int, context: Any) -> None:
        self.reader, self.writer = context.Pipe(duplex=False)
        self.pool = ProcessPoolExecutor(max_workers, mp_context=context, initializer=_child_init,
                                        initargs=(self.writer,))  # fmt: skip
        self.started: dict[int, int] = {}  # seq -> pid
        self.read_lock = threading.Lock()
        self.dead: dict[int, int | None] | None = None  # pid -> exit code, filled when it breaks

    def drain(self) -> None:
        with self.read_lock:
            reader, started = self.reader, self.started
            try:
                while reader.poll():
                    pid, seq = _START.unpack(reader.recv_bytes())
                    started[seq] = pid
            except (OSError, EOFError):
                pass

    def who_died(self) -> dict[int, int | None]:
        """The pids of the pool's processes that have exited, with their exit codes (called once, on the break)."""
        if self.dead is None:
            self.drain()
            dead: dict[int, int | None] = {}
            for pid, proc in list((getattr(self.pool, "_processes", None) or {}).items()):
                code = proc.exitcode
                if code is not None:
                    dead[pid] = code
            self.dead = dead
        return self.dead

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        for conn in (self.reader, self.writer):
            try:
                conn.close()
            except OSError:
                pass


class _SharedPool:
    """A process pool shared by every ProcessExecutor of one size (processes start once per Python session).

    Calls wait in a backlog and at most ``max_workers + 1`` are handed to the pool at a time, so a call
    whose task ended while it waited is dropped instead of run.
    """

    def __init__(self, max_workers: int, context: Any) -> None:
        self.max_workers = max_workers
        self.context = context
        self.limit = max_workers + 1
        self.lock = threading.Lock()
        self.backlog: deque[_Call] = deque()
        self.active = 0
        self.gen: _Generation | None = None
        self.seq = 0

    def next_seq(self) -> int:
        with self.lock:
            self.seq += 1
            return self.seq

    def enqueue(self, call: _Call, front: bool = False) -> None:
        with self.lock:
            if front:
                self.backlog.appendleft(call)
            else:
                self.backlog.append(call)
        self.pump()

    def pump(self) -> None:
        while True:
            with self.lock:
                if not self.backlog or self.active >= self.limit:
                    return
                call = self.backlog.popleft()
                if is_stale(call.key):
                    call.executor.results.put((call.key, _NOT_RUN))
                    continue
                self.active += 1
                gen = self.gen
                if gen is None:
                    gen = self.gen = _Generation(self.max_workers, self.context)
            try:
                future = gen.pool.submit(run_call, call.seq, call.digest, call.blob, call.task_blob, call.level)
            except (BrokenProcessPool, RuntimeError):  # broke (or was shut down) under us: a new one, same call
                with self.lock:
                    self.active -= 1
                    self.backlog.appendleft(call)
                self.renew(gen)
                continue
            future.add_done_callback(functools.partial(self.done, call, gen))

    def renew(self, gen: _Generation) -> None:
        """Stop using a broken pool (it cleans itself up; the next call starts a new one)."""
        with self.lock:
            if self.gen is gen:
                self.gen = None

    def done(self, call: _Call, gen: _Generation, future: Any) -> None:
        """Runs in the pool's management thread (or at once when the future was already done)."""
        with self.lock:
            self.active -= 1
        ref = ref_of(call.key)
        outcome: Any
        try:
            blob = future.result()
        except BrokenProcessPool:
            dead = gen.who_died()
            pid = gen.started.get(call.seq)
            self.renew(gen)
            if pid is not None and pid in dead:
                outcome = Outcome("FAILED", {}, died(dead[pid], ref))
            else:  # an innocent bystander of another call's crash: send it again
                call.breaks += 1
                if call.breaks < _MAX_BREAKS:
                    self.enqueue(call, front=True)
                    return
                outcome = Outcome("FAILED", {}, f"the worker process pool broke {call.breaks} times while task '{ref}' "
                                  "was waiting or running (another task's worker process died each time)")  # fmt: skip
        except CancelledError:
            outcome = Outcome("FAILED", {}, f"task '{ref}' was cancelled: its worker process pool was shut down")
        except BaseException as exc:  # noqa: BLE001 - e.g. the call could not be unpickled in the child
            outcome = Outcome("FAILED", {}, f"worker crashed: {exc!r}", None, _error(exc))
        else:
            gen.drain()
            gen.started.pop(call.seq, None)
            outcome = load_outcome(blob, ref)
        call.executor.results.put((call.key, outcome))
        self.pump()

    def submit_job(self, executor: ProcessExecutor, key: Any, job_blob: bytes) -> None:
        with self.lock:
            gen = self.gen
            if gen is None:
                gen = self.gen = _Generation(self.max_workers, self.context)
        results = executor.results

        def done(future: Any) -> None:
            try:
                value = pickle.loads(future.result())
            except BaseException as exc:  # noqa: BLE001
                value = exc
            results.put((key, value))

        try:
            gen.pool.submit(run_job, job_blob).add_done_callback(done)
        except (BrokenProcessPool, RuntimeError) as exc:
            self.renew(gen)
            results.put((key, exc))


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
        shipped = self._ship.worker(worker)
        if isinstance(shipped, Outcome):
            self.results.put((key, shipped))
            return
        task_blob = self._ship.task(task)
        if isinstance(task_blob, Outcome):
            self.results.put((key, task_blob))
            return
        pool = self._pool
        call = _Call(self, key, shipped[0], shipped[1], task_blob, logging.getLogger().level, pool.next_seq())
        pool.enqueue(call)

    def submit(self, key: Any, job: Job) -> None:
        """Run a plain job in a worker process (pickled with cloudpickle)."""
        try:
            blob = _cloudpickle().dumps(job, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            self.results.put((key, exc))
            return
        self._pool.submit_job(self, key, blob)

    def _here(self, key: Any, worker: Worker, task: Task) -> None:
        results = self.results

        def run() -> None:
            try:
                value: Any = worker.execute(task)
            except BaseException as exc:  # noqa: BLE001 - the runner turns this into a task failure
                value = exc
            results.put((key, value))

        _thread_pool(8).submit(run)

    def shutdown(self) -> None:
        """Nothing to release: the processes are shared (see :func:`shutdown_process_pools`)."""

    def __repr__(self) -> str:
        return f"ProcessExecutor(max_workers={self.max_workers}, start_method={self.start_method!r})"


def shutdown_process_pools() -> None:
    """Stop every shared worker process (they start again on next use)."""
    with _pools_lock:
        pools = list(_pools.values())
    for pool in pools:
        with pool.lock:
            gen, pool.gen = pool.gen, None
        if gen is not None:
            gen.close()
