"""While ``flowkit.run`` blocks: failures are said the moment they happen, and Ctrl-C is a clean stop.

The timing and signal tests run real child processes (and a real Jupyter kernel) on a real SQLite
store: the failure line must reach stderr within a second of the worker raising, and SIGINT must
hand control back within a second with the execution TERMINATED on disk.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

import flowkit
from flowkit.store import SqliteStore
from flowkit.testing import VirtualClock

pytestmark = pytest.mark.slow


# --------------------------------------------------------------------------- the failure lines (in-process)
def _flaky(failures: int) -> Any:
    calls = {"n": 0}

    @flowkit.worker_task(task_definition_name="flaky")
    def flaky() -> dict[str, Any]:
        calls["n"] += 1
        if calls["n"] <= failures:
            raise RuntimeError(f"boom {calls['n']}\nsecond line of the message")
        return {"ok": True}

    return flaky


def _messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "flowkit"]


def test_each_failed_attempt_is_one_line_with_what_comes_next(caplog: pytest.LogCaptureFixture) -> None:
    worker = _flaky(5)
    wf = flowkit.WorkflowBuilder("report_retries") >> worker(task_ref_name="step")
    td = flowkit.TaskDef(name="flaky", retry_count=2, retry_delay_seconds=90, retry_logic="LINEAR_BACKOFF")
    with caplog.at_level(logging.WARNING, logger="flowkit"):
        ex = flowkit.run(wf, {}, workers=[worker], task_defs=[td], clock=VirtualClock(), store="memory")
    assert ex.status.value == "FAILED"
    assert _messages(caplog) == [
        "flowkit: task 'step' (flaky) FAILED: boom 1. Next: retry 1 of 2 in 90 s.",
        "flowkit: task 'step' (flaky) FAILED: boom 2. Next: retry 2 of 2 in 3 min.",
        "flowkit: task 'step' (flaky) FAILED: boom 3. Next: the workflow FAILED.",
    ]


def test_ad_hoc_defaults_are_explained_once_and_optional_failures_said(caplog: pytest.LogCaptureFixture) -> None:
    @flowkit.worker_task(task_definition_name="never_registered_for_report")
    def unregistered() -> dict[str, Any]:
        raise ValueError("nope")

    wf = flowkit.WorkflowBuilder("report_ad_hoc") >> unregistered(task_ref_name="u")
    with caplog.at_level(logging.WARNING, logger="flowkit"):
        flowkit.run(wf, {}, workers=[unregistered], clock=VirtualClock(), store="memory")
        flowkit.run(wf, {}, workers=[unregistered], clock=VirtualClock(), store="memory")
    said = _messages(caplog)
    ad_hoc = [m for m in said if "ad-hoc defaults" in m]
    assert len(ad_hoc) == 1 and "3 retries, 60 s apart (FIXED)" in ad_hoc[0]
    assert "task_defs=[flowkit.TaskDef(name='never_registered_for_report'" in ad_hoc[0]
    assert said[0] == "flowkit: task 'u' (never_registered_for_report) FAILED: nope. Next: retry 1 of 3 in 60 s."

    caplog.clear()
    optional = flowkit.WorkflowDef.from_json(
        {
            "name": "report_optional",
            "tasks": [
                {"name": "never_registered_for_report", "taskReferenceName": "opt", "type": "SIMPLE", "optional": True}
            ],
        }
    )
    td = flowkit.TaskDef(name="never_registered_for_report", retry_count=0)
    with caplog.at_level(logging.WARNING, logger="flowkit"):
        ex = flowkit.run(optional, {}, workers=[unregistered], task_defs=[td], clock=VirtualClock(), store="memory")
    assert ex.status.value == "COMPLETED"
    assert _messages(caplog)[-1].endswith("COMPLETED_WITH_ERRORS: nope. The task is optional: the workflow COMPLETED.")


def test_the_lines_can_be_silenced(caplog: pytest.LogCaptureFixture) -> None:
    worker = _flaky(1)
    wf = flowkit.WorkflowBuilder("report_silenced") >> worker(task_ref_name="step")
    logging.getLogger("flowkit").setLevel(logging.ERROR)
    try:
        with caplog.at_level(logging.WARNING):
            flowkit.run(wf, {}, workers=[worker], clock=VirtualClock(), store="memory")
    finally:
        logging.getLogger("flowkit").setLevel(logging.NOTSET)
    assert _messages(caplog) == []


# --------------------------------------------------------------------------- real processes
_SCRIPT = """
import os, sys, time, flowkit

@flowkit.worker_task(task_definition_name="{name}")
def work() -> dict:
    os.write(1, f"CALLED {{time.time()}}\\n".encode())  # past flowkit's per-attempt capture of print
    if {slow}:
        time.sleep(60)
    raise RuntimeError("worker broke")

wf = flowkit.WorkflowBuilder("interrupt_me") >> work(task_ref_name="w")
try:
    flowkit.run(wf, {{}}, workers=[work])
except flowkit.Interrupted as stop:
    print("RETURNED", time.time(), stop.execution.workflow_id, stop.execution.status.value, flush=True)
    sys.stdout.flush()
    import os
    os._exit(0)  # a worker thread may still sleep; this test is about control coming back
