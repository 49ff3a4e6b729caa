"""`flowkit serve` through its HTTP API: poll -> update round trips and an idle long-polling server's CPU.

The server is a real `flowkit serve` subprocess on a SQLite store; the clients are 8 threads, each with
its own keep-alive connection (http.client), doing what a Conductor worker does: poll one task, answer
COMPLETED. Workflows are chains of SIMPLE tasks started before the clock starts, so every round trip
also carries the engine's decision and the store write for the next task.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

CLIENTS = 8
RT_TARGET = 2000.0  # round trips per second
IDLE_TARGET = 2.0  # percent of one core


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(store: Path | str, port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "flowkit", "serve", "--store", str(store), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(300):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("flowkit serve did not start")


def _call(conn: http.client.HTTPConnection, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
    data = None if body is None else json.dumps(body).encode()
    conn.request(method, path, body=data, headers={"Content-Type": "application/json"} if data else {})
    response = conn.getresponse()
    return response.status, response.read()


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure_serve(quick: bool) -> dict[str, Any]:
    chains, length = (16, 50) if quick else (40, 100)
    with tempfile.TemporaryDirectory() as tmp:
        port = _free_port()
        proc = _start(os.environ.get("FLOWKIT_BENCH_STORE") or Path(tmp) / "bench.db", port)
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port)
            _call(conn, "POST", "/api/metadata/taskdefs", [{"name": "bench_step", "retryCount": 0}])
            tasks = [
                {"name": "bench_step", "taskReferenceName": f"s{i}", "type": "SIMPLE", "inputParameters": {"i": i}}
                for i in range(length)
            ]
            _call(conn, "POST", "/api/metadata/workflow", {"name": "bench_chain", "version": 1, "tasks": tasks})
            for _ in range(chains):
                _call(conn, "POST", "/api/workflow/bench_chain", {})
            total = chains * length
            done = [0] * CLIENTS
            stop = threading.Event()

            def worker(k: int) -> None:
                c = http.client.HTTPConnection("127.0.0.1", port)
                while not stop.is_set():
                    status, raw = _call(c, "GET", f"/api/tasks/poll/bench_step?workerid=w{k}&timeout=200")
                    if status != 200:
                        if sum(done) >= total:
                            return
                        continue
                    task = json.loads(raw)
                    _call(
                        c,
                        "POST",
                        "/api/tasks",
                        {
                            "taskId": task["taskId"],
                            "status": "COMPLETED",
                            "workflowInstanceId": task["workflowInstanceId"],
                            "outputData": {"ok": True},
                        },
                    )
                    done[k] += 1

            cpu0, began = _cpu_seconds(proc.pid), time.perf_counter()
            threads = [threading.Thread(target=worker, args=(k,)) for k in range(CLIENTS)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=600)
            elapsed = time.perf_counter() - began
            busy_cpu = _cpu_seconds(proc.pid) - cpu0
            stop.set()
            _, raw = _call(conn, "GET", "/api/workflow/search?query=status%20IN%20(COMPLETED)&size=1000")
            completed = json.loads(raw)["totalHits"]

            # idle: 8 workers long-polling (30 s) a queue that stays empty
            idle_stop = threading.Event()

            def idle_worker() -> None:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                while not idle_stop.is_set():
                    try:
                        _call(c, "GET", "/api/tasks/poll/batch/nothing_here?timeout=30000&count=1")
                    except OSError:  # the server stopped at the end of the run
                        return

            idlers = [threading.Thread(target=idle_worker, daemon=True) for _ in range(CLIENTS)]
            for t in idlers:
                t.start()
            time.sleep(1.0)
            window = 5.0 if quick else 15.0
            cpu0 = _cpu_seconds(proc.pid)
            time.sleep(window)
            idle_pct = (_cpu_seconds(proc.pid) - cpu0) / window * 100
            idle_stop.set()
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return {
        "round_trips": sum(done),
        "elapsed_s": elapsed,
        "per_s": sum(done) / elapsed,
        "server_cpu_per_rt_ms": busy_cpu / max(1, sum(done)) * 1000,
        "workflows_completed": completed,
        "workflows": chains,
        "idle_cpu_pct": idle_pct,
        "idle_window_s": window,
    }


def render_serve(r: dict[str, Any]) -> list[str]:
    rt_ok = "PASS" if r["per_s"] >= RT_TARGET else "FAIL"
    idle_ok = "PASS" if r["idle_cpu_pct"] < IDLE_TARGET else "FAIL"
    return [
        f"## flowkit serve (HTTP API, {CLIENTS} keep-alive clients; targets ≥ {RT_TARGET:.0f} round trips/s, idle < {IDLE_TARGET} % of a core)",
        "",
        "| measure | value | verdict |",
        "|---|---:|---|",
        f"| poll → update round trips/s ({r['round_trips']} in {r['elapsed_s']:.1f} s, {r['workflows_completed']}/{r['workflows']} workflows COMPLETED) | {r['per_s']:.0f} | {rt_ok} |",
        f"| server CPU per round trip | {r['server_cpu_per_rt_ms']:.2f} ms | |",
        f"| idle server, {CLIENTS} workers long-polling (30 s), CPU over {r['idle_window_s']:.0f} s | {r['idle_cpu_pct']:.2f} % | {idle_ok} |",
        "",
    ]


if __name__ == "__main__":
    print("\n".join(render_serve(measure_serve("--quick" in sys.argv))))
