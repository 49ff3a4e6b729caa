"""flowkit: Conductor workflows in your notebook, no server.

Run Conductor's JSON workflow definitions (or workflows built in Python) in-process, with
Conductor's statuses, retries, timeouts and execution JSON.

    >>> import flowkit
    >>> @flowkit.worker_task(task_definition_name="greet")
    ... def greet(name: str) -> dict:
    ...     return {"greeting": f"Hello {name}"}
    >>> wf = flowkit.WorkflowBuilder("hello") >> greet(task_ref_name="greet_ref", name="${workflow.input.name}")
    >>> flowkit.run(wf, {"name": "Ada"}, workers=[greet]).output
    {'greeting': 'Hello Ada'}

Heavy modules (pandas, ipywidgets, graphviz, boto3, V8) are imported only when used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flowkit._lazy import lazy_attributes
from flowkit.definitions import (
    RetryLogic,
    SubWorkflowParam,
    TaskDef,
    TaskStatus,
    TaskType,
    TimeoutPolicy,
    WorkflowDef,
    WorkflowStatus,
    WorkflowTask,
)
from flowkit.errors import (
    DefinitionError,
    DefinitionIssue,
    ExpressionError,
    FlowkitError,
    InputError,
    MissingWorkerError,
    NonRetryableError,
    NotFoundError,
    OperationNotAllowedError,
    ScriptError,
    ScriptMemoryError,
    ScriptTimeoutError,
    StoreError,
    WorkerError,
)
from flowkit.workers import Task, TaskResult, Worker, worker_task

if TYPE_CHECKING:
    from flowkit._events import Event, EventBus
    from flowkit.client import connect
    from flowkit.definitions._builder import WorkflowBuilder
    from flowkit.runtime import Execution, Interrupted, RunOptions, Runtime, open, run, start

__version__ = "0.1.0"

_LAZY = {
    "run": "flowkit.runtime",
    "start": "flowkit.runtime",
    "open": "flowkit.runtime",
    "Runtime": "flowkit.runtime",
    "RunOptions": "flowkit.runtime",
    "Execution": "flowkit.runtime",
    "Interrupted": "flowkit.runtime",
    "WorkflowBuilder": "flowkit.definitions._builder",
    "EventBus": "flowkit._events",
    "Event": "flowkit._events",
    "connect": "flowkit.client",
}

__all__ = [
    "DefinitionError",
    "DefinitionIssue",
    "Event",
    "EventBus",
    "Execution",
    "ExpressionError",
    "FlowkitError",
    "InputError",
    "Interrupted",
    "MissingWorkerError",
    "NonRetryableError",
    "NotFoundError",
    "OperationNotAllowedError",
    "RetryLogic",
    "RunOptions",
    "Runtime",
    "ScriptError",
    "ScriptMemoryError",
    "ScriptTimeoutError",
    "StoreError",
    "SubWorkflowParam",
    "Task",
    "TaskDef",
    "TaskResult",
    "TaskStatus",
    "TaskType",
    "TimeoutPolicy",
    "Worker",
    "WorkerError",
    "WorkflowBuilder",
    "WorkflowDef",
    "WorkflowStatus",
    "WorkflowTask",
    "__version__",
    "connect",
    "open",
    "run",
    "start",
    "worker_task",
]


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals())
