"""Prefect 3 as a peer (``--only prefect``): the bench's workloads as Prefect flows, next to flowkit inline.

Prefect runs in a **child process** of a Python that has it: ``$FLOWKIT_PREFECT_PYTHON`` if set,
else this interpreter when ``import prefect`` works here (``pip install --group peers``, which
``./dev bench`` does the first time). The child keeps Prefect's side effects (its API server,
logging set-up, background threads) out of the rest of the bench. flowkit's runs of the same
workloads are measured here, in this process, just before the child runs.

How Prefect runs: no ``PREFECT_API_URL``, so the first flow run starts Prefect's **temporary local
API server** (a uvicorn subprocess on 127.0.0.1, port 8000-8999) with a SQLite database in a
fresh ``PREFECT_HOME`` (a temp dir, removed afterwards). Nothing leaves the machine: analytics off,
no API URL or key from the caller's environment. The fastest honest set-up measured here:

* logs at WARNING and not shipped to the API (``PREFECT_LOGGING_LEVEL``, ``PREFECT_LOGGING_TO_API_ENABLED``);
  with the defaults, every task run writes an INFO line and posts it, ≈2x slower on A;
* flow-run heartbeats off (``PREFECT_FLOWS_HEARTBEAT_FREQUENCY`` = None): with them on (the
  default, every 180 s), a flow run's exit joins the heartbeat thread, which sleeps in 1 s steps,
  so every run is rounded up to the next whole second. The 1-task flow is also timed that way
  (``fixed, heartbeats on``) to show what a user pays by default.

Workloads (same work items as bench/workloads.py): 0 = a 1-task flow (fixed cost of a flow run),
A = chain of 200 ``step`` tasks called one after the other inside a flow, B = ``leaf.map(range(n))``
+ a ``join`` task (default ThreadPoolTaskRunner), C = 64 ``nap`` tasks (50 ms sleep) mapped on
``ThreadPoolTaskRunner(max_workers=8)`` + join. Each flow is warmed up once (answer checked), then
timed best of N; before each timed run the child waits for the API server to go idle (its CPU
time stops growing), so a run does not pay for the previous run's backlog; the server's CPU time
from the run's start until it is idle again is reported per run (``server CPU ms``).
Ratio = Prefect best ÷ flowkit best for the same work items (flowkit: ``run(WorkflowDef,
validate=False)``, inline executor, in-memory store; C: threads executor, 8 workers).
"""

from __future__ import annotations

import gc
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MARK = "@@PREFECT_BENCH@@ "
SLEEP_S, C_LEAVES, C_PARALLEL = (
    0.05,
    64,
    8,
)  # = workloads.SLEEP_S, C_LEAVES, C_PARALLEL (the child can't import flowkit)
C_IDEAL_S = C_LEAVES / C_PARALLEL * SLEEP_S
SIZES = {"0": 1, "A": 200, "B": 1000, "C": C_LEAVES}
SIZES_QUICK = {"0": 1, "A": 200, "B": 250, "C": C_LEAVES}
REPEATS = {"0": 5, "0hb": 2, "A": 3, "B": 3, "C": 3}
REPEATS_QUICK = {"0": 3, "0hb": 2, "A": 2, "B": 2, "C": 2}
FK_REPEATS = {"0": 50, "A": 10, "B": 5, "C": 3}
DESCRIPTION = {
    "0": "1-task flow (fixed cost of a run)",
    "A": "chain of 200",
    "B": "fan-out + join",
    "C": f"{C_LEAVES} x sleep({int(SLEEP_S * 1000)} ms), {C_PARALLEL} at a time",
}
INSTALL_HINT = (
    "pip install --group peers (./dev bench does it), or set FLOWKIT_PREFECT_PYTHON to a python with prefect>=3"
)
CHILD_TIMEOUT_S = 900


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------- parent


def _prefect_python() -> str | None:
    py = os.environ.get("FLOWKIT_PREFECT_PYTHON")
    if py:
        return py
    return sys.executable if importlib.util.find_spec("prefect") is not None else None


