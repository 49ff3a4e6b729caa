"""Execution state the engine owns.

Task attempts, workflow executions, and the views that ``${...}`` expressions read.

The state is mutable for speed (copy-on-write would cost O(n) per event); only the engine
changes it, and only inside its event methods.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from flowkit.definitions._types import ACTIVE_TASK_STATUSES, TaskStatus, WorkflowStatus

if TYPE_CHECKING:
    from flowkit.definitions import WorkflowDef
    from flowkit.engine._execution_plan import Node, Plan

__all__ = ["TaskModel", "WorkflowModel"]

_SCHEDULED = TaskStatus.SCHEDULED  # an Enum class attribute costs a lookup per new attempt


class TaskModel:
    """One task attempt (Conductor's ``TaskModel``). Times are epoch milliseconds, 0 = unset."""

    __slots__ = (
        "task_id",
        "task_type",
        "task_def_name",
        "ref",
        "status",
        "input",
        "output",
        "seq",
        "retry_count",
        "poll_count",
        "iteration",
        "scheduled_time",
        "start_time",
        "end_time",
        "update_time",
        "start_delay",
        "callback_after_seconds",
        "callback_after_ms",
        "response_timeout_seconds",
        "retried_task_id",
        "retried",
        "executed",
        "reason",
        "worker_id",
        "workflow",
        "node",
        "sub_workflow_id",
        "first_scheduled_time",
        "logs",
        "error",
        "extra",
        "mark",
    )

    def __init__(
        self,
        workflow: WorkflowModel,
        node: Node,
        task_id: str,
        ref: str,
        iteration: int,
        now: int,
        task_input: dict[str, Any] | None = None,
    ) -> None:
        self.task_id = task_id
        self.task_type = node.task_type
        self.task_def_name = node.name
        self.ref = ref
        self.status = _SCHEDULED
        self.input: dict[str, Any] = {} if task_input is None else task_input
        self.output: dict[str, Any] = {}
        self.seq = 0
        self.retry_count = 0
        self.poll_count = 0
        self.iteration = iteration
        self.scheduled_time = now
        self.start_time = 0
        self.end_time = 0
        self.update_time = now
        self.start_delay = 0
        self.callback_after_seconds = 0
        self.callback_after_ms = 0
        self.response_timeout_seconds = node.task_def.response_timeout_seconds
        self.retried_task_id: str | None = None
        self.retried = False
        self.executed = False
        self.reason: str | None = None
        self.worker_id: str | None = None
        self.workflow = workflow
        self.node = node
        self.sub_workflow_id: str | None = None
        self.first_scheduled_time = now
        self.logs: list[str] | None = None
        self.error: dict[str, Any] | None = None
        self.extra: dict[str, Any] | None = None
        self.mark = 0  # Engine.epoch when last marked changed for a store (see Engine.dirty)

    # What a worker that binds its parameters by name reads of its Task (``Worker.copies_input``):
    # on the calling thread the runner hands it the attempt itself, with no Task made for it.
    input_data = property(attrgetter("input"))
    reference_task_name = property(attrgetter("ref"))

    @property
    def is_terminal(self) -> bool:
        """True once this attempt can no longer change."""
        return self.status not in ACTIVE_TASK_STATUSES

    def __repr__(self) -> str:
        return f"<TaskModel {self.ref} {self.task_type} {self.status} #{self.seq} try {self.retry_count}>"


class WorkflowModel:
    """One workflow execution (Conductor's ``WorkflowModel``)."""

    __slots__ = (
        "workflow_id",
        "definition",
        "plan",
        "status",
        "input",
        "output",
        "variables",
        "tasks",
        "correlation_id",
        "reason",
        "create_time",
        "update_time",
        "end_time",
        "last_retried_time",
        "parent_workflow_id",
        "parent_workflow_task_id",
        "refs",
        "id_index",
        "active",
        "failed_refs",
        "failed_names",
        "permissive_failures",
        "terminated_by",
        "seq",
        "priority",
        "deferred",
        "failure_task_id",
        "re_run_from_workflow_id",
        "event",
        "full_refs",
        "waiters",
        "dynamic_forks",
        "doc",
        "indexed",
        "skipping",
        "__weakref__",  # a durable store keeps its process's live executions by weak reference
    )

    def __init__(self, definition: WorkflowDef, plan: Plan, workflow_id: str, now: int) -> None:
        self.workflow_id = workflow_id
        self.definition = definition
        self.plan = plan
        self.status = WorkflowStatus.RUNNING
        self.input: dict[str, Any] = {}
        self.output: dict[str, Any] = {}
        self.variables: dict[str, Any] = dict(definition.variables)
        self.tasks: list[TaskModel] = []
        self.correlation_id: str | None = None
        self.reason: str | None = None
        self.create_time = now
        self.update_time = now
        self.end_time = 0
        self.last_retried_time = 0
        self.parent_workflow_id: str | None = None
        self.parent_workflow_task_id: str | None = None
        self.refs: dict[str, TaskModel] = {}  # node ref -> latest attempt
        self.id_index: dict[str, TaskModel] = {}  # filled lazily by task_by_id (big runs never need it)
        self.indexed: tuple[list[TaskModel] | None, int] = (None, 0)  # which ``tasks`` list, how much of it
        self.active = 0
        self.failed_refs: dict[str, None] = {}
        self.failed_names: dict[str, None] = {}
        self.permissive_failures: list[TaskModel] = []
        self.terminated_by: TaskModel | None = None
        self.seq = 0
        self.priority = 0
        self.deferred: list[TaskModel] = []
        self.failure_task_id: str | None = None
        self.re_run_from_workflow_id: str | None = None
        self.event: str | None = None
        self.full_refs: dict[str, TaskModel] = {}  # only refs that differ from their node's (loop ``ref__N``)
        self.waiters: dict[str, TaskModel | list[TaskModel]] = {}  # JOINs waiting on a ref
        self.dynamic_forks = 0
        self.skipping = False  # a skip_task placeholder waits: the decider looks for it before scheduling
        self.doc = Doc(self)

    @property
    def name(self) -> str:
        """The workflow definition's name."""
        return self.definition.name

    @property
    def version(self) -> int:
        """The workflow definition's version."""
        return self.definition.version

    def task_at(self, ref: str) -> TaskModel | None:
        """The latest attempt whose full reference is ``ref`` (loop iterations as ``ref__N``), or None."""
        task = self.full_refs.get(ref)
        if task is None:
            task = self.refs.get(ref)
            if task is not None and task.ref != ref:
                return None  # a loop task: ``ref`` alone names no attempt
        return task

    def task_by_id(self, task_id: str) -> TaskModel | None:
        """The attempt with this id, or None (the index catches up with ``tasks`` when asked)."""
        tasks, by_id = self.tasks, self.id_index
        of, count = self.indexed
        if of is not tasks or count != len(tasks):
            if of is not tasks or count > len(tasks):  # the list was replaced (restart, rerun)
                by_id.clear()
                count = 0
            for task in tasks[count:]:
                by_id[task.task_id] = task
            self.indexed = (tasks, len(tasks))
        return by_id.get(task_id)

    def task_by_ref(self, ref: str) -> TaskModel | None:
        """The latest attempt whose reference is ``ref`` (loop refs with their ``__N``)."""
        for task in reversed(self.tasks):
            if task.ref == ref:
                return task
        return None

    def context(self) -> Doc:
        """The document ``${...}`` expressions read (Conductor's ``ParametersUtils.getTaskInputV2``)."""
        return self.doc

    def __repr__(self) -> str:
        return f"<WorkflowModel {self.definition.name} {self.workflow_id} {self.status} {len(self.tasks)} tasks>"


_TASK_KEYS = (
    "input",
    "output",
    "taskType",
    "status",
    "referenceTaskName",
    "retryCount",
    "correlationId",
    "pollCount",
    "taskDefName",
    "scheduledTime",
    "startTime",
    "endTime",
    "workflowInstanceId",
    "taskId",
    "reasonForIncompletion",
    "callbackAfterSeconds",
    "workerId",
    "iteration",
)
_WORKFLOW_KEYS = (
    "input",
    "output",
    "status",
    "workflowId",
    "parentWorkflowId",
    "parentWorkflowTaskId",
    "workflowType",
    "version",
    "correlationId",
    "reasonForIncompletion",
    "schemaVersion",
    "variables",
)


def _task_value(t: TaskModel, key: str) -> Any:
    if key == "output":
        return t.output
    if key == "input":
        return t.input
    getters = {
        "taskType": t.task_type,
        "status": str(t.status),
        "referenceTaskName": t.ref,
        "retryCount": t.retry_count,
        "correlationId": t.workflow.correlation_id,
        "pollCount": t.poll_count,
        "taskDefName": t.task_def_name,
        "scheduledTime": t.scheduled_time,
        "startTime": t.start_time,
        "endTime": t.end_time,
        "workflowInstanceId": t.workflow.workflow_id,
        "taskId": t.task_id,
        "reasonForIncompletion": t.reason,
        "callbackAfterSeconds": t.callback_after_seconds,
        "workerId": t.worker_id,
        "iteration": t.iteration,
    }
    if key in getters:
        return getters[key]
    raise KeyError(key)


class TaskView(Mapping[str, Any]):
    """A task attempt as expressions see it (``${ref.output.x}``, ``${ref.status}``)."""

    __slots__ = ("_t",)

    def __init__(self, task: TaskModel) -> None:
        self._t = task

    def get(self, key: str, default: Any = None) -> Any:
        if key == "output":
            return self._t.output
        if key == "input":
            return self._t.input
        try:
            return _task_value(self._t, key)
        except KeyError:
            return default

    def __getitem__(self, key: str) -> Any:
        return _task_value(self._t, key)

    def __iter__(self) -> Iterator[str]:
        return iter(_TASK_KEYS)

    def __len__(self) -> int:
        return len(_TASK_KEYS)


class WorkflowView(Mapping[str, Any]):
    """The execution as expressions see it (``${workflow.input.x}``)."""

    __slots__ = ("_w",)

    def __init__(self, workflow: WorkflowModel) -> None:
        self._w = workflow

    def get(self, key: str, default: Any = None) -> Any:
        if key == "input":
            return self._w.input
        try:
            return self[key]
        except KeyError:
            return default

    def __getitem__(self, key: str) -> Any:
        w = self._w
        values = {
            "input": w.input,
            "output": w.output,
            "status": str(w.status),
            "workflowId": w.workflow_id,
            "parentWorkflowId": w.parent_workflow_id,
            "parentWorkflowTaskId": w.parent_workflow_task_id,
            "workflowType": w.definition.name,
            "version": w.definition.version,
            "correlationId": w.correlation_id,
            "reasonForIncompletion": w.reason,
            "schemaVersion": w.definition.schema_version,
            "variables": w.variables,
        }
        return values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(_WORKFLOW_KEYS)

    def __len__(self) -> int:
        return len(_WORKFLOW_KEYS)


class Doc(Mapping[str, Any]):
    """Root document: ``workflow`` plus one entry per task reference (latest attempt wins)."""

    __slots__ = ("_w",)

    def __init__(self, workflow: WorkflowModel) -> None:
        self._w = workflow

    @property
    def workflow(self) -> WorkflowModel:
        """The execution this document shows."""
        return self._w

    def get(self, key: str, default: Any = None) -> Any:
        if key == "workflow":
            return WorkflowView(self._w)
        task = self._w.refs.get(key)
        return TaskView(task) if task is not None else default

    def __getitem__(self, key: str) -> Any:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __iter__(self) -> Iterator[str]:
        yield "workflow"
        yield from self._w.refs

    def __len__(self) -> int:
        return 1 + len(self._w.refs)
