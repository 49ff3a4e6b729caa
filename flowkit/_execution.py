"""The Execution handle: one workflow run, its tasks, its Conductor JSON."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flowkit.definitions._types import TaskStatus, WorkflowStatus
from flowkit.errors import NotFoundError, OperationNotAllowedError

if TYPE_CHECKING:
    from flowkit.engine import TaskModel, WorkflowModel
    from flowkit.executors import Runner

__all__ = ["Execution"]


class Execution:
    """A workflow execution. ``run()`` returns one when the run has ended or needs outside input."""

    def __init__(self, model: WorkflowModel, runner: Runner) -> None:
        self._model = model
        self._runner = runner

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
        """The workflow output (§4.5)."""
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
        child = self._runner.engine.executions.get(task.sub_workflow_id or "")
        if child is None:
            raise NotFoundError(f"task '{ref}' of {self.workflow_id} has not started a sub-workflow")
        return Execution(child, self._runner)

    def execution(self, workflow_id: str) -> Execution:
        """Another execution run by the same engine (children, failure workflows)."""
        model = self._runner.engine.executions.get(workflow_id)
        if model is None:
            raise NotFoundError(f"no execution {workflow_id}")
        return Execution(model, self._runner)

    def to_json(self, *, include_tasks: bool = True) -> dict[str, Any]:
        """Conductor's execution JSON (``schema_Workflow.json``), times in epoch ms."""
        from flowkit.definitions._wire import execution_to_json

        return execution_to_json(self._model, include_tasks=include_tasks)

    def complete_task(self, ref: str, output: dict[str, Any] | None = None) -> Execution:
        """Complete a task left for outside completion (HUMAN, WAIT, async), then carry on running."""
        return self._update(ref, TaskStatus.COMPLETED, output, None)

    def fail_task(self, ref: str, reason: str) -> Execution:
        """Fail a task left for outside completion, then carry on running."""
        return self._update(ref, TaskStatus.FAILED, None, reason)

    def _update(self, ref: str, status: TaskStatus, output: dict[str, Any] | None, reason: str | None) -> Execution:
        task = self.task(ref)
        if task.status.is_terminal or self._model.status.is_terminal:
            raise OperationNotAllowedError(
                f"task '{ref}' is already {task.status} in a {self._model.status} workflow; nothing to update",
                workflow_id=self.workflow_id,
            )
        runner = self._runner
        now = runner.clock.now_ms()
        runner.handle(runner.engine.task_updated(task, status, now, output=output or {}, reason=reason), now)
        runner.run(lambda: self._model.status.is_terminal)
        return self

    def __repr__(self) -> str:
        m = self._model
        return f"<Execution {m.definition.name} v{m.definition.version} {m.workflow_id} {m.status} tasks={len(m.tasks)}>"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        m = self._model
        lines = [repr(self)]
        if m.reason:
            lines.append(f"reason: {m.reason}")
        lines += [f"  {t.seq:>3} {t.ref:<30} {t.task_type:<20} {t.status}" for t in m.tasks[:50]]
        if len(m.tasks) > 50:
            lines.append(f"  ... {len(m.tasks) - 50} more")
        return {"text/plain": "\n".join(lines)}
