"""The Execution handle: one workflow run, its tasks, its Conductor JSON."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flowkit.definitions._types import TaskStatus, WorkflowStatus
from flowkit.definitions._wire import execution_to_json
from flowkit.engine._operations import pending_blocking_task
from flowkit.errors import NotFoundError, OperationNotAllowedError
from flowkit.runtime import _operations

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from flowkit.engine import Command, Engine, TaskModel, WorkflowModel
    from flowkit.notebook import Inspector, Monitor
    from flowkit.runtime._runtime import Runtime

__all__ = ["Execution"]


class Execution:
    """A workflow execution: its state, its Conductor JSON, and Conductor's operations on it.

    ``flowkit.run`` returns one when the run has ended or waits for outside input (HUMAN, WAIT
    without a time); ``flowkit.start`` returns one at once while the run goes on in the background.
    Operations follow Conductor's rules for which states allow them and raise
    :class:`~flowkit.OperationNotAllowedError` saying why otherwise.
    """

    def __init__(self, model: WorkflowModel, runtime: Runtime) -> None:
        self._model = model
        self._runtime = runtime

    @property
    def workflow_id(self) -> str:
        """The execution's id."""
        return self._model.workflow_id

    @property
    def status(self) -> WorkflowStatus:
        """RUNNING, PAUSED, COMPLETED, FAILED, TIMED_OUT or TERMINATED."""
        return self._model.status

    @property
    def input(self) -> dict[str, Any]:
        """The workflow input (after inputTemplate defaults)."""
        return self._model.input

    @property
    def output(self) -> dict[str, Any]:
        """The workflow output (Conductor's ``DeciderService.updateWorkflowOutput``)."""
        return self._model.output

    @property
    def variables(self) -> dict[str, Any]:
        """``workflow.variables`` as SET_VARIABLE left them."""
        return self._model.variables

    @property
    def reason(self) -> str | None:
        """``reasonForIncompletion``."""
        return self._model.reason

    @property
    def correlation_id(self) -> str | None:
        """Conductor's correlationId."""
        return self._model.correlation_id

    @property
    def failed_reference_task_names(self) -> list[str]:
        """Refs of every task that was FAILED or FAILED_WITH_TERMINAL_ERROR (even if retried successfully)."""
        return list(self._model.failed_refs)

    @property
    def tasks(self) -> list[TaskModel]:
        """Every task attempt in order (read-only; retries are separate attempts)."""
        return list(self._model.tasks)

    @property
    def model(self) -> WorkflowModel:
        """The engine's state for this execution (read-only)."""
        return self._model

    @property
    def runtime(self) -> Runtime:
        """The Runtime running this execution (its ``hooks`` report task starts and ends)."""
        return self._runtime

    @property
    def parent(self) -> Execution | None:
        """The execution whose SUB_WORKFLOW task started this one."""
        return self.execution(self._model.parent_workflow_id) if self._model.parent_workflow_id else None

    def task(self, ref: str) -> TaskModel:
        """The latest attempt with reference ``ref`` (loop tasks: ``ref__N``).

        Raises:
            NotFoundError: when no task has that reference.
        """
        found = self._model.task_by_ref(ref)
        if found is None:
            raise NotFoundError(f"execution {self.workflow_id} has no task '{ref}'")
        return found

    def sub_workflow(self, ref: str) -> Execution:
        """The child execution started by the SUB_WORKFLOW task ``ref``."""
        task = self.task(ref)
        child = self._runtime.engine.executions.get(task.sub_workflow_id or "")
        if child is None:
            raise NotFoundError(f"task '{ref}' of {self.workflow_id} has not started a sub-workflow")
        return Execution(child, self._runtime)

    def execution(self, workflow_id: str) -> Execution:
        """Another execution run by the same runtime (children, failure workflows)."""
        model = self._runtime.engine.executions.get(workflow_id)
        if model is None:
            raise NotFoundError(f"no execution {workflow_id}")
        return Execution(model, self._runtime)

    def to_json(self, *, include_tasks: bool = True) -> dict[str, Any]:
        """Conductor's execution JSON (``schema_Workflow.json``), times in epoch ms."""
        return execution_to_json(self._model, include_tasks=include_tasks)

    # ------------------------------------------------------------------ waiting and operations
    def wait(self, timeout: float | None = None) -> Execution:
        """Block until the execution ends (or ``timeout`` seconds pass); returns self."""
        self._runtime.wait(self._model, timeout)
        return self

    def _do(self, operation: Callable[[Engine, WorkflowModel, int], list[Command]]) -> Execution:
        self._runtime.operate(lambda engine, now: operation(engine, self._model, now), drive=self._model)
        return self

    def pause(self) -> Execution:
        """Pause: tasks already running finish, nothing new starts until :meth:`resume`."""
        return self._do(lambda engine, wf, now: engine.pause(wf, now))

    def resume(self) -> Execution:
        """Resume a PAUSED execution (the workflow-timeout clock restarts)."""
        return self._do(lambda engine, wf, now: engine.resume(wf, now))

    def terminate(self, reason: str | None = None) -> Execution:
        """Terminate: running tasks CANCELED, sub-workflows terminated, no failure workflow."""
        return self._do(lambda engine, wf, now: engine.terminate(wf, reason, now))

    def restart(self, use_latest_definitions: bool = False) -> Execution:
        """Start a terminal execution over with the same id and input."""
        return self._do(
            lambda engine, wf, now: _operations.restart(engine, wf, now, use_latest_definitions=use_latest_definitions)
        )

    def retry(self, resume_subworkflow_tasks: bool = False) -> Execution:
        """Retry a terminal execution from its failed tasks.

        With ``resume_subworkflow_tasks`` the failed task is retried in the deepest failed sub-workflow
        and every SUB_WORKFLOW task above it goes back to IN_PROGRESS (no new child is started).
        """
        return self._do(
            lambda engine, wf, now: engine.retry(wf, now, resume_subworkflow_tasks=resume_subworkflow_tasks)
        )

    def rerun(
        self,
        from_task_id: str | None = None,
        task_input: dict[str, Any] | None = None,
        workflow_input: dict[str, Any] | None = None,
        correlation_id: str | None = None,
    ) -> Execution:
        """Rerun a terminal execution from the start, or from ``from_task_id``.

        From ``from_task_id``, later tasks are removed and ``task_input`` replaces that task's input.
        """
        return self._do(
            lambda engine, wf, now: engine.rerun(
                wf,
                now,
                from_task_id=from_task_id,
                task_input=task_input,
                workflow_input=workflow_input,
                correlation_id=correlation_id,
            )
        )

    def skip_task(
        self, ref: str, task_input: dict[str, Any] | None = None, task_output: dict[str, Any] | None = None
    ) -> Execution:
        """Skip a task not reached yet; downstream ``${ref.output.x}`` sees ``task_output``."""
        return self._do(
            lambda engine, wf, now: engine.skip_task(wf, ref, now, task_input=task_input, task_output=task_output)
        )

    def complete_task(self, ref: str, output: dict[str, Any] | None = None) -> Execution:
        """Complete a task left for outside completion (HUMAN, WAIT, async), then carry on running."""
        return self._update(ref, TaskStatus.COMPLETED, output, None)

    def fail_task(self, ref: str, reason: str) -> Execution:
        """Fail a task left for outside completion, then carry on running."""
        return self._update(ref, TaskStatus.FAILED, None, reason)

    def update_task(
        self,
        ref: str,
        status: TaskStatus | str,
        output: dict[str, Any] | None = None,
        *,
        reason: str | None = None,
        callback_after_seconds: int = 0,
        logs: list[str] | None = None,
    ) -> Execution:
        """Report on task ``ref`` from outside, with what Conductor's ``TaskResult`` carries.

        ``status`` is a TaskResult status: COMPLETED, FAILED, FAILED_WITH_TERMINAL_ERROR (no retries)
        or IN_PROGRESS (a worker task is handed out again after ``callback_after_seconds``).
        ``output`` becomes the task's outputData, ``reason`` its reasonForIncompletion.

        Raises:
            OperationNotAllowedError: the status is not a TaskResult status, or the task or workflow has ended.
        """
        try:
            chosen = TaskStatus(status)
        except ValueError:
            chosen = None
        if chosen not in _RESULT_STATUSES:
            raise OperationNotAllowedError(
                f"status {status!r} is not a task result status; use one of {', '.join(map(str, _RESULT_STATUSES))}",
                workflow_id=self.workflow_id,
            )
        if callback_after_seconds < 0:
            raise OperationNotAllowedError("callback_after_seconds must be 0 or more", workflow_id=self.workflow_id)
        return self._update(ref, chosen, output, reason, callback_after_seconds, logs)

    def signal(self, status: TaskStatus | str, output: dict[str, Any] | None = None) -> str | None:
        """Signal the waiting task, as Conductor's ``POST /tasks/{workflowId}/{status}/signal`` does.

        The task is the first WAIT that has not ended, in this execution or else in a running
        sub-workflow (``TaskServiceImpl.findPendingBlockingTask``). Returns its task id, or None when
        nothing waits.
        """
        task = pending_blocking_task(self._runtime.engine, self._model)
        if task is None:
            return None
        Execution(task.workflow, self._runtime).update_task(task.ref, status, output)
        return task.task_id

    def _update(
        self,
        ref: str,
        status: TaskStatus,
        output: dict[str, Any] | None,
        reason: str | None,
        callback_after_seconds: int = 0,
        logs: list[str] | None = None,
    ) -> Execution:
        def update(engine: Engine, wf: WorkflowModel, now: int) -> list[Any]:
            task = self.task(ref)
            if task.status.is_terminal or wf.status.is_terminal:
                raise OperationNotAllowedError(
                    f"task '{ref}' is already {task.status} in a {wf.status} workflow; nothing to update",
                    workflow_id=wf.workflow_id,
                )
            return engine.task_updated(
                task,
                status,
                now,
                output=output or {},
                reason=reason,
                callback_after_seconds=callback_after_seconds,
                logs=logs,
            )

        return self._do(update)

    # ------------------------------------------------------------------ notebook views
    # The views below import their layer (notebook, history, render: ipywidgets, pandas, matplotlib)
    # on first use; they are the only upward imports the import contracts allow (pyproject.toml).
    def monitor(self, **options: Any) -> Monitor:
        """A live notebook view of this execution (see :func:`flowkit.notebook.monitor`)."""
        from flowkit.notebook import monitor

        return monitor(self, **options)

    def inspect(self, **options: Any) -> Inspector:
        """Look at this execution's task attempts one at a time (see :func:`flowkit.notebook.inspect`)."""
        from flowkit.notebook import inspect

        return inspect(self, **options)

    # ------------------------------------------------------------------ history
    def tasks_df(self, *, include_children: bool = False) -> pd.DataFrame:
        """One row per task attempt as a pandas DataFrame (columns documented in flowkit.history)."""
        from flowkit.history import tasks_df

        return tasks_df(self._model, include_children=include_children, lookup=self._runtime.engine.executions.get)

    def failures_df(self) -> pd.DataFrame:
        """Every failed, timed-out or canceled attempt with its reason, exception and how its task ended."""
        from flowkit.history import failures_df

        return failures_df(self._model)

    def timeline(self, **options: Any) -> Figure:
        """A Gantt chart (matplotlib Figure): one bar per attempt, coloured by status."""
        from flowkit.history import timeline

        options.setdefault("lookup", self._runtime.engine.executions.get)
        return timeline(self._model, **options)

    def __repr__(self) -> str:
        m = self._model
        return (
            f"<Execution {m.definition.name} v{m.definition.version} {m.workflow_id} {m.status} tasks={len(m.tasks)}>"
        )

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        from flowkit.render import repr_mimebundle

        return repr_mimebundle(self, include, exclude)


_RESULT_STATUSES = (
    TaskStatus.IN_PROGRESS,
    TaskStatus.COMPLETED,
    TaskStatus.FAILED,
    TaskStatus.FAILED_WITH_TERMINAL_ERROR,
)