"""


def _spawn(tmp_path: Path, *, slow: bool) -> subprocess.Popen[str]:
    script = tmp_path / "run_me.py"
    script.write_text(textwrap.dedent(_SCRIPT.format(name="interrupt_worker", slow=slow)), encoding="utf-8")
    env = {**os.environ, "FLOWKIT_HOME": str(tmp_path / "home"), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
    )


def _line(stream: Any, prefix: str, timeout: float = 30.0) -> tuple[str, float]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        if line.startswith(prefix):
            return line.rstrip("\n"), time.time()
    raise AssertionError(f"no line starting {prefix!r} within {timeout} s")


def _stored(tmp_path: Path, workflow_id: str) -> dict[str, Any]:
    store = SqliteStore(tmp_path / "home" / "flowkit.db", readonly=True)
    record = store.execution(workflow_id)
    assert record is not None
    return record[0]


def test_failure_line_within_a_second_then_sigint_while_waiting_to_retry(tmp_path: Path) -> None:
    proc = _spawn(tmp_path, slow=False)
    try:
        called, _ = _line(proc.stdout, "CALLED")
        failed_at = float(called.split()[1])
        said, seen_at = _line(proc.stderr, "flowkit: task 'w'")
        assert said == "flowkit: task 'w' (interrupt_worker) FAILED: worker broke. Next: retry 1 of 3 in 60 s."
        assert seen_at - failed_at < 1.0
        _line(proc.stderr, "flowkit: task definition 'interrupt_worker' is not registered")
        time.sleep(0.3)  # the runner is now waiting out the 60 s backoff
        sent = time.time()
        proc.send_signal(signal.SIGINT)
        returned, _ = _line(proc.stdout, "RETURNED")
        _, when, workflow_id, status = returned.split()
        assert float(when) - sent < 1.0 and status == "TERMINATED"
        assert proc.wait(timeout=10) == 0
    finally:
        proc.kill()
    record = _stored(tmp_path, workflow_id)
    assert record["status"] == "TERMINATED" and "interrupted" in record["reason"]


def test_sigint_while_a_slow_worker_runs(tmp_path: Path) -> None:
    proc = _spawn(tmp_path, slow=True)
    try:
        _line(proc.stdout, "CALLED")
        time.sleep(0.3)
        sent = time.time()
        proc.send_signal(signal.SIGINT)
        returned, _ = _line(proc.stdout, "RETURNED")
        _, when, workflow_id, status = returned.split()
        assert float(when) - sent < 1.0 and status == "TERMINATED"
        assert proc.wait(timeout=10) == 0
        assert "Traceback" not in proc.stderr.read()
    finally:
        proc.kill()
    assert _stored(tmp_path, workflow_id)["status"] == "TERMINATED"


def test_uncaught_interrupt_in_a_script_ends_at_the_callers_line(tmp_path: Path) -> None:
    script = tmp_path / "plain.py"
    script.write_text(
        textwrap.dedent(
            """
            import flowkit, os, time
            @flowkit.worker_task(task_definition_name="sleepy")
            def sleepy() -> dict:
                os.write(1, b"CALLED\\n")
                time.sleep(20)
                return {}
            flowkit.run(flowkit.WorkflowBuilder("plain") >> sleepy(task_ref_name="s"), {}, workers=[sleepy])
            """
        ),
        encoding="utf-8",
    )
    env = {**os.environ, "FLOWKIT_HOME": str(tmp_path / "home")}
    proc = subprocess.Popen(
        [sys.executable, str(script)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        _line(proc.stdout, "CALLED")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    frames = [line for line in err.splitlines() if line.lstrip().startswith("File ")]
    assert len(frames) == 2 and "plain.py" in frames[0]  # the caller's line, then flowkit.run itself
    assert "flowkit.Interrupted: interrupted; execution" in err and "TERMINATED" in err


def test_interrupt_kernel_in_jupyter(tmp_path: Path) -> None:
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3", env={**os.environ, "FLOWKIT_HOME": str(tmp_path / "home")})
    try:
        code = textwrap.dedent(
            """
            import flowkit, time
            @flowkit.worker_task(task_definition_name="sleepy_kernel")
            def sleepy() -> dict:
                time.sleep(60)
                return {}
            print("STARTING", flush=True)
            flowkit.run(flowkit.WorkflowBuilder("in_kernel") >> sleepy(task_ref_name="s"), {}, workers=[sleepy])
            """
        )
        msg_id = kc.execute(code)
        outputs: list[dict[str, Any]] = []
        sent = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            msg = kc.get_iopub_msg(timeout=30)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream" and "STARTING" in content["text"] and sent is None:
                time.sleep(1.0)
                sent = time.monotonic()
                km.interrupt_kernel()
            elif kind == "error":
                outputs.append(content)
            elif kind == "status" and content["execution_state"] == "idle" and sent is not None:
                break
        assert sent is not None and time.monotonic() - sent < 5.0
        (error,) = outputs
        assert error["ename"] == "Interrupted"
        assert len(error["traceback"]) == 1 and error["traceback"][0].startswith("flowkit.Interrupted: interrupted")
        workflow_id = error["evalue"].split("execution ")[1].split()[0]
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    record = _stored(tmp_path, workflow_id)
    assert record["status"] == "TERMINATED"
    assert json.dumps(record["reason"]).count("interrupted") == 1
