"""`flowkit serve` through its HTTP API: poll -> update round trips and an idle long-polling server's CPU.

The server is a real `flowkit serve` subprocess, on a SQLite store (the default) and on the in-memory
one; the clients are 8 threads, each with its own keep-alive connection (http.client), doing what a
Conductor worker does: poll one task, answer COMPLETED. Workflows are chains of SIMPLE tasks started
before the clock starts, so every round trip also carries the engine's decision and, on SQLite, the
store write for the next task (an update is answered only after its commit).

FLOWKIT_SERVE_BASELINE=<folder holding another flowkit package> measures that code too, in the same
run (before/after figures on equal load: the machine is shared, so figures from separate runs differ
more than the change measured).

Then end to end through each Conductor SDK's own worker runner, unchanged, on the SQLite store: the
Python SDK's TaskHandler running a `@worker_task` worker (in its own process) and the JavaScript SDK's
TaskManager under Node (from tests/server/js/node_modules, installed by `./dev test`). Chains of SIMPLE
tasks started at once; tasks/s from the first start to the last COMPLETED. Context figures: the SDKs'
poll loops (interval, back-off, one HTTP call per poll and per update) set the pace, not the server.
Then the server's CPU while those workers keep polling an empty queue (they do not long-poll).
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
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
IDLE_WINDOW = 10.0  # seconds of server CPU counted (ticks are 10 ms: a shorter window rounds coarser)
SDK_INTERVAL_MS = 10  # the SDK workers' poll interval (their idle back-off is capped by it)
SDK_CONCURRENCY = 8  # the Python worker's thread_count, the JavaScript TaskManager's concurrency
JS_HOME = Path(__file__).resolve().parent.parent / "tests" / "server" / "js"

# The Python SDK reads the worker's parameter types at run time: no `from __future__ import annotations`.
_PY_WORKERS = """
from conductor.client.worker.worker_task import worker_task


@worker_task(task_definition_name="bench_sdk", poll_interval_millis={interval}, thread_count={threads})
def bench_sdk(i: int) -> dict:
    return {{"ok": True}}
"""
_PY_MAIN = """
import sys
sys.path.insert(0, sys.argv[2])
from conductor.client.automator.task_handler import TaskHandler
from conductor.client.configuration.configuration import Configuration
handler = TaskHandler(configuration=Configuration(server_api_url=sys.argv[1]), scan_for_annotated_workers=True,
                      import_modules=["bench_sdk_workers"], monitor_processes=False)
