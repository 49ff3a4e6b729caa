"""The pure engine: events in, new state and commands out. No IO, clock, threads or ids of its own."""

from flowkit.engine._commands import Command, Dispatch, DispatchAll, Ended, Publish
from flowkit.engine._engine import Engine, retry_delay_ms
from flowkit.engine._registry import Registry
from flowkit.engine._state import TaskModel, WorkflowModel
from flowkit.expressions._java import truthy

__all__ = [
    "Command",
    "Dispatch",
    "DispatchAll",
    "Ended",
    "Engine",
    "Publish",
    "Registry",
    "TaskModel",
    "WorkflowModel",
    "retry_delay_ms",
    "truthy",
]
