"""`kill -9` of `flowkit serve` mid-run with the JavaScript SDK's TaskManager workers (under Node) polling."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.server.serving import Server
from tests.server.test_restart import call

pytestmark = pytest.mark.slow

JS = Path(__file__).parent / "js"
LENGTH = 5


def _register(server: Server) -> None:
    call(
        server,
        "POST",
        "/metadata/taskdefs",
        [{"name": "js_step", "retryCount": 2, "responseTimeoutSeconds": 2, "timeoutSeconds": 120}],
    )
    call(
        server,
        "POST",
        "/metadata/workflow",
        {
            "name": "js_chain",
            "version": 1,
            "schemaVersion": 2,
            "tasks": [
                {
                    "name": "js_step",
                    "taskReferenceName": f"s{i}",
                    "type": "SIMPLE",
                    "inputParameters": {"n": "${workflow.input.n}" if i == 0 else f"${{s{i - 1}.output.n}}"},
                }
                for i in range(LENGTH)
            ],
            "outputParameters": {"n": f"${{s{LENGTH - 1}.output.n}}"},
        },
    )


def test_kill_9_mid_run_with_the_javascript_sdks_workers_every_execution_completes(tmp_path: Path) -> None:
    """The TaskManager keeps polling through the outage; nothing COMPLETED before the kill runs again."""
    node = shutil.which("node")
    assert node, "Node.js (20+) is needed for the JavaScript SDK test"
    assert (JS / "node_modules" / "@io-orkes" / "conductor-javascript").is_dir(), (
        "the JavaScript SDK is not installed: run ./dev (it runs npm install --legacy-peer-deps in tests/server/js)"
    )
    server = Server(tmp_path / "serve.db")
    server.start()
    runs = tmp_path / "runs"
    runs.touch()
    workers = subprocess.Popen(
        [node, str(JS / "kill_workers.mjs"), server.api, str(runs)],
        cwd=JS,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "workers.log", "ab"),  # noqa: SIM115
        start_new_session=True,
    )
    try:
        _register(server)
        ids = [call(server, "POST", "/workflow/js_chain", {"n": n * 100}) for n in range(6)]

        def completed_tasks() -> set[str]:
            return {
                t["taskId"]
                for workflow_id in ids
                for t in call(server, "GET", f"/workflow/{workflow_id}?includeTasks=true")["tasks"]
                if t["status"] == "COMPLETED"
            }

        deadline = time.monotonic() + 60
        done_before = completed_tasks()
        while len(done_before) < 8:  # mid-run: some tasks COMPLETED, most still to come
            assert workers.poll() is None, (tmp_path / "workers.log").read_text()
            assert time.monotonic() < deadline, "the JavaScript SDK workers completed fewer than 8 tasks in 60 s"
            time.sleep(0.02)
            done_before = completed_tasks()
        server.kill()
        assert len(done_before) < len(ids) * LENGTH
        time.sleep(0.5)  # the workers' polls and updates fail meanwhile
        server.start()

        for n, workflow_id in enumerate(ids):
            wf = call(server, "GET", f"/workflow/{workflow_id}?includeTasks=true")
            while wf["status"] != "COMPLETED" and time.monotonic() < deadline + 60:
                assert wf["status"] == "RUNNING", (wf["status"], wf.get("reasonForIncompletion"))
                assert workers.poll() is None, (tmp_path / "workers.log").read_text()
                time.sleep(0.1)
                wf = call(server, "GET", f"/workflow/{workflow_id}?includeTasks=true")
            assert wf["status"] == "COMPLETED" and wf["output"] == {"n": n * 100 + LENGTH}
            assert sorted(t["referenceTaskName"] for t in wf["tasks"] if t["status"] == "COMPLETED") == [
                f"s{i}" for i in range(LENGTH)
            ]
        ran = runs.read_text().split()
        again = sorted(task_id for task_id in done_before if ran.count(task_id) != 1)
        assert not again, f"tasks COMPLETED before the kill ran again after it: {again}"
    finally:
        try:
            os.killpg(workers.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        workers.wait()
        server.stop()
