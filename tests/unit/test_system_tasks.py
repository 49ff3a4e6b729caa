"""WAIT, HUMAN, HTTP (against a real server on 127.0.0.1), EVENT, START_WORKFLOW, SET_VARIABLE, CLI."""

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import flowkit
from flowkit.testing import VirtualClock

ROOT = Path(__file__).resolve().parents[2]


def wf(*tasks, **extra):
    return {"name": "t", "tasks": list(tasks), **extra}


def test_wait_duration_passes_in_virtual_time_and_records_exact_times():
    clock = VirtualClock()
    start = clock.now_ms()
    ex = flowkit.run(
        wf({"name": "w", "taskReferenceName": "w", "type": "WAIT", "inputParameters": {"duration": "2h 30m"}}),
        clock=clock,
    )
    assert ex.status == "COMPLETED"
    task = ex.task("w")
    assert task.start_time == start
    assert task.end_time - task.start_time == (2 * 3600 + 30 * 60) * 1000


def test_wait_with_both_duration_and_until_fails_terminally():
    definition = wf(
        {
            "name": "w",
            "taskReferenceName": "w",
            "type": "WAIT",
            "inputParameters": {"duration": "${workflow.input.d}", "until": "${workflow.input.u}"},
        }
    )
    with pytest.raises(flowkit.DefinitionError, match="both 'duration' and 'until'"):
        flowkit.run(definition, {"d": "1s", "u": "2030-01-01 10:00"}, clock=VirtualClock())
    ex = flowkit.run(definition, {"d": "1s", "u": "2030-01-01 10:00"}, clock=VirtualClock(), validate=False)
    assert ex.status == "FAILED"
    assert ex.task("w").status == "FAILED_WITH_TERMINAL_ERROR"


def test_human_task_waits_for_outside_completion_then_the_run_goes_on():
    @flowkit.worker_task(task_definition_name="after")
    def after(approved: bool) -> dict:
        return {"done": approved}

    definition = wf(
        {"name": "approve", "taskReferenceName": "approve", "type": "HUMAN"},
        {"name": "after", "taskReferenceName": "after", "inputParameters": {"approved": "${approve.output.approved}"}},
    )
    ex = flowkit.run(definition, workers=[after], executor="inline")
    assert ex.status == "RUNNING"
    assert ex.task("approve").status == "IN_PROGRESS"
    ex.complete_task("approve", {"approved": True})
    assert ex.status == "COMPLETED"
    assert ex.output == {"done": True}
    with pytest.raises(flowkit.OperationNotAllowedError):
        ex.complete_task("approve", {})


def test_human_task_failed_from_outside_fails_the_workflow_with_the_reason():
    ex = flowkit.run(wf({"name": "approve", "taskReferenceName": "approve", "type": "HUMAN"}))
    ex.fail_task("approve", "rejected by reviewer")
    assert ex.status == "FAILED"
    assert "rejected by reviewer" in ex.reason


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        code = 200 if body.get("ok") else 503
        payload = json.dumps({"echo": body, "path": self.path}).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture()
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()


def _http(url, ok):
    return wf(
        {
            "name": "call",
            "taskReferenceName": "call",
            "type": "HTTP",
            "inputParameters": {"http_request": {"uri": url + "/orders", "method": "POST", "body": {"ok": ok, "n": 1}}},
        }
    )


def test_http_task_against_a_local_server(server):
    ex = flowkit.run(_http(server, True))
    assert ex.status == "COMPLETED"
    response = ex.task("call").output["response"]
    assert response["statusCode"] == 200
    assert response["body"] == {"echo": {"ok": True, "n": 1}, "path": "/orders"}
    assert response["reasonPhrase"] == "OK"
    assert response["headers"]["Content-Type"] == ["application/json"]  # Conductor: a list per header


def test_http_non_2xx_fails_the_task_with_the_body_as_reason(server):
    ex = flowkit.run(_http(server, False))
    assert ex.status == "FAILED"
    task = ex.task("call")
    assert task.status == "FAILED"
    assert task.output["response"]["statusCode"] == 503
    assert '"ok": false' in task.reason


def test_http_unreachable_endpoint_fails_cleanly():
    ex = flowkit.run(_http("http://127.0.0.1:9", True))
    assert ex.status == "FAILED"
    assert ex.task("call").reason.startswith("Failed to invoke HTTP task due to: ")
    assert ex.task("call").output["response"] in ex.task("call").reason


def test_set_variable_and_limit():
    ok = flowkit.run(wf({"name": "sv", "taskReferenceName": "sv", "type": "SET_VARIABLE", "inputParameters": {"a": 1}}))
    assert ok.variables == {"a": 1}
    big = flowkit.run(
        wf({"name": "sv", "taskReferenceName": "sv", "type": "SET_VARIABLE", "inputParameters": {"a": "x" * 300_000}})
    )
    assert big.status == "FAILED"
    assert big.variables == {}
    assert "greater than the permissible limit: 256 kilobytes" in big.task("sv").reason


