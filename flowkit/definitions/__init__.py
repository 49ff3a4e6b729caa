"""Definitions: frozen WorkflowDef / WorkflowTask / TaskDef values, Conductor JSON, validation."""

from flowkit.definitions._model import SubWorkflowParam, TaskDef, WorkflowDef, WorkflowTask
from flowkit.definitions._types import RetryLogic, TaskStatus, TaskType, TimeoutPolicy, WorkflowStatus

__all__ = [
    "RetryLogic",
    "SubWorkflowParam",
    "TaskDef",
    "TaskStatus",
    "TaskType",
    "TimeoutPolicy",
    "WorkflowDef",
    "WorkflowStatus",
    "WorkflowTask",
]