handler.start_processes()
handler.join_processes()
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(store: Path | str, port: int, source: str | None = None) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    if source:
        env["PYTHONPATH"] = source
    proc = subprocess.Popen(
        [sys.executable, "-m", "flowkit", "serve", "--store", str(store), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=source or None,
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


def _register_chain(conn: http.client.HTTPConnection, task: str, workflow: str, length: int) -> None:
    """Register ``task`` and a workflow of ``length`` SIMPLE steps of it."""
    _call(conn, "POST", "/api/metadata/taskdefs", [{"name": task, "retryCount": 0}])
    tasks = [
        {"name": task, "taskReferenceName": f"s{i}", "type": "SIMPLE", "inputParameters": {"i": i}}
        for i in range(length)
    ]
    _call(conn, "POST", "/api/metadata/workflow", {"name": workflow, "version": 1, "tasks": tasks})


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure_serve(quick: bool) -> dict[str, Any]:
    """Round trips on SQLite and in memory (idle CPU on SQLite), for this flowkit and an optional baseline."""
    runs: dict[str, Any] = {}
    baseline = os.environ.get("FLOWKIT_SERVE_BASELINE")
    sources = [("", None)] + ([("baseline ", baseline)] if baseline else [])
    for _ in range(1 if quick else 2):  # alternate: both see the same load over time; best of the rounds
        for label, source in sources:
            for store in ("sqlite", "memory"):
                got = _measure_one(quick, store, source, idle=store == "sqlite")
                key = f"{label}{store}"
                if key not in runs or got["per_s"] > runs[key]["per_s"]:
                    if key in runs and "idle_cpu_pct" in runs[key]:
                        got["idle_cpu_pct"] = min(got["idle_cpu_pct"], runs[key]["idle_cpu_pct"])
                    runs[key] = got
    sdks = {kind: _measure_sdk(kind, quick) for kind in ("python", "javascript")}
    return {"runs": runs, "sdks": sdks, "load": os.getloadavg()[0]}


def _completed(conn: http.client.HTTPConnection) -> int:
    _, raw = _call(conn, "GET", "/api/workflow/search?query=status%20IN%20(COMPLETED)&size=1")
    return int(json.loads(raw)["totalHits"])


def _wait_completed(conn: http.client.HTTPConnection, count: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _completed(conn) < count:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _measure_sdk(kind: str, quick: bool) -> dict[str, Any]:
    """Tasks/s through one SDK's worker runner (a separate process) on a SQLite store."""
    chains, length = (8, 25) if quick else (16, 50)
    with tempfile.TemporaryDirectory() as tmp:
        if kind == "python":
            (Path(tmp) / "bench_sdk_workers.py").write_text(
                _PY_WORKERS.format(interval=SDK_INTERVAL_MS, threads=SDK_CONCURRENCY)
            )
        else:
            node = shutil.which("node")
            if node is None or not (JS_HOME / "node_modules" / "@io-orkes" / "conductor-javascript").is_dir():
                return {"error": "node or tests/server/js/node_modules missing (./dev test installs it)"}
        port = _free_port()
        proc = _start(Path(tmp) / "bench.db", port)
        worker: subprocess.Popen[bytes] | None = None
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port)
            _register_chain(conn, "bench_sdk", "bench_sdk_chain", length)
            api = f"http://127.0.0.1:{port}/api"
            if kind == "python":
                command = [sys.executable, "-c", _PY_MAIN, api, tmp]
            else:
                here = str(Path(__file__).resolve().parent / "serve_sdk_worker.mjs")
                command = [str(node), here, api, str(JS_HOME), str(SDK_INTERVAL_MS), str(SDK_CONCURRENCY)]
            worker = subprocess.Popen(
                command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
            )
            _call(conn, "POST", "/api/workflow/bench_sdk_chain", {})  # warm-up: the workers poll
            if not _wait_completed(conn, 1, 120):
                return {"error": f"the {kind} SDK workers completed no workflow in 120 s"}
            began = time.perf_counter()
            for _ in range(chains):
                _call(conn, "POST", "/api/workflow/bench_sdk_chain", {})
            finished = _wait_completed(conn, 1 + chains, 300)
            elapsed = time.perf_counter() - began
            if not finished:
                return {"error": f"the {kind} SDK workers did not complete {chains} workflows in 300 s"}
            # then idle: the same workers keep polling a queue that stays empty (no long poll: each
            # SDK asks again every poll interval)
            time.sleep(1.0)
            cpu0 = _cpu_seconds(proc.pid)
            time.sleep(IDLE_WINDOW)
            idle_pct = (_cpu_seconds(proc.pid) - cpu0) / IDLE_WINDOW * 100
            return {
                "tasks": chains * length,
                "workflows": chains,
                "elapsed_s": elapsed,
                "per_s": chains * length / elapsed,
                "idle_cpu_pct": idle_pct,
            }
        finally:
            if worker is not None:
                try:
                    os.killpg(worker.pid, signal.SIGKILL)  # the TaskHandler's worker processes too
                except ProcessLookupError:
                    pass
                worker.wait()
            _stop(proc)


def _measure_one(quick: bool, store_kind: str, source: str | None, idle: bool) -> dict[str, Any]:
    chains, length = (16, 50) if quick else (40, 100)
    with tempfile.TemporaryDirectory() as tmp:
        port = _free_port()
        proc = _start("memory" if store_kind == "memory" else Path(tmp) / "bench.db", port, source)
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port)
            _register_chain(conn, "bench_step", "bench_chain", length)
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

            idle_pct = window = 0.0
            if not idle:
                return {
                    "round_trips": sum(done),
                    "elapsed_s": elapsed,
                    "per_s": sum(done) / elapsed,
                    "server_cpu_per_rt_ms": busy_cpu / max(1, sum(done)) * 1000,
                    "workflows_completed": completed,
                    "workflows": chains,
                }
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
            window = IDLE_WINDOW
            cpu0 = _cpu_seconds(proc.pid)
            time.sleep(window)
            idle_pct = (_cpu_seconds(proc.pid) - cpu0) / window * 100
            idle_stop.set()
        finally:
            _stop(proc)
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


def measure_store_cost(store_kind: str, chains: int = 40, length: int = 100) -> dict[str, Any]:
    """The engine's and the store's CPU per round trip without HTTP, in this process.

    8 pollers in one event loop call the Service as the HTTP routes do (long poll, then the update),
    so each batch round carries 8 requests. CPU time, not wall time: it moves little with the load of
    a shared machine, so two trees (or stores) compare within a few per cent. On SQLite, automatic
    checkpoints are off during the run and the WAL's frames tell how many pages each round trip wrote
    to which table or index (dbstat).
    """
    import asyncio
    import sqlite3
    import struct
    from collections import Counter

    from flowkit.definitions import TaskDef, WorkflowDef
    from flowkit.server import Service

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cost.db"
        service = Service("memory" if store_kind == "memory" else path)
        try:
            service.register_task_defs([TaskDef.from_json({"name": "bench_step", "retryCount": 0})])
            tasks = [
                {"name": "bench_step", "taskReferenceName": f"s{i}", "type": "SIMPLE", "inputParameters": {"i": i}}
                for i in range(length)
            ]
            service.register_workflows(
                [WorkflowDef.from_json({"name": "bench_chain", "version": 1, "tasks": tasks})], overwrite=True
            )
            for _ in range(chains):
                service.start("bench_chain", 1, {})
            conn = getattr(service.store, "conn", None)
            if conn is not None:
                with service.store.session():
                    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                    conn.execute("PRAGMA wal_autocheckpoint=0")
            total, done = chains * length, [0]

            async def worker(k: int) -> None:
                while done[0] < total:
                    got = await service.long_poll("bench_step", f"w{k}", 1, 200)
                    if got:
                        task = got[0]
                        await service.update_task_async(
                            {
                                "taskId": task["taskId"],
                                "workflowInstanceId": task["workflowInstanceId"],
                                "status": "COMPLETED",
                                "outputData": {"ok": True},
                            }
                        )
                        done[0] += 1

            async def run() -> None:
                await asyncio.gather(*(worker(k) for k in range(CLIENTS)))

            rounds0, cpu0, began = service.batcher.rounds, time.process_time(), time.perf_counter()
            asyncio.run(run())
            cpu, elapsed = time.process_time() - cpu0, time.perf_counter() - began
            out: dict[str, Any] = {
                "store": store_kind,
                "round_trips": total,
                "cpu_per_rt_us": cpu / total * 1e6,
                "per_s": total / elapsed,
                "rounds_per_rt": (service.batcher.rounds - rounds0) / total,
            }
            wal = Path(f"{path}-wal")
            if conn is not None and wal.exists():
                raw = wal.read_bytes()
                pages: Counter[int] = Counter()
                for offset in range(32, len(raw) - 23, 24 + 4096):  # WAL frame: 24-byte header, then the page
                    pages[struct.unpack(">I", raw[offset : offset + 4])[0]] += 1
                with sqlite3.connect(path) as reader:
                    owner = dict(reader.execute("SELECT pageno, name FROM dbstat").fetchall())
                by_table: Counter[str] = Counter()
                for page, n in pages.items():
                    by_table[owner.get(page, "?")] += n
                out["pages_per_rt"] = sum(pages.values()) / total
                out["pages_per_rt_by_table"] = {name: round(n / total, 2) for name, n in by_table.most_common()}
            return out
        finally:
            service.close()


def render_serve(r: dict[str, Any]) -> list[str]:
    runs = r["runs"]
    lines = [
        f"## flowkit serve (HTTP API, {CLIENTS} keep-alive clients; targets ≥ {RT_TARGET:.0f} round trips/s, idle < {IDLE_TARGET} % of a core)",
        "",
        f"Load average when measured: {r['load']:.1f} on {os.cpu_count()} cores (the clients share them with the server).",
        "",
        "| measure | round trips/s | server CPU per round trip | verdict |",
        "|---|---:|---:|---|",
    ]
    for key, run in runs.items():
        store = "SQLite (default)" if key.endswith("sqlite") else "in-memory store"
        who = "baseline, " if key.startswith("baseline") else ""
        ok = "" if who else ("PASS" if run["per_s"] >= RT_TARGET else "FAIL")
        lines.append(
            f"| {who}poll → update, {store} ({run['round_trips']} in {run['elapsed_s']:.1f} s, "
            f"{run['workflows_completed']}/{run['workflows']} workflows COMPLETED) | {run['per_s']:.0f} | "
            f"{run['server_cpu_per_rt_ms']:.2f} ms | {ok} |"
        )
    for key, run in runs.items():
        if "idle_cpu_pct" in run:
            who = "baseline, " if key.startswith("baseline") else ""
            ok = "" if who else ("PASS" if run["idle_cpu_pct"] < IDLE_TARGET else "FAIL")
            lines.append(
                f"| {who}idle server, {CLIENTS} workers long-polling (30 s), CPU over {run['idle_window_s']:.0f} s "
                f"| {run['idle_cpu_pct']:.2f} % of a core | | {ok} |"
            )
    sdk_names = {"python": "Python SDK TaskHandler, `@worker_task`", "javascript": "JavaScript SDK TaskManager (Node)"}
    for kind, got in r.get("sdks", {}).items():
        if "error" in got:
            lines.append(f"| context: {sdk_names[kind]}: not measured ({got['error']}) | | | |")
            continue
        lines.append(
            f"| context: {sdk_names[kind]}, poll interval {SDK_INTERVAL_MS} ms, concurrency {SDK_CONCURRENCY}, SQLite "
            f"({got['tasks']} tasks of {got['workflows']} chains in {got['elapsed_s']:.1f} s) | {got['per_s']:.0f} tasks/s | | |"
        )
        if "idle_cpu_pct" in got:
            lines.append(
                f"| context: idle server, the same {sdk_names[kind]} workers polling every {SDK_INTERVAL_MS} ms "
                f"(no long poll), CPU over {IDLE_WINDOW:.0f} s | {got['idle_cpu_pct']:.2f} % of a core | | |"
            )
    return [*lines, ""]


if __name__ == "__main__":
    if "--store-cost" in sys.argv:  # python bench/serve_bench.py --store-cost: no HTTP, CPU per round trip
        for kind in ("memory", "sqlite"):
            print(json.dumps(measure_store_cost(kind)))
    else:
        print("\n".join(render_serve(measure_serve("--quick" in sys.argv))))