def _flowkit(sizes: dict[str, int], defaults: bool = False) -> dict[str, dict[str, Any]]:
    """flowkit inline (prepared definition, in-memory store) on the same work items; C on threads(8).

    With ``defaults``: ``flowkit.run(dict, input, workers=...)`` and nothing else (threads, the SQLite store in
    ``$FLOWKIT_HOME``, which run.py points at a fresh temp dir; the fan-out written with forkTaskName).
    """
    import workloads as W

    import flowkit
    from flowkit.definitions import WorkflowDef

    def ok(ex: Any) -> Any:
        if str(getattr(ex.status, "value", ex.status)) != "COMPLETED":
            raise RuntimeError(f"flowkit run ended {ex.status}: {ex.reason}")
        return ex

    def prep(d: dict) -> Any:
        return WorkflowDef.from_json(d).validate()

    chain1, chain, fork, naps = (
        prep(W.fk_chain_def(1)),
        prep(W.fk_chain_def(sizes["A"])),
        prep(W.fk_fork_def("pf_B")),
        prep(W.fk_fork_def("pf_C")),
    )
    step, fan, nap = {"step": W.fk_step}, {"gen": W.fk_gen, "leaf": W.fk_leaf}, {"gen": W.fk_gen, "leaf": W.fk_nap}
    form = W.FORK_MAIN
    d_chain1, d_chain, d_fork, d_naps = (
        W.fk_chain_def(1),
        W.fk_chain_def(sizes["A"]),
        W.fk_fork_def("pf_B", form),
        W.fk_fork_def("pf_C", form),
    )
    d_fan, d_nap = W.fk_fork_workers(form), W.fk_fork_workers(form, W.fk_nap)
    dflt = "run(dict, input, workers=...): threads, SQLite store, validated"
    cases: dict[str, tuple[str, Callable[[], Any]]] = (
        {
            "0": (dflt, lambda: ok(flowkit.run(d_chain1, {"x": 0}, workers=step))),
            "A": (dflt, lambda: ok(flowkit.run(d_chain, {"x": 0}, workers=step))),
            "B": (
                f"gen → FORK_JOIN_DYNAMIC → JOIN, {dflt}",
                lambda: ok(flowkit.run(d_fork, {"n": sizes["B"]}, workers=d_fan)),
            ),
            "C": (
                f"FORK_JOIN_DYNAMIC, {dflt} (8 workers)",
                lambda: ok(flowkit.run(d_naps, {"n": sizes["C"]}, workers=d_nap)),
            ),
        }
        if defaults
        else {
            "0": (
                "inline, prepared, memory store",
                lambda: ok(
                    flowkit.run(chain1, {"x": 0}, workers=step, executor="inline", validate=False, store="memory")
                ),
            ),
            "A": (
                "inline, prepared, memory store",
                lambda: ok(
                    flowkit.run(chain, {"x": 0}, workers=step, executor="inline", validate=False, store="memory")
                ),
            ),
            "B": (
                "gen → FORK_JOIN_DYNAMIC → JOIN, inline, prepared, memory store",
                lambda: ok(
                    flowkit.run(fork, {"n": sizes["B"]}, workers=fan, executor="inline", validate=False, store="memory")
                ),
            ),
            "C": (
                f"FORK_JOIN_DYNAMIC, executor=threads, max_workers={C_PARALLEL}, memory store",
                lambda: ok(
                    flowkit.run(
                        naps,
                        {"n": sizes["C"]},
                        workers=nap,
                        executor="threads",
                        max_workers=C_PARALLEL,
                        validate=False,
                        store="memory",
                    )
                ),
            ),
        }
    )
    out: dict[str, dict[str, Any]] = {}
    for wl, (mode, fn) in cases.items():
        row: dict[str, Any] = {"engine": "flowkit", "mode": mode}
        try:
            row["tasks"] = len(fn().tasks)  # warm-up
            times = []
            for _ in range(FK_REPEATS[wl]):
                gc.collect()
                t0 = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t0)
            row.update(best_ms=min(times) * 1e3, median_ms=statistics.median(times) * 1e3, repeats=len(times))
        except Exception as exc:
            row["error"] = repr(exc)
        out[wl] = row
    return out


def measure_prefect(quick: bool) -> dict[str, Any]:
    py = _prefect_python()
    if py is None:
        return {"error": f"not installed: no module named 'prefect' in {sys.executable}"}
    sizes = SIZES_QUICK if quick else SIZES
    repeats = REPEATS_QUICK if quick else REPEATS
    log("[bench] prefect: flowkit side (inline, memory store) ...")
    out: dict[str, Any] = {"python": py, "sizes": sizes, "quick": quick, "flowkit": _flowkit(sizes)}
    log("[bench] prefect: flowkit defaults ...")
    out["flowkit_defaults"] = _flowkit(sizes, defaults=True)
    home = tempfile.mkdtemp(prefix="flowkit-bench-prefect-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}  # no API URL/key from the caller
    env.update(
        {
            "PREFECT_HOME": home,
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_SERVER_ALLOW_EPHEMERAL_MODE": "true",
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
            "PREFECT_LOGGING_LEVEL": "WARNING",
            "PREFECT_LOGGING_TO_API_ENABLED": "false",
            "PREFECT_UI_ENABLED": "false",
            "DO_NOT_TRACK": "1",
        }
    )
    log(f"[bench] prefect: child {py} (temporary API server on 127.0.0.1, PREFECT_HOME={home}) ...")
    try:
        proc = subprocess.run(
            [py, str(Path(__file__).resolve()), "--child", json.dumps({"sizes": sizes, "repeats": repeats})],
            env=env,
            cwd=home,
            capture_output=True,
            text=True,
            timeout=CHILD_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        out["error"] = f"error: the Prefect child took over {CHILD_TIMEOUT_S} s"
        return out
    finally:
        shutil.rmtree(home, ignore_errors=True)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith(MARK)), None)
    if line is None:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        out["error"] = f"error: child exited {proc.returncode}: {tail[:200]}"
        return out
    out.update(json.loads(line[len(MARK) :]))
    return out


