"""An execution on a Conductor server: the same Execution handle, its state read over HTTP.

:class:`RemoteExecution` is a :class:`flowkit.Execution`: the views (diagram, ``tasks_df``,
``timeline``, monitor, inspector) read its model as they read a local run's. Reading a property
fetches the execution again when the last read is older than ``max_age``; a watching view calls
:meth:`RemoteExecution.watch` (the :class:`flowkit.runtime.Watched` protocol) and the execution is then
read every ``poll_interval`` seconds on a background thread, which reports what changed through
``runtime.hooks`` as a local run does (TaskStarted, TaskEnded, RunEnded).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flowkit.definitions import TaskStatus, WorkflowStatus
from flowkit.errors import NotFoundError, OperationNotAllowedError
from flowkit.runtime import Execution, Hooks, RunEnded, TaskEnded, TaskStarted

if TYPE_CHECKING:
    from flowkit.client._client import Client
    from flowkit.engine import Engine, TaskModel, WorkflowModel

__all__ = ["RemoteExecution", "Source"]

_ACTIVE = ("RUNNING", "PAUSED")
_RESULT_STATUSES = ("IN_PROGRESS", "COMPLETED", "FAILED", "FAILED_WITH_TERMINAL_ERROR")


class Source:
    """What a RemoteExecution has for a runtime: the client's hooks and the executions read so far.

    ``engine.executions`` holds the models read from the server (the views find sub-workflows
    there); ``hooks`` hears about tasks and runs as the watchers' polling sees them change.
    """

    def __init__(self, client: Client, engine: Engine) -> None:
        self.client = client
        self.engine = engine
        self.hooks = Hooks()
        self.lock = threading.RLock()  # one read updates the models at a time (a watcher and the caller may both read)


class RemoteExecution(Execution):
    """A workflow execution on a Conductor server (``flowkit.connect(url).start(...)`` returns one).

    Operations are Conductor's REST calls (``PUT /api/workflow/{id}/pause`` and so on) and raise
    :class:`~flowkit.OperationNotAllowedError` when the server answers 409, as a local execution does.
    """

    max_age = 0.2
    """Seconds a read stays fresh: properties read within it do not ask the server again."""

    def __init__(self, model: WorkflowModel, source: Source) -> None:
        super().__init__(model, source)  # type: ignore[arg-type]
        self._source = source
        self._read_at = time.monotonic()
        self._watchers = 0
        self._watch_lock = threading.Lock()
        self._stop = threading.Event()
        self.poll_interval = 0.5
        """Seconds between two reads while a view watches."""

    @property
    def client(self) -> Client:
        """The client this execution was read with."""
        return self._source.client

    # ------------------------------------------------------------------ reading
    def refresh(self) -> RemoteExecution:
        """Read the execution from the server now (its tasks too); reports changes through the hooks."""
        with self._source.lock:
            before = self._states()
            raw = self._source.client.raw_execution(self.workflow_id)
            self._model = self._source.client.reader.read(raw)
            self._read_at = time.monotonic()
            self._report(before)
        return self

    def _fresh(self) -> WorkflowModel:
        if time.monotonic() - self._read_at > self.max_age:
            self.refresh()
        return self._model

    def _states(self) -> tuple[str, dict[str, str]]:
        return str(self._model.status), {t.task_id: str(t.status) for t in self._model.tasks}

    def _report(self, before: tuple[str, dict[str, str]]) -> None:
        hooks = self._source.hooks
        if not (hooks.task_started or hooks.task_ended or hooks.run_ended):
            return
        status, tasks = before
        for task in self._model.tasks:
            was, now = tasks.get(task.task_id), str(task.status)
            if was == now:
                continue
            if now == "IN_PROGRESS":
                for started in hooks.task_started:
                    started(TaskStarted(task))
            elif task.is_terminal:
                for ended in hooks.task_ended:
                    ended(TaskEnded(task))
        if status != str(self._model.status) and self._model.status.is_terminal:
            for run_ended in hooks.run_ended:
                run_ended(RunEnded(self._model))

    def watch(self) -> Callable[[], None]:
        """Read the execution every ``poll_interval`` seconds until the returned function is called.

        While it runs or is paused; a view (the monitor) calls this and stops it when closed.
        """
        with self._watch_lock:
            self._watchers += 1
            if self._watchers == 1:
                self._stop = threading.Event()
                threading.Thread(
                    target=self._poll, args=(self._stop,), name="flowkit-remote-watch", daemon=True
                ).start()
        done = threading.Event()

        def stop() -> None:
            if done.is_set():
                return
            done.set()
            with self._watch_lock:
                self._watchers -= 1
                if self._watchers == 0:
                    self._stop.set()

        return stop

    def _poll(self, stop: threading.Event) -> None:
        cost = 0.0
        # A big execution costs more to read: it is then read less often, never more than a tenth of the time.
        while not stop.wait(max(self.poll_interval, 9 * cost)):
            if str(self._model.status) not in _ACTIVE and time.monotonic() - self._read_at < 5 * self.poll_interval:
                continue  # ended: read now and then only (an operation elsewhere may restart it)
            began = time.monotonic()
            try:
                self.refresh()
            except Exception:  # noqa: BLE001 - the server may be restarting: the next read tries again
                continue
            cost = time.monotonic() - began

    # ------------------------------------------------------------------ state (read fresh)
    @property
    def status(self) -> WorkflowStatus:
        """RUNNING, PAUSED, COMPLETED, FAILED, TIMED_OUT or TERMINATED, as the server has it now."""
        return self._fresh().status

    @property
    def input(self) -> dict[str, Any]:
        """The workflow input."""
        return self._fresh().input

    @property
    def output(self) -> dict[str, Any]:
        """The workflow output."""
        return self._fresh().output

    @property
    def variables(self) -> dict[str, Any]:
        """``workflow.variables``."""
        return self._fresh().variables

    @property
    def reason(self) -> str | None:
        """``reasonForIncompletion``."""
        return self._fresh().reason

    @property
    def correlation_id(self) -> str | None:
        """Conductor's correlationId."""
        return self._fresh().correlation_id

    @property
    def failed_reference_task_names(self) -> list[str]:
        """Refs of every task that failed at least once."""
        return list(self._fresh().failed_refs)

    def to_json(self, *, include_tasks: bool = True) -> dict[str, Any]:
        """Conductor's execution JSON, as the server answers it now."""
        return self._source.client.raw_execution(self.workflow_id, include_tasks=include_tasks)

    @property
    def tasks(self) -> list[TaskModel]:
        """Every task attempt in order."""
        return list(self._fresh().tasks)

    @property
    def model(self) -> WorkflowModel:
        """The execution as last read (the same object from read to read, updated in place)."""
        return self._fresh()

    def task(self, ref: str) -> TaskModel:
        """The latest attempt with reference ``ref``."""
        self._fresh()
        return super().task(ref)

    def execution(self, workflow_id: str) -> RemoteExecution:
        """Another execution on the same server (children, failure workflows)."""
        return self._source.client.execution(workflow_id)

    def sub_workflow(self, ref: str) -> RemoteExecution:
        """The child execution started by the SUB_WORKFLOW task ``ref``."""
        task = self.task(ref)
        if not task.sub_workflow_id:
            raise NotFoundError(f"task '{ref}' of {self.workflow_id} has not started a sub-workflow")
        return self.execution(task.sub_workflow_id)

    def wait(self, timeout: float | None = None) -> RemoteExecution:
        """Read the execution until it ends (or ``timeout`` seconds pass); returns self."""
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = 0.05
        while True:
            self.refresh()
            if self._model.status.is_terminal:
                return self
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return self
            time.sleep(pause if left is None else min(pause, left))
            pause = min(pause * 1.5, 1.0)

    # ------------------------------------------------------------------ operations (Conductor's REST calls)
    def _call(self, method: str, path: str, **options: Any) -> RemoteExecution:
        self._source.client.connection.request(method, f"/workflow/{self.workflow_id}{path}", **options)
        return self.refresh()

    def pause(self) -> RemoteExecution:
        """Pause (``PUT /api/workflow/{id}/pause``)."""
        return self._call("PUT", "/pause")

    def resume(self) -> RemoteExecution:
        """Resume (``PUT /api/workflow/{id}/resume``)."""
        return self._call("PUT", "/resume")

    def terminate(self, reason: str | None = None) -> RemoteExecution:
        """Terminate (``DELETE /api/workflow/{id}?reason=``)."""
        return self._call("DELETE", "", params={"reason": reason})

    def restart(self, use_latest_definitions: bool = False) -> RemoteExecution:
        """Start a terminal execution over (``POST /api/workflow/{id}/restart``)."""
        return self._call("POST", "/restart", params={"useLatestDefinitions": use_latest_definitions})

    def retry(self, resume_subworkflow_tasks: bool = False) -> RemoteExecution:
        """Retry from the failed tasks (``POST /api/workflow/{id}/retry``)."""
        return self._call("POST", "/retry", params={"resumeSubworkflowTasks": resume_subworkflow_tasks})

    def rerun(
        self,
        from_task_id: str | None = None,
        task_input: dict[str, Any] | None = None,
        workflow_input: dict[str, Any] | None = None,
        correlation_id: str | None = None,
    ) -> RemoteExecution:
        """Rerun from the start or from ``from_task_id`` (``POST /api/workflow/{id}/rerun``)."""
        body = {
            "reRunFromWorkflowId": self.workflow_id,
            "reRunFromTaskId": from_task_id,
            "taskInput": task_input,
            "workflowInput": workflow_input,
            "correlationId": correlation_id,
        }
        return self._call("POST", "/rerun", body={k: v for k, v in body.items() if v is not None})

    def skip_task(
        self, ref: str, task_input: dict[str, Any] | None = None, task_output: dict[str, Any] | None = None
    ) -> RemoteExecution:
        """Skip a task not reached yet (``PUT /api/workflow/{id}/skiptask/{ref}``)."""
        body = {"taskInput": task_input or {}, "taskOutput": task_output or {}}
        return self._call("PUT", f"/skiptask/{ref}", body=body)

    def complete_task(self, ref: str, output: dict[str, Any] | None = None) -> RemoteExecution:
        """Complete a task left for outside completion (HUMAN, WAIT) with ``output``."""
        return self.update_task(ref, TaskStatus.COMPLETED, output)

    def fail_task(self, ref: str, reason: str) -> RemoteExecution:
        """Fail a task left for outside completion."""
        return self.update_task(ref, TaskStatus.FAILED, None, reason=reason)

    def update_task(
        self,
        ref: str,
        status: TaskStatus | str,
        output: dict[str, Any] | None = None,
        *,
        reason: str | None = None,
        callback_after_seconds: int = 0,
        logs: list[str] | None = None,
    ) -> RemoteExecution:
        """Post a TaskResult for task ``ref`` (``POST /api/tasks``), as a worker would."""
        chosen = str(getattr(status, "value", status))
        if chosen not in _RESULT_STATUSES:
            raise OperationNotAllowedError(
                f"status {status!r} is not a task result status; use one of {', '.join(_RESULT_STATUSES)}",
                workflow_id=self.workflow_id,
            )
        self.refresh()
        task = self.task(ref)
        if task.is_terminal or self._model.status.is_terminal:
            raise OperationNotAllowedError(
                f"task '{ref}' is already {task.status} in a {self._model.status} workflow; nothing to update",
                workflow_id=self.workflow_id,
            )
        now = int(time.time() * 1000)
        result = {
            "workflowInstanceId": self.workflow_id,
            "taskId": task.task_id,
            "status": chosen,
            "outputData": output or {},
            "reasonForIncompletion": reason,
            "callbackAfterSeconds": callback_after_seconds,
            "logs": [{"log": line, "taskId": task.task_id, "createdTime": now} for line in logs or ()],
        }
        self._source.client.connection.request("POST", "/tasks", body=result)
        return self.refresh()

    def signal(self, status: TaskStatus | str, output: dict[str, Any] | None = None) -> str | None:
        """Complete the first waiting WAIT task of this execution (a HUMAN: :meth:`update_task`); its task id, or None."""
        self.refresh()
        for task in self._model.tasks:
            if task.task_type == "WAIT" and not task.is_terminal:
                self.update_task(task.ref, status, output)
                return task.task_id
        return None

    def fetch_logs(self, ref: str | None = None) -> RemoteExecution:
        """Read the task logs (``GET /api/tasks/{taskId}/log``) of ``ref``'s latest attempt, or of every attempt.

        Conductor's execution JSON leaves logs out; after this, ``task.logs``, the inspector and
        ``tasks_df()`` show them.
        """
        tasks = [self.task(ref)] if ref is not None else self.tasks
        for task in tasks:
            found = self._source.client.connection.request("GET", f"/tasks/{task.task_id}/log")
            task.logs = [str(e.get("log", e)) if isinstance(e, dict) else str(e) for e in found or ()]
        return self

    # ------------------------------------------------------------------ views that look up children
    def tasks_df(self, *, include_children: bool = False) -> Any:
        """One row per task attempt (children read from the server with ``include_children``)."""
        from flowkit.history import tasks_df

        return tasks_df(self._fresh(), include_children=include_children, lookup=self._lookup)

    def timeline(self, **options: Any) -> Any:
        """A Gantt chart of the attempts (see :meth:`flowkit.Execution.timeline`)."""
        from flowkit.history import timeline

        options.setdefault("lookup", self._lookup)
        return timeline(self._fresh(), **options)

    def _lookup(self, workflow_id: str) -> WorkflowModel | None:
        try:
            return self._source.client.execution(workflow_id).model
        except NotFoundError:
            return None

    def __repr__(self) -> str:
        m = self._model
        return (
            f"<RemoteExecution {m.definition.name} v{m.definition.version} {m.workflow_id} {m.status} "
            f"tasks={len(m.tasks)} on {self._source.client.url}>"
        )
