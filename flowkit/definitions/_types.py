"""Conductor's enumerations. Every value equals its wire string."""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "ACTIVE_TASK_STATUSES",
    "ERRORED_TASK_STATUSES",
    "FAILURE_TASK_STATUSES",
    "NOT_RETRIABLE_TASK_STATUSES",
    "TERMINAL_TASK_STATUSES",
    "TERMINAL_WORKFLOW_STATUSES",
    "UNSUCCESSFUL_TASK_STATUSES",
    "RetryLogic",
    "TaskStatus",
    "TaskType",
    "TimeoutPolicy",
    "WorkflowStatus",
]


class TaskType(StrEnum):
    """Task types flowkit knows. Unknown type strings are Conductor's USER_DEFINED."""

    SIMPLE = "SIMPLE"
    DYNAMIC = "DYNAMIC"
    FORK_JOIN = "FORK_JOIN"
    FORK_JOIN_DYNAMIC = "FORK_JOIN_DYNAMIC"
    FORK = "FORK"
    JOIN = "JOIN"
    EXCLUSIVE_JOIN = "EXCLUSIVE_JOIN"
    DECISION = "DECISION"
    SWITCH = "SWITCH"
    DO_WHILE = "DO_WHILE"
    SUB_WORKFLOW = "SUB_WORKFLOW"
    START_WORKFLOW = "START_WORKFLOW"
    SET_VARIABLE = "SET_VARIABLE"
    TERMINATE = "TERMINATE"
    NOOP = "NOOP"
    INLINE = "INLINE"
    LAMBDA = "LAMBDA"
    JSON_JQ_TRANSFORM = "JSON_JQ_TRANSFORM"
    WAIT = "WAIT"
    HUMAN = "HUMAN"
    HTTP = "HTTP"
    EVENT = "EVENT"
    USER_DEFINED = "USER_DEFINED"


class TaskStatus(StrEnum):
    """Status of one task attempt (Conductor ``TaskModel.Status``)."""

    is_terminal: bool
    """True once the attempt can no longer change (a plain attribute: the engine reads it per event)."""

    SCHEDULED = "SCHEDULED"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    COMPLETED_WITH_ERRORS = "COMPLETED_WITH_ERRORS"
    FAILED = "FAILED"
    FAILED_WITH_TERMINAL_ERROR = "FAILED_WITH_TERMINAL_ERROR"
    TIMED_OUT = "TIMED_OUT"
    CANCELED = "CANCELED"
    SKIPPED = "SKIPPED"

    @property
    def is_successful(self) -> bool:
        """Conductor's ``successful`` flag (SCHEDULED and IN_PROGRESS count as successful)."""
        return self not in UNSUCCESSFUL_TASK_STATUSES

    @property
    def is_retriable(self) -> bool:
        """False for CANCELED, FAILED_WITH_TERMINAL_ERROR and SKIPPED."""
        return self not in NOT_RETRIABLE_TASK_STATUSES


TERMINAL_TASK_STATUSES: frozenset[TaskStatus] = frozenset(
    {
        TaskStatus.COMPLETED,
        TaskStatus.COMPLETED_WITH_ERRORS,
        TaskStatus.FAILED,
        TaskStatus.FAILED_WITH_TERMINAL_ERROR,
        TaskStatus.TIMED_OUT,
        TaskStatus.CANCELED,
        TaskStatus.SKIPPED,
    }
)
"""Conductor's ``Status.isTerminal()``: the attempt can no longer change."""

ACTIVE_TASK_STATUSES: frozenset[TaskStatus] = frozenset({TaskStatus.SCHEDULED, TaskStatus.IN_PROGRESS})
"""The attempt is waiting or running (not terminal)."""

UNSUCCESSFUL_TASK_STATUSES: frozenset[TaskStatus] = frozenset(
    {TaskStatus.FAILED, TaskStatus.FAILED_WITH_TERMINAL_ERROR, TaskStatus.TIMED_OUT, TaskStatus.CANCELED}
)
"""Conductor's ``!Status.isSuccessful()``: the tasks a workflow retry starts again, shown as failed in the views."""

