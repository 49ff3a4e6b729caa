"""Ended executions leave the server's memory (a bounded cache) and are still answered from the store."""

from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient

from flowkit.server import Service, create_app


def test_ended_executions_stay_bounded_in_memory_and_are_served_from_the_store(tmp_path: Path) -> None:
    service = Service(tmp_path / "serve.db", keep_finished=5)
    try:
        with TestClient(create_app(service)) as c:
            assert c.post("/api/metadata/taskdefs", json=[{"name": "t", "retryCount": 0}]).status_code == 200
            wf = {
                "name": "w",
                "version": 1,
                "tasks": [
                    {
                        "name": "t",
                        "taskReferenceName": "a",
                        "type": "SIMPLE",
                        "inputParameters": {"i": "${workflow.input.i}"},
                    }
                ],
                "outputParameters": {"y": "${a.output.y}"},
            }
            assert c.post("/api/metadata/workflow", json=wf).status_code == 200
            ids = []
            held = []
            for i in range(40):
                ids.append(c.post("/api/workflow/w", json={"i": i}).text)
                task = c.get("/api/tasks/poll/t?workerid=me").json()
                r = c.post(
                    "/api/tasks",
                    json={
                        "taskId": task["taskId"],
                        "workflowInstanceId": task["workflowInstanceId"],
                        "status": "COMPLETED",
                        "outputData": {"y": task["inputData"]["i"] * 2},
                    },
                )
                assert r.status_code == 200
                held.append(len(service.engine.executions))
            # a few more than `keep` (the newest ended ones, and one trimmed at the next batch), never all
            assert max(held) <= 5 + 2, held
            assert service.finished.evicted >= 40 - 7
            assert ids[0] not in service.engine.executions
            for i, wid in enumerate(ids):  # every one is still answered, the evicted ones from the store
                r = c.get(f"/api/workflow/{wid}")
                assert r.status_code == 200
                run = r.json()
                assert run["status"] == "COMPLETED" and run["output"] == {"y": 2 * i}
                assert [t["status"] for t in run["tasks"]] == ["COMPLETED"]
            # reading them back brought them in again, and the next batch of worker calls lets them go
            ids.append(c.post("/api/workflow/w", json={"i": 40}).text)
            task = c.get("/api/tasks/poll/t?workerid=me").json()
            assert len(service.engine.executions) <= 5 + 2
            # an evicted execution is still steerable: restart it from the store
            assert c.post(f"/api/workflow/{ids[0]}/restart").status_code == 200
            assert c.get(f"/api/workflow/{ids[0]}").json()["status"] == "RUNNING"
            assert task["workflowInstanceId"] == ids[40]
    finally:
        service.close()
