"""How each task type runs once mapped (Conductor's task mappers and ``core/execution/tasks/*.java``).

One module per family, as the Conductor SDK's ``workflow/task/``: ``simple`` (SIMPLE, DYNAMIC, HTTP),
``switch`` (SWITCH, DECISION), ``fork`` (FORK_JOIN, FORK_JOIN_DYNAMIC, JOIN, EXCLUSIVE_JOIN), ``loop``
(DO_WHILE), ``sub_workflow`` (SUB_WORKFLOW, START_WORKFLOW), ``scripts`` (INLINE, LAMBDA,
JSON_JQ_TRANSFORM), ``waits`` (WAIT, HUMAN), ``events`` (EVENT) and ``system`` (NOOP, SET_VARIABLE,
TERMINATE). This module holds the registry ``HANDLERS`` the engine dispatches on and the timers task
types own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flowkit.definitions._types import TaskStatus
from flowkit.engine._tasks.events import event
from flowkit.engine._tasks.fork import (
    exclusive_join,
    fork_join,
    fork_join_dynamic,
    join,
    notify_waiter,
    prepare_dynamic_fork,
)
from flowkit.engine._tasks.loop import do_while
from flowkit.engine._tasks.scripts import inline, jq_transform, lambda_
from flowkit.engine._tasks.simple import http, prepare_dynamic, simple
from flowkit.engine._tasks.sub_workflow import child_ended, start_workflow, sub_workflow
from flowkit.engine._tasks.switch import switch
from flowkit.engine._tasks.system import noop, set_variable, terminate
from flowkit.engine._tasks.waits import human, wait
from flowkit.engine._timers import arm_timeout

if TYPE_CHECKING:
    from flowkit.engine._engine import Engine
    from flowkit.engine._state import TaskModel, WorkflowModel

__all__ = ["HANDLERS", "PREPARERS", "child_ended", "fire", "notify_waiter"]

S = TaskStatus
Handler = Callable[["Engine", "WorkflowModel", "TaskModel", int, Any], None]


def fire(engine: Engine, kind: str, task: TaskModel, now: int) -> None:
    """Timers owned by task types: a WAIT that is due, a delayed retry of a system task."""
    if kind == "wait":
        if task.status is S.IN_PROGRESS:
            engine.finish(task, S.COMPLETED, now)
    elif kind == "start":
        task.input = engine.resolve_input(task.workflow, task.node, task.task_id)
        HANDLERS[task.node.kind](engine, task.workflow, task, now, None)
        arm_timeout(engine, task)


HANDLERS: dict[str, Handler] = {
    "SIMPLE": simple,
    "DYNAMIC": simple,
    "SWITCH": switch,
    "DECISION": switch,
    "FORK_JOIN": fork_join,
    "FORK_JOIN_DYNAMIC": fork_join_dynamic,
    "JOIN": join,
    "EXCLUSIVE_JOIN": exclusive_join,
    "DO_WHILE": do_while,
    "SUB_WORKFLOW": sub_workflow,
    "START_WORKFLOW": start_workflow,
    "SET_VARIABLE": set_variable,
    "TERMINATE": terminate,
    "NOOP": noop,
    "INLINE": inline,
    "LAMBDA": lambda_,
    "JSON_JQ_TRANSFORM": jq_transform,
    "WAIT": wait,
    "HUMAN": human,
    "EVENT": event,
    "HTTP": http,
}
PREPARERS: dict[str, Callable[..., Any]] = {"DYNAMIC": prepare_dynamic, "FORK_JOIN_DYNAMIC": prepare_dynamic_fork}