ERRORED_TASK_STATUSES: frozenset[TaskStatus] = frozenset(
    {TaskStatus.FAILED, TaskStatus.FAILED_WITH_TERMINAL_ERROR, TaskStatus.TIMED_OUT}
)
"""The attempt itself went wrong (unsuccessful, but not CANCELED from outside)."""

FAILURE_TASK_STATUSES: frozenset[TaskStatus] = UNSUCCESSFUL_TASK_STATUSES | {TaskStatus.COMPLETED_WITH_ERRORS}
"""The unsuccessful statuses and COMPLETED_WITH_ERRORS (an optional task that failed: the workflow went
on, but the task did not do its work): what ``failures_df`` reports."""

NOT_RETRIABLE_TASK_STATUSES: frozenset[TaskStatus] = frozenset(
    {TaskStatus.CANCELED, TaskStatus.FAILED_WITH_TERMINAL_ERROR, TaskStatus.SKIPPED}
)
"""Conductor's ``Status.isRetriable() == false``."""

for _status in TaskStatus:
    _status.is_terminal = _status in TERMINAL_TASK_STATUSES


class WorkflowStatus(StrEnum):
    """Status of a workflow execution (Conductor ``WorkflowModel.Status``)."""

    is_terminal: bool
    """True for COMPLETED, FAILED, TIMED_OUT and TERMINATED."""

    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"
    TERMINATED = "TERMINATED"

    @property
    def is_successful(self) -> bool:
        """Conductor's flag: COMPLETED and (sic) PAUSED are successful."""
        return self in (WorkflowStatus.COMPLETED, WorkflowStatus.PAUSED)


TERMINAL_WORKFLOW_STATUSES: frozenset[WorkflowStatus] = frozenset(
    {WorkflowStatus.COMPLETED, WorkflowStatus.FAILED, WorkflowStatus.TIMED_OUT, WorkflowStatus.TERMINATED}
)
"""Conductor's ``WorkflowModel.Status.isTerminal()``: the execution has ended."""

for _wf_status in WorkflowStatus:
    _wf_status.is_terminal = _wf_status in TERMINAL_WORKFLOW_STATUSES


class RetryLogic(StrEnum):
    """How the delay before a retry grows (Conductor's ``DeciderService.retry``)."""

    FIXED = "FIXED"
    LINEAR_BACKOFF = "LINEAR_BACKOFF"
    EXPONENTIAL_BACKOFF = "EXPONENTIAL_BACKOFF"


class TimeoutPolicy(StrEnum):
    """What a timeout does: retry the task, time the workflow out, or only alert."""

    RETRY = "RETRY"
    TIME_OUT_WF = "TIME_OUT_WF"
    ALERT_ONLY = "ALERT_ONLY"


SYSTEM_TASK_TYPES = frozenset(t.value for t in TaskType) - {"SIMPLE", "USER_DEFINED", "DYNAMIC", "FORK"}
"""Types that run inside flowkit rather than on a worker."""

UNSUPPORTED_TASK_TYPES = {
    "KAFKA_PUBLISH": "it needs a Kafka broker; publish from a SIMPLE worker instead",
    "PULL_WORKFLOW_MESSAGES": "it is an Orkes server feature with no notebook equivalent",
    "BUSINESS_RULE": "it is an Orkes-only task type",
    "JDBC": "it needs a database connection managed by a server; use a SIMPLE worker",
    "GET_SIGNED_JWT": "it is an Orkes-only task type",
    "UPDATE_SECRET": "it is an Orkes-only task type",
    "QUERY_PROCESSOR": "it is an Orkes-only task type",
    "OPS_GENIE": "it is an Orkes-only task type",
    "GET_WORKFLOW": "it is an Orkes-only task type",
    "UPDATE_TASK": "it is an Orkes-only task type",
    "AGENT": "LLM and agent tasks need model services that flowkit does not bundle",
}
"""Conductor types flowkit rejects at validation, with the reason it gives."""


def unsupported_reason(task_type: str) -> str | None:
    """Why ``task_type`` is not supported, or None when it is."""
    if task_type in UNSUPPORTED_TASK_TYPES:
        return UNSUPPORTED_TASK_TYPES[task_type]
    if task_type.startswith("LLM_") or "_MCP_" in task_type or task_type.endswith("_MCP"):
        return UNSUPPORTED_TASK_TYPES["AGENT"]
    return None
