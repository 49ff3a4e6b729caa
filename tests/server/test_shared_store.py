"""One store, one history: executions run in-process and over HTTP are seen by both sides."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import flowkit
from tests.server.serving import Server

pytestmark = pytest.mark.slow


def test_in_process_runs_and_http_runs_share_the_store(tmp_path: Path) -> None:
    store = tmp_path / "shared.db"
    inline = {
        "name": "local_wf",
        "version": 1,
        "tasks": [
            {
                "name": "js",
                "taskReferenceName": "js",
                "type": "INLINE",
                "inputParameters": {"evaluatorType": "javascript", "expression": "1 + 2"},
            }
        ],
        "outputParameters": {"r": "${js.output.result}"},
    }
    local = flowkit.run(inline, {}, store=str(store))
    assert local.status == "COMPLETED"
    server = Server(store)
    server.start()
    try:
        with urllib.request.urlopen(f"{server.api}/workflow/{local.workflow_id}", timeout=10) as r:
            seen = json.loads(r.read())
        assert seen["status"] == "COMPLETED" and seen["output"] == {"r": 3}
        # the definition the notebook registered is there to start by name over HTTP
        request = urllib.request.Request(
            f"{server.api}/workflow/local_wf", data=b"{}", method="POST", headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as r:
            remote_id = r.read().decode()
        with urllib.request.urlopen(f"{server.api}/workflow/search?query=workflowType%3Dlocal_wf", timeout=10) as r:
            found = {s["workflowId"] for s in json.loads(r.read())["results"]}
        assert found == {local.workflow_id, remote_id}
        # while the server runs, the command line reads the same history
        listing = subprocess.run(
            [sys.executable, "-m", "flowkit", "list", "--store", str(store), "--readonly", "--json"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert listing.returncode == 0, listing.stderr
        assert {row["workflow_id"] for row in json.loads(listing.stdout)} == {local.workflow_id, remote_id}
    finally:
        server.stop()


NOTEBOOK = r"""
import sys, time
from pathlib import Path
import flowkit

store, marker = sys.argv[1], Path(sys.argv[2])

@flowkit.worker_task(task_definition_name="nb_slow")
def slow(x: int) -> dict:
    marker.write_text("running")
    while not marker.with_suffix(".go").exists():
        time.sleep(0.05)
    return {"y": x * 10}

wf = {"name": "nb_wf", "version": 1, "tasks": [
    {"name": "nb_slow", "taskReferenceName": "s", "type": "SIMPLE", "inputParameters": {"x": "${workflow.input.x}"}}],
    "outputParameters": {"y": "${s.output.y}"}}
run = flowkit.run(wf, {"x": 4}, store=store, workers=[slow])
print(run.workflow_id, run.status)
"""


def _call(server: Server, method: str, path: str, body: object = None) -> tuple[int, str]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        server.api + path, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _run_one(server: Server, name: str) -> str:
    """Start ``name`` over HTTP and answer its one SIMPLE task as a worker would."""
    status, wid = _call(server, "POST", f"/workflow/{name}", {})
    assert status == 200, wid
    status, raw = _call(server, "GET", "/tasks/poll/t?workerid=w1&timeout=5000")
    assert status == 200, raw
    task = json.loads(raw)
    result = {"taskId": task["taskId"], "workflowInstanceId": wid, "status": "COMPLETED", "outputData": {"ok": 1}}
    assert _call(server, "POST", "/tasks", result)[0] == 200
    return wid


def test_a_notebook_writes_the_store_while_the_server_is_idle_and_the_server_reads_and_waits(tmp_path: Path) -> None:
    store = tmp_path / "shared.db"
    server = Server(store)
    server.start()
    notebook = None
    try:
        assert _call(server, "POST", "/metadata/taskdefs", [{"name": "t", "retryCount": 0}])[0] == 200
        wf = {"name": "w", "version": 1, "tasks": [{"name": "t", "taskReferenceName": "a", "type": "SIMPLE"}]}
        assert _call(server, "POST", "/metadata/workflow", wf)[0] == 200
        first = _run_one(server, "w")  # the server holds no live execution now: the store is free
        marker = tmp_path / "marker"
        notebook = subprocess.Popen(
            [sys.executable, "-c", NOTEBOOK, str(store), str(marker)], stdout=subprocess.PIPE, text=True
        )
        deadline = time.monotonic() + 60
        while not marker.exists():  # the notebook's run is under way: its process holds the store
            assert notebook.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        # the server still answers its history (reads take no writer lock) ...
        status, raw = _call(server, "GET", "/workflow/search?query=workflowType%3Dw")
        assert status == 200 and {r["workflowId"] for r in json.loads(raw)["results"]} == {first}
        status, raw = _call(server, "GET", f"/workflow/{first}")
        assert status == 200 and json.loads(raw)["status"] == "COMPLETED"
        # ... and a start, which must write, is refused at once with Conductor's error JSON (no hang)
        began = time.monotonic()
        status, raw = _call(server, "POST", "/workflow/w", {})
        assert time.monotonic() - began < 10
        assert status == 503 and "in use by another flowkit process" in json.loads(raw)["message"]
        marker.with_suffix(".go").write_text("go")
        out, _ = notebook.communicate(timeout=60)
        nb_id, nb_status = out.split()
        assert nb_status == "COMPLETED"
        # one history: the notebook's run over HTTP, and its definition starts over HTTP
        status, raw = _call(server, "GET", f"/workflow/{nb_id}")
        assert status == 200 and json.loads(raw)["output"] == {"y": 40}
        second = _run_one(server, "w")  # the server writes again once the notebook is done
        status, raw = _call(server, "GET", f"/workflow/{second}")
        assert json.loads(raw)["status"] == "COMPLETED"
        status, raw = _call(server, "GET", "/metadata/workflow/nb_wf")
        assert status == 200 and json.loads(raw)["name"] == "nb_wf"
    finally:
        if notebook is not None and notebook.poll() is None:
            notebook.kill()
            notebook.wait()
        server.stop()