def test_start_workflow_is_fire_and_forget():
    child = {"name": "child", "tasks": [{"name": "n", "taskReferenceName": "n", "type": "NOOP"}]}
    definition = wf(
        {
            "name": "sw",
            "taskReferenceName": "sw",
            "type": "START_WORKFLOW",
            "inputParameters": {"startWorkflow": {"name": "child", "input": {"k": 1}}},
        }
    )
    ex = flowkit.run(definition, workflows=[child])
    started = ex.execution(ex.task("sw").output["workflowId"])
    assert started.status == "COMPLETED"
    assert started.input == {"k": 1}
    assert started.model.parent_workflow_id is None


def test_event_task_output_names_the_queue():
    ex = flowkit.run(
        wf({"name": "e", "taskReferenceName": "e", "type": "EVENT", "sink": "conductor", "inputParameters": {"x": 1}})
    )
    assert ex.task("e").output["event_produced"] == "conductor:t:e"
    assert ex.task("e").output["x"] == 1


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "flowkit", *args], capture_output=True, text=True, cwd=ROOT)


def test_cli_runs_the_example_and_exits_by_status():
    done = _cli(
        "run",
        "examples/orders/workflow.json",
        "--input",
        '{"items": ["book"], "card": "4111", "address": "x"}',
        "--workers",
        "examples/orders/workers.py",
        "--defs",
        "examples/orders",
        "--virtual-clock",
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "COMPLETED"
    assert [t["status"] for t in result["tasks"] if t["referenceTaskName"] == "charge"] == [
        "FAILED",
        "FAILED",
        "COMPLETED",
    ]
    stopped = _cli(
        "run",
        "examples/orders/workflow.json",
        "--input",
        '{"items": ["unicorn"], "card": "4111", "address": "x"}',
        "--workers",
        "examples/orders/workers.py",
        "--defs",
        "examples/orders",
        "--virtual-clock",
    )
    assert stopped.returncode == 1
    assert json.loads(stopped.stdout)["reasonForIncompletion"] == "out of stock"


def test_cli_bad_input_exits_2_without_traceback(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": "x", "tasks": [ {"name": "a", } ]}')
    for args in (
        ("run", str(bad)),
        ("run", "examples/orders/workflow.json", "--input", "[1]"),
        ("validate", str(tmp_path / "missing.json")),
    ):
        done = _cli(*args)
        assert done.returncode in (1, 2)
        assert "Traceback" not in done.stderr + done.stdout
    assert _cli("run", str(bad)).returncode == 2


def test_javascript_syntax_errors_are_reported_at_validation_with_the_task_ref():
    definition = wf(
        {
            "name": "i",
            "taskReferenceName": "calc",
            "type": "INLINE",
            "inputParameters": {"evaluatorType": "graaljs", "expression": "if ($.a > ) { 1 }"},
        },
        {
            "name": "l",
            "taskReferenceName": "loop",
            "type": "DO_WHILE",
            "loopCondition": "$.loop['iteration'] < 3",
            "loopOver": [
                {
                    "name": "n",
                    "taskReferenceName": "inner",
                    "type": "LAMBDA",
                    "inputParameters": {"scriptExpression": "return {a: };"},
                }
            ],
        },
    )
    with pytest.raises(flowkit.DefinitionError) as caught:
        flowkit.run(definition)
    assert caught.value.task_ref_names == ("calc", "inner")
    assert "JavaScript does not compile" in str(caught.value)


def test_runtime_script_error_fails_inline_terminally_with_the_js_message():
    definition = wf(
        {
            "name": "i",
            "taskReferenceName": "calc",
            "type": "INLINE",
            "inputParameters": {"evaluatorType": "javascript", "expression": "$.missing.deeper"},
        }
    )
    ex = flowkit.run(definition)
    assert ex.status == "FAILED"
    assert ex.task("calc").status == "FAILED_WITH_TERMINAL_ERROR"
    assert "TypeError" in ex.task("calc").reason


def test_event_bus_subscribers_see_published_events_and_a_broken_callback_does_not_break_the_run():
    bus = flowkit.EventBus()
    seen = []
    bus.subscribe("conductor:t:*", seen.append)
    bus.subscribe("*", lambda event: 1 / 0)
    definition = wf(
        {"name": "e", "taskReferenceName": "e", "type": "EVENT", "sink": "conductor:done", "inputParameters": {"v": 7}}
    )
    ex = flowkit.run(definition, event_bus=bus)
    assert ex.status == "COMPLETED"
    assert [(e.queue, e.payload["v"], e.payload["workflowInstanceId"]) for e in seen] == [
        ("conductor:t:done", 7, ex.workflow_id)
    ]
    assert [e.queue for e in bus.events("conductor:*")] == ["conductor:t:done"]
    assert isinstance(bus.errors[0][1], ZeroDivisionError)
    sub = bus.subscribe("sqs:*", seen.append)
    sub.cancel()
    flowkit.run(wf({"name": "e", "taskReferenceName": "e", "type": "EVENT", "sink": "sqs:q"}), event_bus=bus)
    assert len(seen) == 1
    assert bus.events("sqs:*")[0].queue == "sqs:q"


def test_script_limits_per_run_and_per_task_stop_runaway_scripts_and_retry_policy_applies():
    from flowkit.scripting import ScriptLimits

    spin = {
        "name": "spin",
        "taskReferenceName": "spin",
        "type": "INLINE",
        "inputParameters": {"evaluatorType": "graaljs", "expression": "while (true) {}"},
    }
    ex = flowkit.run(wf(spin), script_limits=ScriptLimits(timeout_ms=150))
    assert ex.status == "FAILED"
    assert ex.task("spin").status == "FAILED"
    assert "time limit of 150 ms" in ex.task("spin").reason
    per_task = {**spin, "inputParameters": {**spin["inputParameters"], "scriptTimeoutMs": 100}}
    retried = flowkit.run(
        wf(per_task), task_defs=[{"name": "spin", "retryCount": 1, "retryDelaySeconds": 0}], clock=VirtualClock()
    )
    assert [t.status for t in retried.tasks] == ["FAILED", "FAILED"]
    assert "time limit of 100 ms" in retried.tasks[1].reason
    after = flowkit.run(wf({**spin, "inputParameters": {"evaluatorType": "graaljs", "expression": "1 + 1"}}))
    assert after.output == {"result": 2}


def test_a_long_do_while_of_inline_tasks_completes_without_exhausting_the_script_sandbox():
    n = 3000
    definition = {
        "name": "dw",
        "tasks": [
            {
                "name": "loop",
                "taskReferenceName": "loop",
                "type": "DO_WHILE",
                "inputParameters": {"n": n},
                "loopCondition": "$.loop['iteration'] < $.n",
                "loopOver": [
                    {
                        "name": "inc",
                        "taskReferenceName": "inc",
                        "type": "INLINE",
                        "inputParameters": {
                            "evaluatorType": "graaljs",
                            "expression": "$.i * 2",
                            "i": "${loop.output.iteration}",
                        },
                    }
                ],
            }
        ],
    }
    ex = flowkit.run(definition)
    assert ex.status == "COMPLETED"
    loop = ex.task("loop")
    assert loop.output["iteration"] == n
    assert loop.output[str(n)] == {"inc": {"result": 2 * n}}
    assert ex.output == {"result": 2 * n}  # no outputParameters: the last task's output (updateWorkflowOutput)


def test_a_simple_task_can_be_left_for_outside_completion():
    definition = wf(
        {"name": "review", "taskReferenceName": "review", "inputParameters": {"doc": "${workflow.input.doc}"}},
        {
            "name": "n",
            "taskReferenceName": "after",
            "type": "SET_VARIABLE",
            "inputParameters": {"verdict": "${review.output.ok}"},
        },
    )
    with pytest.raises(flowkit.MissingWorkerError):
        flowkit.run(definition, {"doc": "a"})
    ex = flowkit.run(definition, {"doc": "a"}, external=["review"])
    assert ex.status == "RUNNING" and ex.task("review").status == "IN_PROGRESS"
    assert ex.task("review").input == {"doc": "a"}
    ex.complete_task("review", {"ok": True})
    assert ex.status == "COMPLETED" and ex.variables == {"verdict": True}
    no_retries = [{"name": "review", "retryCount": 0}]
    failed = flowkit.run(definition, {"doc": "b"}, external=["review"], task_defs=no_retries).fail_task(
        "review", "rejected"
    )
    assert failed.status == "FAILED" and "rejected" in failed.reason


def test_script_and_jq_failures_say_where():
    inline = flowkit.run(
        wf(
            {
                "name": "i",
                "taskReferenceName": "calc",
                "type": "INLINE",
                "inputParameters": {"evaluatorType": "javascript", "expression": "var a = 1;\n\nnull.x"},
            }
        )
    )
    assert "TypeError" in inline.task("calc").reason and "(line 3)" in inline.task("calc").reason
    jq = flowkit.run(
        wf(
            {
                "name": "j",
                "taskReferenceName": "shape",
                "type": "JSON_JQ_TRANSFORM",
                "inputParameters": {"queryExpression": ".a.b", "a": "text"},
            }
        )
    )
    assert jq.status == "FAILED"
    assert jq.task("shape").reason.startswith("Cannot index string")  # jq's message, as Conductor reports it
    broken = flowkit.run(
        wf(
            {
                "name": "j",
                "taskReferenceName": "shape",
                "type": "JSON_JQ_TRANSFORM",
                "inputParameters": {"queryExpression": ".a | ]["},
            }
        )
    )
    assert broken.status == "FAILED" and "task 'shape' does not compile" in broken.task("shape").reason
