"""Workers, workflows and waiting helpers shared by the notebook-layer tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import flowkit
from flowkit.definitions._builder import HumanTask, LoopTask


@flowkit.worker_task(task_definition_name="prepare")
def prepare(order: str) -> dict:
    print(f"preparing {order}")
    return {"order": order, "items": 3}


@flowkit.worker_task(task_definition_name="ship")
def ship(order: str, approved_by: str = "nobody") -> dict:
    return {"shipped": order, "approved_by": approved_by}


@flowkit.worker_task(task_definition_name="tick")
def tick(i: int = 0) -> dict:
    return {"i": i}


WORKERS = [prepare, ship]


def human_workflow() -> flowkit.WorkflowBuilder:
    """prepare -> HUMAN approve -> ship (ship uses the HUMAN task's output)."""
    wf = flowkit.WorkflowBuilder("approval")
    wf >> prepare(task_ref_name="prepare", order=wf.input("order"))
    wf >> HumanTask("approve")
    wf >> ship(task_ref_name="ship", order="${prepare.output.order}", approved_by="${approve.output.approved_by}")
    return wf


def loop_workflow(n: int) -> flowkit.WorkflowBuilder:
    """One DO_WHILE running the ``tick`` worker ``n`` times: n + 1 task attempts."""
    wf = flowkit.WorkflowBuilder("many")
    wf >> LoopTask("loop", n, [tick(task_ref_name="t", i=1)])
    return wf


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll ``predicate`` until it is truthy (returns its value) or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)
