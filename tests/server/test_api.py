"""The API in-process (Starlette's TestClient): Conductor's error JSON and the task-queue rules."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from flowkit.errors import InputError
from flowkit.server import Service, create_app, serve


@pytest.fixture
def client() -> Iterator[TestClient]:
    service = Service("memory")
    with TestClient(create_app(service, max_body=10_000)) as c:
        yield c
    service.close()


def setup(c: TestClient, **task_def: Any) -> str:
    assert c.post("/api/metadata/taskdefs", json=[{"name": "t", **task_def}]).status_code == 200
    wf = {
        "name": "w",
        "version": 1,
        "tasks": [{"name": "t", "taskReferenceName": "a", "type": "SIMPLE"}],
        "outputParameters": {"y": "${a.output.y}"},
    }
    assert c.post("/api/metadata/workflow", json=wf).status_code == 200
    return "w"


def start(c: TestClient, n: int = 1) -> list[str]:
    return [c.post("/api/workflow/w", json={"i": i}).text for i in range(n)]


def test_errors_are_conductor_json_never_a_trace(client: TestClient) -> None:
    r = client.get("/api/workflow/missing")
    assert r.status_code == 404
    assert set(r.json()) >= {"status", "message", "instance", "retryable"}
    assert r.json()["status"] == 404 and r.json()["retryable"] is False
    r = client.post("/api/workflow/w", content=b"{not json")
    assert r.status_code == 400 and "malformed JSON" in r.json()["message"]
    assert client.post("/api/workflow/nope", json={}).status_code == 404
    r = client.post("/api/metadata/workflow", json={"name": "x"})
    assert r.status_code == 400 and "tasks" in r.json()["message"]
    r = client.post("/api/workflow/w", content=b"[" + b"1," * 6000 + b"1]")
    assert r.status_code == 413 and r.json()["status"] == 413
    # the worker's update is answered before FastAPI (see _fast): the same limit and error JSON,
    # with a Content-Length and streamed without one
    big = {"taskId": "t1", "status": "COMPLETED", "outputData": {"x": "y" * 20_000}}
    r = client.post("/api/tasks", json=big)
    assert (r.status_code, r.json()["status"], r.json()["instance"]) == (413, 413, "/api/tasks")
    r = client.post("/api/tasks", content=iter([b'{"taskId": "t1", "x": "', b"y" * 20_000, b'"}']))
    assert r.status_code == 413 and "over 10000 bytes" in r.json()["message"]
    r = client.post("/api/tasks", json={"taskId": "nope", "status": "COMPLETED"})
    assert r.status_code == 404 and r.json()["status"] == 404 and "Traceback" not in r.text
    r = client.get("/api/tasks/poll/batch/t?count=0")
    assert r.status_code == 400 and "count" in r.json()["message"]
    setup(client)
    assert client.post("/api/metadata/workflow", json=client.get("/api/metadata/workflow/w").json()).status_code == 409
    (wid,) = start(client)
    client.delete(f"/api/workflow/{wid}")
    r = client.put(f"/api/workflow/{wid}/pause")
    assert r.status_code == 409 and "Traceback" not in r.text
    assert client.get("/openapi.json").json()["paths"]["/api/tasks/poll/{task_type}"]


def test_poll_marks_in_progress_and_empty_poll_is_204(client: TestClient) -> None:
    setup(client)
    (wid,) = start(client)
    assert client.get("/api/tasks/queue/sizes", params={"taskType": "t"}).json() == {"t": 1}
    task = client.get("/api/tasks/poll/t?workerid=me+%C3%A9%26co&workerid=other&timeout=").json()
    assert (task["status"], task["workerId"], task["pollCount"]) == ("IN_PROGRESS", "me é&co", 1)
    assert task["startTime"] > 0 and task["workflowInstanceId"] == wid
    assert client.get("/api/tasks/poll/t").status_code == 204
    # the poll's answer (its node's part kept across polls) is the task's JSON as GET reads it
    assert client.get(f"/api/tasks/{task['taskId']}").json() == task
    r = client.post(
        "/api/tasks",
        json={
            "taskId": task["taskId"],
            "workflowInstanceId": wid,
            "status": "COMPLETED",
            "outputData": {"y": 1},
            "logs": [{"log": "hello"}],
        },
    )
    assert r.text == task["taskId"]
    assert client.get(f"/api/workflow/{wid}").json()["output"] == {"y": 1}
    assert [e["log"] for e in client.get(f"/api/tasks/{task['taskId']}/log").json()] == ["hello"]


def test_long_poll_waits_for_a_task(client: TestClient) -> None:
    setup(client)
    began = time.monotonic()
    assert client.get("/api/tasks/poll/batch/t", params={"timeout": 300}).json() == []
    assert time.monotonic() - began >= 0.25


def test_an_empty_poll_takes_no_runtime_round_and_a_long_poll_wakes_on_a_start(client: TestClient) -> None:
    service = client.app.service  # type: ignore[attr-defined]
    setup(client)
    rounds = service.batcher.rounds
    for _ in range(20):
        assert client.get("/api/tasks/poll/t").status_code == 204
    assert client.get("/api/tasks/poll/batch/t", params={"timeout": 50}).json() == []
    assert service.batcher.rounds == rounds  # read on the event loop: no hop to the runtime thread
    polled: list[Any] = []
    poller = threading.Thread(
        target=lambda: polled.append(client.get("/api/tasks/poll/batch/t", params={"timeout": 10_000}).json())
    )
    began = time.monotonic()
    poller.start()
    time.sleep(0.3)  # the poller waits on the empty queue
    (wid,) = start(client)
    poller.join(10)
    assert [t["workflowInstanceId"] for t in polled[0]] == [wid]
    assert time.monotonic() - began < 5  # woken by the start, not by its 10 s timeout
    assert service.batcher.rounds > rounds


def test_in_progress_with_callback_comes_back_after_the_delay(client: TestClient) -> None:
    setup(client)
    (wid,) = start(client)
    task = client.get("/api/tasks/poll/t").json()
    client.post(
        "/api/tasks",
        json={"taskId": task["taskId"], "workflowInstanceId": wid, "status": "IN_PROGRESS", "callbackAfterSeconds": 1},
    )
    assert client.get("/api/tasks/poll/t").status_code == 204
    again = client.get("/api/tasks/poll/batch/t", params={"timeout": 3000}).json()
    assert [t["taskId"] for t in again] == [task["taskId"]] and again[0]["pollCount"] == 2


def test_concurrent_exec_limit_and_rate_limit_apply_at_poll_time(client: TestClient) -> None:
    setup(client, concurrentExecLimit=2)
    start(client, 4)
    assert len(client.get("/api/tasks/poll/batch/t", params={"count": 10, "timeout": 0}).json()) == 2
    client.put(
        "/api/metadata/taskdefs", json={"name": "t", "rateLimitPerFrequency": 1, "rateLimitFrequencyInSeconds": 60}
    )
    start(client, 2)
    assert len(client.get("/api/tasks/poll/batch/t", params={"count": 10, "timeout": 0}).json()) == 1


def test_failed_task_is_retried_and_terminal_error_is_not(client: TestClient) -> None:
    setup(client, retryCount=1, retryLogic="FIXED", retryDelaySeconds=0)
    wid, wid2 = start(client, 2)
    tasks = {t["workflowInstanceId"]: t for t in client.get("/api/tasks/poll/batch/t", params={"count": 5}).json()}
    for workflow_id, status in ((wid, "FAILED"), (wid2, "FAILED_WITH_TERMINAL_ERROR")):
        client.post(
            "/api/tasks",
            json={
                "taskId": tasks[workflow_id]["taskId"],
                "workflowInstanceId": workflow_id,
                "status": status,
                "reasonForIncompletion": "boom",
            },
        )
    assert client.get(f"/api/workflow/{wid2}").json()["status"] == "FAILED"
    retry = client.get("/api/tasks/poll/t").json()
    assert retry["workflowInstanceId"] == wid and retry["retryCount"] == 1


def test_non_loopback_bind_is_refused_without_auth() -> None:
    with pytest.raises(InputError, match="authentication"):
        serve("memory", host="0.0.0.0")


def test_worker_calls_need_the_token_when_a_key_is_set() -> None:
    from flowkit.server import Auth

    service = Service("memory")
    with TestClient(create_app(service, auth=Auth("k", "s"))) as c:
        for method, path in (
            ("GET", "/api/tasks/poll/t"),
            ("GET", "/api/tasks/poll/batch/t"),
            ("POST", "/api/tasks"),
            ("GET", "/api/metadata/taskdefs"),
        ):
            r = c.request(method, path, json={} if method == "POST" else None)
            assert (r.status_code, r.json()["error"]) == (401, "INVALID_TOKEN"), path
        assert c.post("/api/token", json={"keyId": "k", "keySecret": "wrong"}).status_code == 401
        token = c.post("/api/token", json={"keyId": "k", "keySecret": "s"}).json()["token"]
        assert c.get("/api/tasks/poll/t", headers={"X-Authorization": token}).status_code == 204
        r = c.get("/api/tasks/poll/batch/t?count=x", headers={"X-Authorization": token})
        assert r.status_code == 400 and r.json()["status"] == 400
        r = c.post("/api/tasks", content=b"{", headers={"X-Authorization": token})
        assert r.status_code == 400 and "malformed JSON" in r.json()["message"]
    service.close()


def test_poll_timeout_and_response_timeout(client: TestClient) -> None:
    setup(
        client,
        pollTimeoutSeconds=1,
        responseTimeoutSeconds=1,
        timeoutSeconds=60,
        retryCount=1,
        retryLogic="FIXED",
        retryDelaySeconds=0,
    )
    (wid,) = start(client)
    first = client.get("/api/tasks/poll/t").json()  # polled, never answered: TIMED_OUT after 1 s, then retried
    retry = client.get("/api/tasks/poll/batch/t", params={"timeout": 5000}).json()
    assert len(retry) == 1 and retry[0]["retryCount"] == 1 and retry[0]["retriedTaskId"] == first["taskId"]
    tasks = client.get(f"/api/workflow/{wid}").json()["tasks"]
    assert tasks[0]["status"] == "TIMED_OUT" and "responseTimeout" in tasks[0]["reasonForIncompletion"]
    # the retry is answered IN_PROGRESS: it goes back to the queue and, unpolled, its poll timeout fails it
    client.post("/api/tasks", json={"taskId": retry[0]["taskId"], "workflowInstanceId": wid, "status": "IN_PROGRESS"})
    deadline = time.monotonic() + 10
    while client.get(f"/api/workflow/{wid}").json()["status"] == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.1)
    execution = client.get(f"/api/workflow/{wid}").json()
    assert execution["status"] == "TIMED_OUT", execution["status"]
    assert "poll timed out" in execution["tasks"][-1]["reasonForIncompletion"].lower()


def test_in_process_workers_run_here_and_other_tasks_wait_for_pollers() -> None:
    import flowkit

    @flowkit.worker_task(task_definition_name="local_double")
    def double(n: int) -> dict[str, int]:
        return {"n": n * 2}

    service = Service("memory", workers=[double])
    with TestClient(create_app(service)) as c:
        wf = {
            "name": "mixed",
            "version": 1,
            "tasks": [
                {
                    "name": "local_double",
                    "taskReferenceName": "d",
                    "type": "SIMPLE",
                    "inputParameters": {"n": "${workflow.input.n}"},
                },
                {
                    "name": "remote_inc",
                    "taskReferenceName": "r",
                    "type": "SIMPLE",
                    "inputParameters": {"n": "${d.output.n}"},
                },
            ],
            "outputParameters": {"n": "${r.output.n}"},
        }
        assert c.post("/api/metadata/workflow", json=wf).status_code == 200
        wid = c.post("/api/workflow/mixed", json={"n": 5}).text
        polled = c.get("/api/tasks/poll/batch/remote_inc", params={"timeout": 5000}).json()
        assert [t["inputData"] for t in polled] == [{"n": 10}]
        assert c.get("/api/tasks/poll/local_double").status_code == 204  # never queued
        c.post(
            "/api/tasks",
            json={
                "taskId": polled[0]["taskId"],
                "workflowInstanceId": wid,
                "status": "COMPLETED",
                "outputData": {"n": 11},
            },
        )
        assert c.get(f"/api/workflow/{wid}").json()["output"] == {"n": 11}
    service.close()


def test_inline_definition_running_list_metadata_crud(client: TestClient) -> None:
    inline = {"name": "inline_wf", "version": 3, "tasks": [{"name": "t", "taskReferenceName": "a", "type": "SIMPLE"}]}
    wid = client.post("/api/workflow", json={"workflowDef": inline, "input": {"x": 1}, "correlationId": "c9"}).text
    execution = client.get(f"/api/workflow/{wid}", params={"includeTasks": False}).json()
    assert (execution["workflowName"], execution["workflowVersion"], execution["correlationId"]) == (
        "inline_wf",
        3,
        "c9",
    )
    assert "tasks" not in execution or execution["tasks"] == []
    assert client.get("/api/workflow/running/inline_wf").json() == [wid]
    assert client.get("/api/workflow/inline_wf/correlated/c9").json()[0]["workflowId"] == wid
    setup(client)
    assert [d["name"] for d in client.get("/api/metadata/workflow").json()] == ["w"]
    assert client.get("/api/metadata/taskdefs/t").json()["name"] == "t"
    assert client.delete("/api/metadata/workflow/w/1").status_code == 200
    assert client.get("/api/metadata/workflow/w").status_code == 404
    assert client.delete("/api/metadata/taskdefs/t").status_code == 200
    assert client.get("/api/metadata/taskdefs/t").status_code == 404
    assert client.delete("/api/metadata/taskdefs/t").status_code == 404
