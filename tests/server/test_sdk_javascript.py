"""The Conductor JavaScript SDK v4, unchanged, under Node: TaskManager workers against `flowkit serve`.

`./dev` installs the SDK into tests/server/js/node_modules (npm install --legacy-peer-deps).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.server.serving import Server, sdk_workers_fixture, server_fixture  # noqa: F401 - fixtures

pytestmark = pytest.mark.slow

JS = Path(__file__).parent / "js"


def test_javascript_sdk_registers_runs_workers_and_steers(server: Server) -> None:
    node = shutil.which("node")
    assert node, "Node.js (20+) is needed for the JavaScript SDK test"
    assert (JS / "node_modules" / "@io-orkes" / "conductor-javascript").is_dir(), (
        "the JavaScript SDK is not installed: run ./dev (it runs npm install --legacy-peer-deps in tests/server/js)"
    )
    result = subprocess.run(
        [node, str(JS / "sdk_flow.mjs"), server.url], capture_output=True, text=True, timeout=180, cwd=JS
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert [f["output"] for f in report["flows"]] == [
        {"n": 3, "attempt": 1},
        {"n": 5, "attempt": 1},
        {"n": 7, "attempt": 1},
    ]
    assert all(f["statuses"] == ["COMPLETED", "FAILED", "COMPLETED"] and f["workerId"] for f in report["flows"])
    assert report["paused"] == "PAUSED" and report["terminated"] == "stop" and report["retried"] == "RUNNING"
    assert report["rerun"] == {"status": "RUNNING", "input": {"again": True}}
