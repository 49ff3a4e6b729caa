"""Workers: ``@worker_task`` binding, results, failures, logs and long-running tasks, run through
``flowkit.run`` with both executors (the Conductor Python SDK's worker call, worker/worker.py)."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import pytest

import flowkit
from flowkit import NonRetryableError, Task, TaskDef, TaskResult, WorkerError, WorkflowDef
from flowkit.testing import VirtualClock
from flowkit.workers import Worker
from flowkit.workers._capture import installed

EXECUTORS = ["inline", "threads"]


def one(name: str, inputs: dict[str, Any] | None = None) -> WorkflowDef:
    return WorkflowDef.from_json(
        {"name": "w", "tasks": [{"name": name, "taskReferenceName": "x", "inputParameters": inputs or {}}]}
    )


def run(
    name: str,
    fn_or_worker: Any,
    inputs: dict[str, Any] | None = None,
    *,
    executor: str = "inline",
    workflow_input: dict[str, Any] | None = None,
    retry_count: int = 0,
    **kwargs: Any,
) -> Any:
    worker = (
        fn_or_worker
        if isinstance(fn_or_worker, Worker)
        else flowkit.worker_task(task_definition_name=name)(fn_or_worker)
    )
    return flowkit.run(
        one(name, inputs),
        workflow_input or {},
        workers=[worker],
        executor=executor,
        clock=VirtualClock(),
        task_defs=[TaskDef(name=name, retry_count=retry_count, retry_delay_seconds=1)],
        **kwargs,
    )


@dataclasses.dataclass
class Point:
    x: int
    y: int


@dataclasses.dataclass
class Box:
    corner: Point
    label: str = "box"


# ---------------------------------------------------------------------------------------------- binding
@pytest.mark.parametrize("executor", EXECUTORS)
def test_parameters_are_bound_by_name_from_the_resolved_input(executor: str) -> None:
    def add(a: int, b: int) -> dict:
        return {"sum": a + b}

    result = run("add", add, {"a": "${workflow.input.a}", "b": 5}, workflow_input={"a": 2}, executor=executor)
    assert result.status == "COMPLETED"
    assert result.output == {"sum": 7}
    assert result.task("x").output == {"sum": 7}


def test_defaults_and_missing_parameters() -> None:
    seen = {}

    def fn(
        given: str, defaulted: str = "dflt", missing: Any = "unused-default", absent=None, nothing: Any = ...
    ) -> dict:
        seen.update(given=given, defaulted=defaulted, missing=missing, absent=absent)
        return {}

    run("fn", fn, {"given": "g", "missing": None})
    assert seen == {"given": "g", "defaulted": "dflt", "missing": None, "absent": None}

    def required(a, b):  # noqa: ANN001 - no annotations on purpose (two params: bound by name, not a Task)
        return {"a": a, "b": b}

    # a deliberate difference from the Conductor Python SDK, which passes None for b (README)
    failed = run("required", required, {"a": 1})
    assert (failed.status, failed.task("x").status) == ("FAILED", "FAILED_WITH_TERMINAL_ERROR")
    assert "parameter 'b' (no default) is not in the task input; the input has 'a'." in failed.task("x").reason

    def nullable(a: int, b: int | None, c: Any) -> dict:  # annotations that admit None accept a null input
        return {"b": b, "c": c}

    assert run("nullable", nullable, {"a": 1, "b": None, "c": None}).output == {"b": None, "c": None}


# -------------------------------------------------- a missing or misspelt input fails, never "Hello None"
def greet(name: str) -> dict:
    return {"greeting": f"Hello {name}"}


GREET = {
    "name": "hello",
    "tasks": [
        {
            "name": "greet",
            "taskReferenceName": "greet_ref",
            "type": "SIMPLE",
            "inputParameters": {"name": "${workflow.input.name}", "lang": "en"},
        }
    ],
}


@pytest.mark.parametrize("executor", EXECUTORS)
def test_a_misspelt_input_fails_the_task_naming_the_parameter_and_the_closest_name(executor: str) -> None:
    wf = {
        **GREET,
        "tasks": [{**GREET["tasks"][0], "inputParameters": {"nmae": "${workflow.input.name}", "lang": "en"}}],
    }
    ex = flowkit.run(wf, {"name": "Ada"}, workers={"greet": greet}, executor=executor, clock=VirtualClock())
    task = ex.task("greet_ref")
    assert (ex.status, task.status, task.retry_count, len(ex.tasks)) == ("FAILED", "FAILED_WITH_TERMINAL_ERROR", 0, 1)
    assert task.reason.startswith(
        "worker 'greet' of task 'greet_ref': parameter 'name' (no default) is not in the task input; the input has "
        "'nmae', 'lang'. Closest name: 'nmae' (a misspelling?). Fix: set 'name' in the task's inputParameters"
    ), task.reason
    assert "Hello" not in str(ex.output) and task.output == {}
    assert "Traceback" not in task.reason and task.error is None  # the function never ran


def test_a_workflow_input_not_given_fails_the_task_instead_of_passing_none() -> None:
    ex = flowkit.run(GREET, {"nmae": "Ada"}, workers={"greet": greet}, clock=VirtualClock())
    task = ex.task("greet_ref")
    assert (ex.status, task.status) == ("FAILED", "FAILED_WITH_TERMINAL_ERROR")
    assert (
        "parameter 'name' (no default) is null in the task input (a ${...} that finds nothing, such as a "
        "workflow input not given, is null); its other names: 'lang'." in task.reason
    ), task.reason
    assert ex.reason and "greet_ref" in ex.reason
    ok = flowkit.run(GREET, {"name": "Ada"}, workers={"greet": greet}, clock=VirtualClock())
    assert (ok.status, ok.output) == ("COMPLETED", {"greeting": "Hello Ada"})


def test_task_style_workers_are_not_bound_and_see_the_input_as_is() -> None:
    def sdk_style(task):  # noqa: ANN001 - the Conductor SDK style: one unannotated parameter named task
        return {"name": task.input_data.get("name")}

    ex = flowkit.run(GREET, {}, workers={"greet": sdk_style}, clock=VirtualClock())
    assert (ex.status, ex.output) == ("COMPLETED", {"name": None})


def test_var_keyword_receives_the_whole_input() -> None:
    def fn(a: int, **rest: Any) -> dict:
        return {"a": a, "rest": rest}

    assert run("kw", fn, {"a": 1, "b": 2, "c": [3]}).output == {"a": 1, "rest": {"b": 2, "c": [3]}}


def test_dataclass_parameters_are_built_from_dicts() -> None:
    def area(p: Point, label: str) -> dict:
        assert isinstance(p, Point)
        return {"area": p.x * p.y, "label": label}

    assert run("area", area, {"p": {"x": 3, "y": 4}, "label": "l"}).output == {"area": 12, "label": "l"}


def test_dataclass_return_value_becomes_the_output() -> None:
    def make() -> Box:
        return Box(corner=Point(x=1, y=2))

    assert run("make", make).output == {"corner": {"x": 1, "y": 2}, "label": "box"}


@pytest.mark.parametrize(
    ("value", "output"),
    [
        (42, {"result": 42}),
        ("s", {"result": "s"}),
        ([1, 2], {"result": [1, 2]}),
        (True, {"result": True}),
        (1.5, {"result": 1.5}),
        (None, {}),
        ({"k": None}, {"k": None}),
    ],
)
def test_non_dict_return_values_are_wrapped_in_result(value: Any, output: dict) -> None:
    assert run("v", lambda: value).output == output


def test_workers_given_as_a_mapping_of_functions() -> None:
    def double(n: int) -> int:
        return n * 2

    result = flowkit.run(one("double", {"n": 21}), {}, workers={"double": double}, executor="inline")
    assert result.output == {"result": 42}


def test_a_worker_is_still_callable_as_a_function() -> None:
    @flowkit.worker_task(task_definition_name="greet")
    def greet(name: str) -> dict:
        return {"greeting": f"Hello {name}"}

    assert greet("Ada") == {"greeting": "Hello Ada"}
    assert greet.name == "greet"


# ---------------------------------------------------------------------------------------------- SDK-style Task
@pytest.mark.parametrize("annotated", [False, True])
def test_a_single_task_parameter_receives_the_task(annotated: bool) -> None:
    seen: list[Any] = []

    if annotated:

        def fn(task: Task) -> dict:
            seen.append(task)
            return {"got": task.input_data["k"]}
    else:

        def fn(task):  # noqa: ANN001, ANN202
            seen.append(task)
            return {"got": task.input_data["k"]}

    result = run("sdk", fn, {"k": "v"}, correlation_id="corr")
    assert result.output == {"got": "v"}
    [task] = seen
    assert isinstance(task, Task)
    assert task.task_id == result.task("x").task_id
    assert task.reference_task_name == "x"
    assert task.task_def_name == "sdk"
    assert task.workflow_instance_id == result.workflow_id
    assert task.retry_count == 0
    assert task.poll_count == 1
    assert task.correlation_id == "corr"


def test_a_single_annotated_non_task_parameter_is_bound_by_name() -> None:
    def fn(n: int) -> dict:
        return {"n": n}

    assert run("single", fn, {"n": 3}).output == {"n": 3}


# ---------------------------------------------------------------------------------------------- failures
@pytest.mark.parametrize("executor", EXECUTORS)
def test_non_retryable_error_is_a_terminal_failure(executor: str) -> None:
    def fn() -> dict:
        raise NonRetryableError("the record is gone")

    result = run("nr", fn, retry_count=3, executor=executor)
    assert result.status == "FAILED"
    assert [(t.status, t.reason) for t in result.tasks] == [("FAILED_WITH_TERMINAL_ERROR", "the record is gone")]


@pytest.mark.parametrize("executor", EXECUTORS)
def test_an_exception_fails_the_task_with_its_message_and_traceback(executor: str) -> None:
    def fn(n: int) -> dict:
        raise ValueError(f"bad value {n}")

    result = run("ex", fn, {"n": 7}, retry_count=1, executor=executor)
    assert result.status == "FAILED"
    assert [(t.status, t.reason) for t in result.tasks] == [("FAILED", "bad value 7"), ("FAILED", "bad value 7")]
    error = result.tasks[0].error
    assert error["type"] == "builtins.ValueError"
    assert error["message"] == "bad value 7"
    assert "Traceback (most recent call last)" in error["traceback"]
    assert 'raise ValueError(f"bad value {n}")' in error["traceback"]
    assert result.reason == f"Task {result.tasks[1].task_id} failed with status: FAILED and reason: 'bad value 7'"


def test_exception_without_a_string_message_uses_its_type_name() -> None:
    def fn() -> dict:
        raise KeyError(3)

    assert run("ke", fn).tasks[0].reason == "3"

    def fn2() -> dict:
        raise RuntimeError

    assert run("re", fn2).tasks[0].reason == "RuntimeError"


class Opaque:
    pass


@pytest.mark.parametrize(
    ("value", "named"),
    [
        ({"s": {1, 2}}, "builtins.set"),
        ({"o": Opaque()}, "Opaque"),
        ({"n": {"deep": [b"x"]}}, "builtins.bytes"),
        (Opaque(), "Opaque"),
        ({1: "non-string key"}, "non-string key"),
    ],
)
def test_non_json_output_is_a_terminal_failure_naming_the_type(value: Any, named: str) -> None:
    result = run("nj", lambda: value, retry_count=2)
    assert result.status == "FAILED"
    [task] = result.tasks
    assert task.status == "FAILED_WITH_TERMINAL_ERROR"
    assert named in task.reason
    assert task.output == {}


# ---------------------------------------------------------------------------------------------- logs
@pytest.mark.parametrize("executor", EXECUTORS)
def test_print_and_logging_are_captured_per_attempt(executor: str, capsys: pytest.CaptureFixture[str]) -> None:
    log = logging.getLogger("flowkit.tests.worker")
    log.setLevel(logging.INFO)
    attempts = []

    def fn() -> dict:
        attempts.append(1)
        print(f"attempt {len(attempts)}")
        log.warning("careful %s", len(attempts))
        if len(attempts) == 1:
            raise RuntimeError("first fails")
        return {}

    result = run("logs", fn, retry_count=1, executor=executor)
    assert result.status == "COMPLETED"
    first, second = result.tasks
    assert first.logs[0] == "attempt 1"
    assert "WARNING flowkit.tests.worker: careful 1" in first.logs
    assert second.logs[0] == "attempt 2"
    assert "WARNING flowkit.tests.worker: careful 2" in second.logs
    assert not any("attempt 1" in line for line in second.logs)
    assert "attempt" not in capsys.readouterr().out  # captured, not printed to the notebook


def test_task_result_logs_are_kept() -> None:
    def fn() -> TaskResult:
        result = TaskResult(output_data={"a": 1})
        result.log("from the result")
        return result

    out = run("tr", fn)
    assert out.output == {"a": 1}
    assert out.tasks[0].logs == ["from the result"]


# ---------------------------------------------------------------------------------------------- TaskResult
@pytest.mark.parametrize("executor", EXECUTORS)
def test_in_progress_with_callback_requeues_the_task(executor: str) -> None:
    calls: list[int] = []

    def poller(task: Task) -> TaskResult:
        calls.append(task.poll_count)
        if len(calls) < 3:
            return TaskResult(status="IN_PROGRESS", callback_after_seconds=30, output_data={"progress": len(calls)})
        return TaskResult(status="COMPLETED", output_data={"done": True, "polls": task.poll_count})

    clock = VirtualClock()
    t0 = clock.now_ms()
    worker = flowkit.worker_task(task_definition_name="poller")(poller)
    result = flowkit.run(one("poller"), {}, workers=[worker], executor=executor, clock=clock)
    assert result.status == "COMPLETED"
    assert calls == [1, 2, 3]
    [task] = result.tasks  # the same attempt, re-queued: not a retry
    assert task.output == {"done": True, "polls": 3}
    assert task.poll_count == 3
    assert task.start_time == t0  # set by the first poll only
    assert task.end_time - t0 == 60_000


def test_task_result_failure_statuses() -> None:
    result = run("f", lambda: TaskResult(status="FAILED", reason_for_incompletion="nope", output_data={"e": 1}))
    assert [(t.status, t.reason, t.output) for t in result.tasks] == [("FAILED", "nope", {"e": 1})]
    result = run(
        "t", lambda: TaskResult(status="FAILED_WITH_TERMINAL_ERROR", reason_for_incompletion="fatal"), retry_count=3
    )
    assert [(t.status, t.reason) for t in result.tasks] == [("FAILED_WITH_TERMINAL_ERROR", "fatal")]


def test_worker_error_for_objects_that_are_not_workers() -> None:
    with pytest.raises(WorkerError) as info:
        flowkit.run(one("x"), {}, workers=[lambda: {}], executor="inline")
    assert "worker_task" in str(info.value)


@pytest.mark.parametrize("executor", EXECUTORS)
def test_a_worker_subclass_that_overrides_execute_is_what_runs(executor: str) -> None:
    class Shouting(Worker):
        def execute(self, task: Task) -> flowkit.workers.Outcome:
            outcome = super().execute(task)
            return flowkit.workers.Outcome("COMPLETED", {k: str(v).upper() for k, v in (outcome.output or {}).items()})

    worker = Shouting(lambda name: {"hello": name}, "shout")
    result = run("shout", worker, {"name": "${workflow.input.name}"}, executor=executor, workflow_input={"name": "ada"})
    assert result.status == "COMPLETED"
    assert result.output == {"hello": "ADA"}


def test_result_is_the_output_for_a_plain_completion_and_execute_always_an_outcome() -> None:
    plain = Worker(lambda x: {"y": x}, "plain")
    chatty = Worker(lambda x: print("hi") or {"y": x}, "chatty")
    task = Task(input_data={"x": 1}, reference_task_name="t")
    assert plain.result(task) == {"y": 1}
    outcome = plain.execute(task)
    assert (outcome.status, outcome.output, outcome.logs) == ("COMPLETED", {"y": 1}, None)
    with installed():  # as during a run: print() goes to the task's logs
        with_logs = chatty.result(task)  # captured lines need the Outcome that carries them
    assert isinstance(with_logs, flowkit.workers.Outcome)
    assert (with_logs.output, with_logs.logs) == ({"y": 1}, ["hi"])


@pytest.mark.parametrize(
    ("given", "said"),
    [(dict, "cannot read the parameters"), (5, "cannot be called"), (None, "cannot be called")],
)
def test_a_worker_flowkit_cannot_call_by_name_is_a_worker_error_naming_the_task(given: Any, said: str) -> None:
    wf = {"name": "odd_worker", "tasks": [{"name": "look", "taskReferenceName": "look"}]}
    with pytest.raises(WorkerError) as info:
        flowkit.run(wf, {}, workers={"look": given}, store="memory")
    assert said in str(info.value) and "'look'" in str(info.value) and "Fix:" in str(info.value)
    assert info.value.task_def_name == "look"