def _ratio(best_ms: float, flowkit_row: dict[str, Any]) -> str:
    if "best_ms" not in flowkit_row:
        return ""
    q = best_ms / flowkit_row["best_ms"]
    return f"{q:.0f}" if q >= 10 else f"{q:.2f}"


def render_prefect(r: dict[str, Any]) -> list[str]:
    title = "## Prefect 3 (peer; temporary local API server, separate process)"
    if "error" in r and "prefect" not in r:
        if str(r["error"]).startswith("not installed"):
            return [title, "", f"Prefect {r['error']}; to include it: {INSTALL_HINT}.", ""]
        return [title, "", f"Prefect {r['error']}.", ""]
    if "error" in r and "rows" not in r:
        return [title, "", f"Prefect {r['error']}.", ""]
    sizes, fk, fd = r["sizes"], r["flowkit"], r.get("flowkit_defaults", {})
    fixed = next((x for x in r["rows"] if x["wl"] == "0" and "best_ms" in x), None)
    lines = [
        f"## Prefect {r.get('prefect', '?')} vs flowkit (Prefect in a child process: temporary API server on 127.0.0.1, "
        f"SQLite in a temp PREFECT_HOME, started in {r.get('startup_s', 0):.1f} s; logs WARNING and not sent to the "
        "API, heartbeats off unless stated)",
        "",
        "| workload | engine | how | tasks | N | best ms | median ms | µs/task | µs/task excl. fixed "
        "| server CPU ms/run | Prefect ÷ flowkit | Prefect ÷ flowkit defaults | C efficiency |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for x in r["rows"]:
        wl = x["wl"]
        label = f"{wl} ({sizes.get(wl, 1)})" if wl in ("A", "B") else wl
        if "best_ms" not in x:
            lines.append(f"| {label} | Prefect | {x.get('error', '')[:80]} | | | error | | | | | | | |")
            continue
        f, d = fk.get(wl, {}), fd.get(wl, {})
        for name, g in (("flowkit defaults", d), ("flowkit", f)):
            if not x.get("heartbeats") and "best_ms" in g:
                eff_f = f"{C_IDEAL_S * 1e3 / g['best_ms']:.3f}" if wl == "C" else ""
                lines.append(
                    f"| {label} | {name} | {g['mode']} | {g['tasks']} | {g['repeats']} | {g['best_ms']:.2f} | "
                    f"{g['median_ms']:.2f} | {g['best_ms'] * 1e3 / g['tasks']:.1f} | | | | | {eff_f} |"
                )
        ratio_f, ratio_d = (_ratio(x["best_ms"], g) for g in (f, d))

        excl = ""
        if fixed and wl != "0":
            excl = f"{max(0.0, x['best_ms'] - fixed['best_ms']) * 1e3 / x['tasks']:.0f}"
        eff = f"{C_IDEAL_S * 1e3 / x['best_ms']:.3f}" if wl == "C" else ""
        lines.append(
            f"| {label} | Prefect | {x['mode']} | {x['tasks']} | {x['repeats']} | {x['best_ms']:.1f} | "
            f"{x['median_ms']:.1f} | {x['best_ms'] * 1e3 / x['tasks']:.0f} | {excl} | "
            f"{x['server_cpu_ms']:.0f} | {ratio_f} | {ratio_d} | {eff} |"
        )
    quick_note = " (`--quick`: B with 250 leaves instead of 1000)" if sizes.get("B") != SIZES["B"] else ""
    lines += [
        "",
        "Fixed cost of one Prefect flow run (1-task flow, best): "
        + ", ".join(
            f"{x['mode'].split(', ', 1)[-1]} {x['best_ms']:.0f} ms"
            for x in r["rows"]
            if x["wl"] == "0" and "best_ms" in x
        )
        + f"; flowkit {fk.get('0', {}).get('best_ms', float('nan')) * 1e3:.0f} µs.{quick_note}",
        "µs/task = best ÷ tasks run (Prefect: task runs incl. the join task; flowkit: every task of the execution). "
        "`excl. fixed` subtracts the 1-task flow's best. `server CPU ms/run`: CPU time of Prefect's API server "
        "process from the run's start until it is idle again (median) — work the flow's wall time does not show. "
        "Prefect ÷ flowkit divides best totals for the same work items; C compares with flowkit on threads(8). "
        "`flowkit defaults`: `flowkit.run(dict, input, workers=...)` and nothing else (fork written with forkTaskName).",
        "",
    ]
    return lines


# ---------------------------------------------------------------------------------------------- child


def _child(cfg: dict[str, Any]) -> dict[str, Any]:  # pragma: no cover - runs in the Prefect interpreter
    import contextlib

    t0 = time.perf_counter()
    import prefect
    from prefect import flow, task
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
    from prefect.task_runners import ThreadPoolTaskRunner

    import_s = time.perf_counter() - t0
    sizes, repeats = cfg["sizes"], cfg["repeats"]

    @task
    def step(x: int) -> int:
        return x + 1

    @task
    def leaf(i: int) -> int:
        return i * 2

    @task
    def nap(i: int) -> int:
        time.sleep(SLEEP_S)
        return i * 2

    @task
    def join(ys: list[int]) -> list[int]:
        return list(ys)

    @flow
    def one(x: int) -> int:
        return step(x)

    @flow
    def chain(n: int) -> int:
        x = 0
        for _ in range(n):
            x = step(x)
        return x

    @flow
    def fan(n: int) -> list[int]:
        return join(leaf.map(range(n)))

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=C_PARALLEL))
    def naps(n: int) -> list[int]:
        return join(nap.map(range(n)))

    def server_cpu_s() -> float:
        from prefect.server.api.server import SubprocessASGIServer

        total = 0.0
        for srv in list(SubprocessASGIServer._instances.values()):
            proc = getattr(srv, "server_process", None)
            if proc is None:
                continue
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total

    def settle(limit_s: float = 20.0) -> None:
        """Wait until the API server's CPU time stops growing (its backlog of events is done)."""
        end = time.perf_counter() + limit_s
        last = server_cpu_s()
        while time.perf_counter() < end:
            time.sleep(0.25)
            now = server_cpu_s()
            if now - last < 0.01:
                return
            last = now

    out: dict[str, Any] = {"prefect": prefect.__version__, "import_s": import_s, "rows": []}
    t0 = time.perf_counter()
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        one(0)  # starts the temporary API server
    out["startup_s"] = time.perf_counter() - t0

    n_a, n_b, n_c = sizes["A"], sizes["B"], sizes["C"]
    cases: list[tuple[str, str, bool, Callable[[], Any], Callable[[Any], bool], int]] = [
        ("0", "1-task flow, heartbeats off", False, lambda: one(0), lambda r: r == 1, 1),
        ("0", "1-task flow, heartbeats on (default)", True, lambda: one(0), lambda r: r == 1, 1),
        ("A", f"{n_a} x step(x) called in turn in a flow", False, lambda: chain(n_a), lambda r: r == n_a, n_a),
        (
            "B",
            f"join(leaf.map(range({n_b}))), default ThreadPoolTaskRunner",
            False,
            lambda: fan(n_b),
            lambda r: len(r) == n_b and r[-1] == (n_b - 1) * 2,
            n_b + 1,
        ),
        (
            "C",
            f"join(nap.map(range({n_c}))), ThreadPoolTaskRunner(max_workers={C_PARALLEL})",
            False,
            lambda: naps(n_c),
            lambda r: len(r) == n_c,
            n_c + 1,
        ),
    ]
    for wl, mode, heartbeats, fn, check, tasks in cases:
        row: dict[str, Any] = {"wl": wl, "mode": mode, "tasks": tasks, "heartbeats": heartbeats}
        updates = {} if heartbeats else {PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}
        try:
            with temporary_settings(updates=updates):
                print(f"[prefect child] {wl}: {mode} ...", file=sys.stderr, flush=True)
                if not check(fn()):  # warm-up
                    raise AssertionError(f"wrong answer from Prefect on {wl}")
                times, cpu = [], []
                for _ in range(repeats["0hb" if heartbeats else wl]):
                    settle()
                    gc.collect()
                    c0 = server_cpu_s()
                    t0 = time.perf_counter()
                    fn()
                    times.append(time.perf_counter() - t0)
                    settle()
                    cpu.append(server_cpu_s() - c0)
            row.update(
                best_ms=min(times) * 1e3,
                median_ms=statistics.median(times) * 1e3,
                repeats=len(times),
                server_cpu_ms=statistics.median(cpu) * 1e3,
            )
        except Exception as exc:
            row["error"] = repr(exc)
        out["rows"].append(row)
    return out


if __name__ == "__main__" and sys.argv[1:2] == ["--child"]:
    result = _child(json.loads(sys.argv[2]))
    print(MARK + json.dumps(result), flush=True)
