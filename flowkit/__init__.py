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
    from flowkit.definitions._builder import (
        DecisionTask,
        DoWhileTask,
        DynamicForkTask,
        DynamicTask,
        EventTask,
        ExclusiveJoinTask,
        ForkTask,
        HttpTask,
        HumanTask,
        InlineTask,
        JoinTask,
        JsonJQTask,
        LambdaTask,
        LoopTask,
        NoopTask,
        SetVariableTask,
        SimpleTask,
        StartWorkflowTask,
        SubWorkflowTask,
        SwitchTask,
        TerminateTask,
        WaitTask,
        WorkflowBuilder,
    )
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
    # the builder's task helpers (Conductor SDK names): flowkit.SwitchTask(...), flowkit.ForkTask(...)
    "DecisionTask": "flowkit.definitions._builder",
    "DoWhileTask": "flowkit.definitions._builder",
    "DynamicForkTask": "flowkit.definitions._builder",
    "DynamicTask": "flowkit.definitions._builder",
    "EventTask": "flowkit.definitions._builder",
    "ExclusiveJoinTask": "flowkit.definitions._builder",
    "ForkTask": "flowkit.definitions._builder",
    "HttpTask": "flowkit.definitions._builder",
    "HumanTask": "flowkit.definitions._builder",
    "InlineTask": "flowkit.definitions._builder",
    "JoinTask": "flowkit.definitions._builder",
    "JsonJQTask": "flowkit.definitions._builder",
    "LambdaTask": "flowkit.definitions._builder",
    "LoopTask": "flowkit.definitions._builder",
    "NoopTask": "flowkit.definitions._builder",
    "SetVariableTask": "flowkit.definitions._builder",
    "SimpleTask": "flowkit.definitions._builder",
    "StartWorkflowTask": "flowkit.definitions._builder",
    "SubWorkflowTask": "flowkit.definitions._builder",
    "SwitchTask": "flowkit.definitions._builder",
    "TerminateTask": "flowkit.definitions._builder",
    "WaitTask": "flowkit.definitions._builder",
    "EventBus": "flowkit._events",
    "Event": "flowkit._events",
    "connect": "flowkit.client",
}

__all__ = [
    "DecisionTask",
    "DefinitionError",
    "DefinitionIssue",
    "DoWhileTask",
    "DynamicForkTask",
    "DynamicTask",
    "Event",
    "EventBus",
    "EventTask",
    "ExclusiveJoinTask",
    "Execution",
    "ExpressionError",
    "FlowkitError",
    "ForkTask",
    "HttpTask",
    "HumanTask",
    "InlineTask",
    "InputError",
    "Interrupted",
    "JoinTask",
    "JsonJQTask",
    "LambdaTask",
    "LoopTask",
    "MissingWorkerError",
    "NonRetryableError",
    "NoopTask",
    "NotFoundError",
    "OperationNotAllowedError",
    "RetryLogic",
    "RunOptions",
    "Runtime",
    "ScriptError",
    "ScriptMemoryError",
    "ScriptTimeoutError",
    "SetVariableTask",
    "SimpleTask",
    "StartWorkflowTask",
    "StoreError",
    "SubWorkflowParam",
    "SubWorkflowTask",
    "SwitchTask",
    "Task",
    "TaskDef",
    "TaskResult",
    "TaskStatus",
    "TaskType",
    "TerminateTask",
    "TimeoutPolicy",
    "WaitTask",
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
