"""8 workers polling and answering at once through a real `flowkit serve` on SQLite (grouped commits)."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.server.serving import Server

pytestmark = pytest.mark.slow


def _call(conn: http.client.HTTPConnection, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
    data = None if body is None else json.dumps(body).encode()
    conn.request(method, path, body=data, headers={"Content-Type": "application/json"} if data else {})
    response = conn.getresponse()
    return response.status, response.read()


def test_eight_keep_alive_workers_run_every_chain_once_each_with_no_stall(tmp_path: Path) -> None:
    server = Server(tmp_path / "serve.db")
    server.start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        _call(conn, "POST", "/api/metadata/taskdefs", [{"name": "step", "retryCount": 0}])
        tasks = [
            {"name": "step", "taskReferenceName": f"s{i}", "type": "SIMPLE", "inputParameters": {"i": i}}
            for i in range(15)
        ]
        wf = {"name": "chain", "version": 1, "tasks": tasks, "outputParameters": {"last": "${s14.output.i}"}}
        _call(conn, "POST", "/api/metadata/workflow", wf)
        ids = [_call(conn, "POST", "/api/workflow/chain", {})[1].decode() for _ in range(12)]
        total = len(ids) * len(tasks)
        seen: list[tuple[str, str, int]] = []
        lock = threading.Lock()
        errors: list[str] = []

        def worker(k: int) -> None:
            c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
            try:
                while True:
                    with lock:
                        if len(seen) >= total:
                            return
                    status, raw = _call(c, "GET", f"/api/tasks/poll/step?workerid=w{k}&timeout=200")
                    if status == 204:
                        continue
                    task = json.loads(raw)
                    with lock:
                        seen.append((task["workflowInstanceId"], task["taskId"], task["inputData"]["i"]))
                    result = {
                        "taskId": task["taskId"],
                        "workflowInstanceId": task["workflowInstanceId"],
                        "status": "COMPLETED",
                        "outputData": {"i": task["inputData"]["i"]},
                    }
                    status, raw = _call(c, "POST", "/api/tasks", result)
                    if status != 200:
                        errors.append(raw.decode())
            except Exception as exc:  # a stalled server times the connection out: the test says so
                errors.append(repr(exc))

        began = time.monotonic()
        threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not errors, errors[:3]
        assert len(seen) == total, f"{len(seen)} of {total} tasks in {time.monotonic() - began:.1f} s"
        assert max(Counter(task_id for _, task_id, _ in seen).values()) == 1  # no task handed out twice
        for wid in ids:  # each chain's tasks ran in order, and every execution COMPLETED
            assert [i for w, _, i in seen if w == wid] == list(range(15))
            status, raw = _call(conn, "GET", f"/api/workflow/{wid}?includeTasks=false")
            run = json.loads(raw)
            assert run["status"] == "COMPLETED" and run["output"] == {"last": 14}
    finally:
        server.stop()
