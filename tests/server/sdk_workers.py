"""Conductor Python SDK workers, run by TaskHandler in their own processes (tests/server).

No `from __future__ import annotations`: the SDK reads the parameter types at run time.
"""

import os
import time
from pathlib import Path
from typing import Any

from conductor.client.http.models import Task
from conductor.client.worker.worker_task import worker_task

RUNS = Path(os.environ["FLOWKIT_TEST_RUNS"])  # one line per call, read by the tests


@worker_task(task_definition_name="sdk_greet", poll_interval_millis=20)
def greet(name: str) -> dict[str, Any]:
    with (RUNS / "greet").open("a") as f:
        f.write(name + "\n")
    return {"greeting": f"Hello, {name}"}


@worker_task(task_definition_name="sdk_shout", poll_interval_millis=20)
def shout(text: str) -> dict[str, Any]:
    return {"text": text.upper() + "!"}


@worker_task(task_definition_name="sdk_flaky", poll_interval_millis=20)
def flaky(task: Task) -> dict[str, Any]:
    if task.retry_count == 0:
        raise RuntimeError("first attempt fails")
    return {"attempt": task.retry_count}


@worker_task(task_definition_name="sdk_step", poll_interval_millis=20)
def step(task: Task) -> dict[str, Any]:
    with (RUNS / "step").open("a") as f:  # before the work: a run the server never heard of counts too
        f.write(task.task_id + "\n")
    time.sleep(0.05)
    return {"n": task.input_data["n"] + 1}
