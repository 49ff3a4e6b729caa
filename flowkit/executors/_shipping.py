"""How a worker call travels to another process and back: the layer shared by the process and Dask executors.

The calling process ships the worker once (cloudpickle, content-addressed: :class:`Shipper` gives
its digest and blob, and the receiving process keeps it by digest) and the task per call (pickle,
cloudpickle when pickle cannot). The receiving process — a pool worker process or a Dask worker —
runs :func:`execute_blob`: ``Worker.execute`` exactly as the thread executor does, with ``print``
and logging captured per attempt, and answers with the pickled :class:`~flowkit.workers.Outcome`
(:data:`NEED_WORKER` when it was sent a digest it does not hold). :func:`load_outcome` reads that
answer back. Whatever cannot be pickled on the way (the worker, an input or output value) becomes a
FAILED_WITH_TERMINAL_ERROR outcome that names the value.

The small helpers at the end tell which attempt of a task a call belongs to and whether it is still
wanted (:func:`attempt_of`, :func:`is_current`), and word the reason of a call whose process died.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import signal
from typing import Any

from flowkit.workers._worker import Outcome, Task, _error

__all__ = [
    "NEED_WORKER",
    "Shipper",
    "attempt_of",
    "died",
    "execute_blob",
    "is_current",
    "is_stale",
    "load_outcome",
    "ref_of",
    "run_job",
    "runs_here",
    "transport_failure",
]

_TERMINAL = "FAILED_WITH_TERMINAL_ERROR"

# ============================================================================================ receiving side

_WORKERS: dict[bytes, Any] = {}  # digest of the pickled worker -> the worker, in this process
_captured = False


def _install_capture() -> None:
    global _captured
    if not _captured:
        from flowkit.workers._capture import installed

        installed().__enter__()  # for the life of this process (the capture is per thread, per attempt)
        _captured = True


def run_job(job_blob: bytes) -> bytes:
    """Worker-process entry point for a plain job (``Executor.submit``): the pickled return value."""
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
                return _dump_outcome(
                    Outcome(
                        _TERMINAL,
                        {},
                        f"worker '{name}' could not be loaded in the worker process ({type(exc).__name__}: {exc}). Fix: "
                        "make the module that defines it importable there (on sys.path / installed), or define the "
                        "function in the notebook or script that runs the workflow.",
                        None,
                        _error(exc),
                    ),
                    task,
                )
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
    return _dumps(
        Outcome(
            _TERMINAL,
            {},
            f"task '{ref}' output cannot be pickled to send it back from the worker process: {path} is a "
            f"{_type_name(value)} ({type(exc).__name__}: {exc}). Fix: return only JSON values (dicts, lists, strings, "
            "numbers, booleans, None); convert other objects first.",
            outcome.logs,
        )
    )


# ============================================================================ pickling, and the calling side


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
    """Find the innermost value under ``value`` that cannot be pickled: (path, value, error), or None."""
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
    """Make the FAILED_WITH_TERMINAL_ERROR outcome of a call that could not be sent."""
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

    def pack(self, worker: Any, task: Task) -> tuple[bytes, bytes, bytes] | Outcome:
        """(worker digest, worker blob, task blob) for a call, or the Outcome that fails the task."""
        shipped = self.worker(worker)
        if isinstance(shipped, Outcome):
            return shipped
        task_blob = self.task(task)
        if isinstance(task_blob, Outcome):
            return task_blob
        return shipped[0], shipped[1], task_blob

    @staticmethod
    def task(task: Task) -> bytes | Outcome:
        """Pickle the task; or return the Outcome that fails it when its input cannot be pickled."""
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
    """List the variables a function closes over and the module globals it names (what cloudpickle ships)."""
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
    """Read the Outcome a child sent back."""
    try:
        outcome = pickle.loads(blob)
    except Exception as exc:
        return Outcome(
            "FAILED",
            {},
            f"the result of task '{ref}' could not be read back from the worker process ({type(exc).__name__}: {exc})",
            None,
            _error(exc),
        )
    if not isinstance(outcome, Outcome):
        return Outcome("FAILED", {}, f"worker crashed: {outcome!r}")
    return outcome


def attempt_of(key: Any) -> tuple[Any, Any]:
    """Tell one attempt of a task from a later one on the same TaskModel (a rerun resets a task in place)."""
    return getattr(key, "poll_count", None), getattr(key, "start_time", None)


def is_current(key: Any, attempt: tuple[Any, Any] | None = None) -> bool:
    """Tell whether a call for ``key`` is still wanted.

    It is while its task is IN_PROGRESS (in ``attempt``, when given) and its workflow has not ended.
    Keys that are not tasks (plain jobs) always are.
    """
    status = getattr(key, "status", None)
    if status is None:
        return True
    try:
        if getattr(status, "value", status) != "IN_PROGRESS" or key.workflow.status.is_terminal:
            return False
    except AttributeError:
        return True
    return attempt is None or attempt_of(key) == attempt


def is_stale(key: Any) -> bool:
    """Tell whether the task ended (timed out, workflow terminated, reset by a rerun) before its call ran or finished."""
    return not is_current(key)


def ref_of(key: Any) -> str:
    return str(getattr(key, "ref", None) or getattr(key, "reference_task_name", None) or key)


def runs_here(key: Any) -> bool:
    """System tasks with a built-in worker (HTTP) run on the local thread pool, not in a worker process."""
    node = getattr(key, "node", None)
    return node is not None and getattr(node, "kind", "SIMPLE") != "SIMPLE"


def died(code: int | None, ref: str, where: str = "", after: str = "a new worker process takes its place") -> str:
    """Word the reason of a task whose worker process died under it (``code``: its exit code, -N for signal N)."""
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
