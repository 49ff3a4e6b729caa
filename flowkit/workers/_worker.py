"""Workers: ``@worker_task`` on plain functions, Conductor-SDK style.

Inputs are bound by parameter name (dataclass parameters are built from dicts); a returned dict
or dataclass is the output, any other value becomes ``{"result": value}``. Raising
:class:`~flowkit.errors.NonRetryableError` ends the task FAILED_WITH_TERMINAL_ERROR; any other
exception ends it FAILED with the exception's message as the reason and its traceback kept.
A function whose only parameter is annotated ``Task``, or is an unannotated parameter named
``task``, receives the :class:`Task` itself (Conductor's Python SDK style). The SDK hands the Task
to *any* single unannotated parameter; flowkit binds ``def step(x)`` by name instead, because a
notebook user writing ``def step(x)`` means the input ``x``.

A parameter without a default that the task input lacks (a typo such as ``nmae``), or that is null
there while its annotation does not admit None (``${workflow.input.x}`` of an input not given),
fails the task FAILED_WITH_TERMINAL_ERROR with a reason naming it and the input's names, the
closest first. The Conductor Python SDK passes None instead (``worker.py``); flowkit does not,
so that a wrong name is said at once and never becomes ``"Hello None"``.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import traceback
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, get_type_hints

from flowkit._cache import BoundedCache
from flowkit.definitions._types import TaskStatus
from flowkit.errors import NonRetryableError, WorkerError
from flowkit.expressions import copy_json
from flowkit.workers import _capture
from flowkit.workers._record import record_output, sole_refs

__all__ = ["Outcome", "Task", "TaskResult", "Worker", "as_worker_map", "worker_task"]


class Task:
    """What a worker sees of its task (attribute names follow Conductor's Python SDK).

    The types are those of a task the Runner hands over, which sets every field; ``Task(**fields)``
    (a test building one by hand) leaves a field it is not given as None.
    """

    input_data: dict[str, Any]
    """The task input (the worker's own copy)."""
    task_id: str
    reference_task_name: str
    task_def_name: str
    task_type: str
    workflow_instance_id: str
    workflow_type: str
    """The workflow definition's name."""
    retry_count: int
    poll_count: int
    callback_after_seconds: int
    worker_id: str
    correlation_id: str | None
    iteration: int
    status: str

    __slots__ = (
        "input_data",
        "task_id",
        "reference_task_name",
        "task_def_name",
        "task_type",
        "workflow_instance_id",
        "workflow_type",
        "retry_count",
        "poll_count",
        "callback_after_seconds",
        "worker_id",
        "correlation_id",
        "iteration",
        "status",
    )

    def __init__(self, **fields: Any) -> None:
        for name in self.__slots__:
            setattr(self, name, fields.get(name))

    def __repr__(self) -> str:
        return f"Task({self.reference_task_name!r}, id={self.task_id!r}, retry_count={self.retry_count})"


@dataclasses.dataclass(slots=True)
class TaskResult:
    """A worker's full answer, when a plain return value is not enough (long-running tasks)."""

    status: str = "COMPLETED"
    """COMPLETED, FAILED, FAILED_WITH_TERMINAL_ERROR or IN_PROGRESS."""
    output_data: dict[str, Any] = dataclasses.field(default_factory=dict)
    """The task output."""
    reason_for_incompletion: str | None = None
    """Why it failed."""
    callback_after_seconds: int = 0
    """With IN_PROGRESS: when to call the worker again."""
    logs: list[str] = dataclasses.field(default_factory=list)
    """Extra log lines for this attempt."""

    def add_output_data(self, key: str, value: Any) -> None:
        """Set one output key (SDK compatibility)."""
        self.output_data[key] = value

    def log(self, line: str) -> None:
        """Add a log line (SDK compatibility)."""
        self.logs.append(line)


class Outcome:
    """The result of one worker call, as the runner hands it to the engine."""

    __slots__ = ("callback_after_seconds", "error", "logs", "output", "reason", "status")

    def __init__(
        self,
        status: str,
        output: dict[str, Any] | None,
        reason: str | None = None,
        logs: list[str] | None = None,
        error: dict[str, Any] | None = None,
        callback_after_seconds: int = 0,
    ) -> None:
        self.status = status
        self.output = output
        self.reason = reason
        self.logs = logs
        self.error = error
        self.callback_after_seconds = callback_after_seconds


_JSON_SCALARS = (str, int, float, bool, type(None))
_FLAT = frozenset(_JSON_SCALARS)
_COMPLETED = TaskStatus.COMPLETED
_LOCAL = _capture._local
_SOLE = 2  # references to a value only result() holds: its name and sole_refs' argument


def _json_problem(value: Any, path: str, depth: int = 0) -> str | None:
    kind = type(value)
    if kind in _FLAT:
        return None
    if depth > 200:
        return f"{path} nests deeper than 200 levels"
    if kind is dict:
        for k, v in value.items():
            if type(k) is not str:
                return f"{path} has a non-string key {k!r}"
            if type(v) not in _FLAT:
                problem = _json_problem(v, f"{path}.{k}", depth + 1)
                if problem:
                    return problem
        return None
    if isinstance(value, _JSON_SCALARS):
        return None
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                return f"{path} has a non-string key {k!r}"
            problem = _json_problem(v, f"{path}.{k}", depth + 1)
            if problem:
                return problem
        return None
    if isinstance(value, list | tuple):
        for i, v in enumerate(value):
            problem = _json_problem(v, f"{path}[{i}]", depth + 1)
            if problem:
                return problem
        return None
    return f"{path} is a {type(value).__module__}.{type(value).__qualname__}, which is not JSON"


def _to_output(value: Any) -> dict[str, Any]:
    """The worker's return value as task output (``record_output`` copies it before it is recorded)."""
    if type(value) is dict:
        return value
    if value is None:
        return {}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, Mapping):
        return dict(value)
    return {"result": value}


class Worker:
    """A function that completes tasks of one task definition name."""

    copies_input = False

    def __init__(
        self,
        fn: Callable[..., Any],
        task_definition_name: str,
        *,
        domain: str | None = None,
        poll_interval_millis: int = 100,
        worker_id: str | None = None,
    ) -> None:
        self.fn = fn
        self.name = task_definition_name
        self.domain = domain
        self.poll_interval_millis = poll_interval_millis
        self.worker_id = worker_id
        self.__doc__ = fn.__doc__
        self.__name__ = getattr(fn, "__name__", task_definition_name)
        self.__wrapped__ = fn
        self._bind = self._binder(fn)
        self.copies_input = self._bind is not None and type(self).execute is Worker.execute
        """True when :meth:`execute` hands the function copies of the input's containers (it binds
        parameters by name), so the caller may pass a Task whose ``input_data`` it shares."""

    def _binder(self, fn: Callable[..., Any]) -> Callable[[Task], dict[str, Any]] | None:
        name = self.name
        if not callable(fn):
            raise WorkerError(
                f"the worker given for task definition '{name}' is {fn!r}, which cannot be called. "
                f"Fix: pass a function, as workers={{'{name}': function}}.",
                task_def_name=name,
            )
        try:
            sig = inspect.signature(fn)
        except (TypeError, ValueError):  # a builtin or C type without introspectable parameters
            raise WorkerError(
                f"flowkit cannot read the parameters of the worker given for task definition '{name}' "
                f"({fn!r}): it binds a task's input to them by name. Fix: wrap it in a function with named "
                f"parameters, e.g. workers={{'{name}': lambda **task_input: ...}}.",
                task_def_name=name,
            ) from None
        try:
            hints = get_type_hints(fn)
        except Exception:  # unresolvable annotations: bind by name without conversion
            hints = {}
        params = [p for p in sig.parameters.values() if p.kind not in (p.VAR_POSITIONAL,)]
        if len(params) == 1 and params[0].kind is not params[0].VAR_KEYWORD:
            hint = hints.get(params[0].name, params[0].annotation)
            if getattr(hint, "__name__", None) == "Task" or (
                hint is inspect.Parameter.empty and params[0].name == "task"
            ):
                return None
        takes_all = any(p.kind is p.VAR_KEYWORD for p in params)
        spec = []
        for p in params:
            if p.kind is p.VAR_KEYWORD:
                continue
            hint = hints.get(p.name)
            dc = hint if isinstance(hint, type) and dataclasses.is_dataclass(hint) else None
            # null reaches a required parameter only if its annotation says it may be None
            null_ok = p.default is not inspect.Parameter.empty or _admits_none(hints.get(p.name, p.annotation))
            spec.append((p.name, p.default, dc, null_ok))

        def bind(task: Task) -> dict[str, Any]:
            # The function gets its own copy of every container it receives: changing one changes no
            # recorded input (the Runner shares ``input_data`` with the task when ``copies_input``).
            data = task.input_data
            kwargs = {k: v if type(v) in _FLAT else copy_json(v) for k, v in data.items()} if takes_all else {}
            for name, default, dc, null_ok in spec:
                if name in data:
                    value = data[name]
                    if type(value) not in _FLAT:
                        value = copy_json(value)
                    elif value is None and not null_ok:
                        raise _MissingInput(self._missing(task, name, present=True))
                    if dc is not None and isinstance(value, Mapping):
                        value = dc(**value)
                    kwargs[name] = value
                elif default is not inspect.Parameter.empty:
                    kwargs[name] = default
                else:
                    raise _MissingInput(self._missing(task, name, present=False))
            return kwargs

        return bind

    def _missing(self, task: Task, name: str, *, present: bool) -> str:
        """The reason of a task whose input lacks the required parameter ``name`` (or has it null)."""
        data = task.input_data or {}
        others = [str(key) for key in data if key != name]
        close = difflib.get_close_matches(name, others, n=1, cutoff=0.6)
        ordered = close + sorted((k for k in others if k not in close), key=str.lower)
        names = ", ".join(repr(k) for k in ordered)
        where = f"task '{task.reference_task_name}'" if task.reference_task_name else f"a '{self.name}' task"
        if present:
            what = (
                "is null in the task input (a ${...} that finds nothing, such as a workflow input not given, is null)"
            )
            has = f"; its other names: {names}" if names else ""
        else:
            what = "is not in the task input"
            has = f"; the input has {names}" if names else "; the input is empty"
        closest = f" Closest name: '{close[0]}' (a misspelling?)." if close else ""
        return (
            f"worker '{self.__name__}' of {where}: parameter '{name}' (no default) {what}{has}.{closest} "
            f"Fix: set '{name}' in the task's inputParameters or the workflow input it reads, or give the "
            "parameter a default (or annotate it '| None' to accept null)."
        )

    def __call__(self, *args: Any, task_ref_name: str | None = None, **kwargs: Any) -> Any:
        """Call the function; with ``task_ref_name=`` build a SIMPLE task for a workflow instead."""
        if task_ref_name is not None:
            from flowkit.definitions._builder import SimpleTask

            return SimpleTask(self.name, task_ref_name, input_parameters=kwargs)
        return self.fn(*args, **kwargs)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "execute" in cls.__dict__:  # a subclass's own execute is what runs, by either name
            setattr(cls, "result", cls.__dict__["execute"])  # noqa: B010 - mypy forbids assigning a method

    def execute(self, task: Task) -> Outcome:
        """Run the function for ``task`` and turn what happened into an :class:`Outcome`."""
        outcome = Worker.result(self, task)  # not self.result: a subclass's execute is its result
        return Outcome(_COMPLETED, outcome) if isinstance(outcome, dict) else outcome

    def result(self, task: Task) -> dict[str, Any] | Outcome:
        """:meth:`execute` for the Runner: a plain COMPLETED result (no logs) is just its output.

        The output is the recorded copy, the caller's to keep: no :class:`Outcome` is built and
        the engine need not copy it again (a fork's branches are thousands of these).
        """
        attempt = _LOCAL.attempt  # capture what the function prints or logs (_capture.end stops it)
        token = attempt.buf
        buf: list[str] = []
        attempt.buf = buf
        try:
            value = self.fn(task) if self._bind is None else self.fn(**self._bind(task))
        except _MissingInput as exc:  # the function never ran: no traceback of flowkit's binding code
            return Outcome("FAILED_WITH_TERMINAL_ERROR", {}, str(exc), _capture.end(token), None)
        except NonRetryableError as exc:
            return Outcome("FAILED_WITH_TERMINAL_ERROR", {}, _message(exc), _capture.end(token), _error(exc))
        except Exception as exc:  # a worker's failure is the task's failure, never the engine's
            return Outcome("FAILED", {}, _message(exc), _capture.end(token), _error(exc))
        attempt.buf = token  # _capture.end(token), inlined
        # A dict the function built to return it is held by no one else: it is kept, not copied
        # (no one can change it later), and so are the containers in it only it holds.
        owned = type(value) is dict and sole_refs(value) == _SOLE
        if type(value) is dict and not buf:  # the common answer: flat, copied here (record_output's result)
            for key in value:
                if type(key) is not str or type(value[key]) not in _FLAT:
                    break
            else:
                return value if owned else value.copy()  # flat: a shallow copy is the whole copy (dict.copy is C's)
        logs = "".join(buf).splitlines() if buf else None
        callback = 0
        status: str
        if type(value) is dict:  # the common answer first
            status, output, reason = _COMPLETED, value, None
        elif isinstance(value, TaskResult) or type(value).__name__ == "TaskResult" and hasattr(value, "output_data"):
            status = str(getattr(value.status, "value", value.status) or "COMPLETED").split(".")[-1]
            output, owned = dict(value.output_data or {}), True  # a new dict: its own containers are told apart
            reason = value.reason_for_incompletion
            callback = int(getattr(value, "callback_after_seconds", 0) or 0)
            extra_logs = [str(getattr(line, "log", line)) for line in (value.logs or [])]
            logs = (logs or []) + extra_logs if extra_logs else logs
        else:
            status, output, reason, owned = _COMPLETED, _to_output(value), None, True  # a new dict
        # the recorded copy: later changes do not reach it
        output, problem = record_output(output, _json_problem, owned=owned)
        if problem:
            return Outcome(
                "FAILED_WITH_TERMINAL_ERROR",
                {},
                f"worker '{self.name}' returned a value flowkit cannot store: {problem}. Fix: return only "
                "dicts, lists, strings, numbers, booleans and None (convert other objects, e.g. str(path)).",
                logs,
            )
        if status is _COMPLETED and logs is None and reason is None and callback == 0:
            return output
        return Outcome(status, output, reason, logs, None, callback)

    def __repr__(self) -> str:
        return f"<flowkit worker {self.name!r} -> {self.__name__}>"


class _MissingInput(Exception):
    """A required worker parameter is not in the task input (the worker is not called)."""


def _admits_none(hint: Any) -> bool:
    """True for annotations that accept None: ``X | None``, ``Optional[X]``, ``Any``, ``object``, ``None``."""
    if hint is Any or hint is object or hint is None or hint is type(None):
        return True
    if isinstance(hint, str):  # an annotation get_type_hints could not resolve: read its text
        return hint in ("Any", "object") or "None" in hint or "Optional" in hint
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return any(_admits_none(arg) for arg in typing.get_args(hint))
    return False


def _message(exc: BaseException) -> str:
    if exc.args and isinstance(exc.args[0], str):
        return exc.args[0]
    return str(exc) or type(exc).__name__


def _error(exc: BaseException) -> dict[str, Any]:
    return {
        "type": f"{type(exc).__module__}.{type(exc).__qualname__}",
        "message": str(exc),
        "traceback": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
    }


def worker_task(
    *,
    task_definition_name: str,
    domain: str | None = None,
    poll_interval_millis: int = 100,
    worker_id: str | None = None,
) -> Callable[[Callable[..., Any]], Worker]:
    """Declare a function as the worker for ``task_definition_name``.

    Example:
        >>> @worker_task(task_definition_name="greet")
        ... def greet(name: str) -> dict:
        ...     return {"greeting": f"Hello {name}"}
    """

    def decorate(fn: Callable[..., Any]) -> Worker:
        return Worker(
            fn, task_definition_name, domain=domain, poll_interval_millis=poll_interval_millis, worker_id=worker_id
        )

    return decorate


_wrapped: BoundedCache[tuple[str, Any], Worker] = BoundedCache(1024)


def as_worker_map(workers: Any) -> dict[str, Worker]:
    """Normalise ``workers=``: Worker objects, a list of them, or a ``{name: function}`` mapping."""
    if workers is None:
        return {}
    if isinstance(workers, Worker):
        return {workers.name: workers}
    if type(workers) is dict or isinstance(workers, Mapping):  # dict first: isinstance of an ABC costs more
        out = {}
        for name, fn in workers.items():
            if isinstance(fn, Worker) and fn.name == name:
                out[str(name)] = fn
                continue
            key: tuple[str, Any] = (str(name), getattr(fn, "fn", fn))
            worker = _wrapped.get(key)
            if worker is None:
                worker = _wrapped.put(key, Worker(key[1], key[0]))
            out[key[0]] = worker
        return out
    out = {}
    for item in workers:
        if not isinstance(item, Worker):
            raise WorkerError(
                f"{item!r} is not a worker. Fix: decorate it with @flowkit.worker_task(task_definition_name=...) "
                "or pass workers={'name': function}."
            )
        out[item.name] = item
    return out
