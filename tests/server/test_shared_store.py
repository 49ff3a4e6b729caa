"""One store, one history: executions run in-process and over HTTP are seen by both sides."""

from __future__ import annotations

import json
import subprocess
import sys
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
