"""Benchmarks: flowkit (its defaults first) vs Apache Hamilton, Dask and Prefect, all measured in ONE process run.

    PYTHONPATH=. python bench/run.py                 # full run (≈ 10 min on 2 quiet cores; Prefect when installed)
    PYTHONPATH=. python bench/run.py --quick         # fewer repeats (writes results/quick.md)
    PYTHONPATH=. python bench/run.py --only A,B      # a subset: 0, A, B, B10k, C, first, scripts, dask, scale, monitor, render, serve, prefect, import
    PYTHONPATH=. python bench/run.py --only defaults --quick   # issue 15's figures (0, A, B, first run), ~1 min
    PYTHONPATH=. python bench/run.py --profile A,B   # cProfile flowkit (inline) instead of benchmarking

Results are printed and written to bench/results/latest.md (+ latest.json); `--only serve` writes
bench/results/serve.md (+ serve.json) instead.  See bench/README.md for the workloads, the counting
rule and how to read the numbers.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for p in (str(HERE), str(ROOT)):
    if p not in sys.path:
        sys.path.insert(0, p)
os.environ.setdefault("HAMILTON_TELEMETRY_ENABLED", "false")  # no-op on hamilton >= 1.89, kept for older ones

import workloads as W  # noqa: E402

ALL = [
    "0",
    "A",
    "B",
    "B10k",
    "C",
    "first",
    "scripts",
    "dask",
    "scale",
    "monitor",
    "render",
    "serve",
    "prefect",
    "import",
]
ALIASES = {"defaults": ["0", "A", "B", "first"]}  # --only defaults: what the defaults targets need
# Measured by their own modules (id -> module, what the log says, name behind its measure_/render_ functions).
EXTRA_MODULES = {
    "scripts": ("scripts", "JavaScript/jq per evaluation, DO_WHILE 1k and 10k iterations", "scripts"),
    "dask": ("dask_bench", "flowkit DaskExecutor vs raw client.submit on one LocalCluster (A, B, C)", "dask"),
    "scale": ("dask_bench", "100k dynamic fork, memory per task, concurrent workflows", "scale"),
    "monitor": ("monitor_bench", "live notebook monitor overhead on A, B and a 50,000-leaf fork", "monitor"),
    "render": ("render_bench", "diagrams of a 200-task definition and of a 10,000-branch run", "render"),
    "serve": ("serve_bench", "flowkit serve: poll -> update round trips over HTTP, idle long-polling CPU", "serve"),
    "prefect": ("prefect_bench", "Prefect 3 flows (local API server, child process) vs flowkit inline", "prefect"),
}
EXTRA = ("import", "first", *EXTRA_MODULES)  # not measured by measure()
SIZE = {"0": 1, "A": 200, "B": 1000, "B10k": 10_000, "C": W.C_LEAVES}
ENGINES = {
    "0": ["flowkit", "hamilton", "dask"],
    "A": ["flowkit", "hamilton", "dask"],
    "B": ["flowkit", "hamilton", "dask"],
    # B10k: Hamilton's best formulation only (its shared-input and parallel versions take seconds per run).
    "B10k": ["flowkit", "hamilton", "dask"],
    "C": ["flowkit", "hamilton", "dask"],
}
REPEATS = {"0": 300, "A": 30, "B": 10, "B10k": 5, "C": 5}
REPEATS_QUICK = {"0": 60, "A": 8, "B": 5, "B10k": 3, "C": 3}
IMPORT_REPEATS, IMPORT_REPEATS_QUICK = 5, 5
FIRST_REPEATS, FIRST_REPEATS_QUICK = 9, 5
DESCRIPTION = {
    "0": "one task (fixed cost of a run)",
    "A": "chain of 200 tasks",
    "B": "dynamic fork of 1000 + join",
    "B10k": "dynamic fork of 10,000 + join",
    "C": f"{W.C_LEAVES} x sleep({int(W.SLEEP_S * 1000)} ms), {W.C_PARALLEL} at a time",
}
IMPORT_TARGET_MS = 150.0
# Issue 15 ("Fast by default") targets.
ONE_TASK_TARGET_MS = 0.3  # defaults, workload 0
FIRST_RUN_TARGET_MS = 150.0  # defaults, fresh process, import flowkit included
DEFAULTS_VS_PEER = 2.0  # defaults µs/task ÷ Hamilton's best µs/task, A and B
TUNED_VS_PEER = 1.0  # inline+memory prepared µs/task ÷ Hamilton's best, A and B
SQLITE_VS_MEMORY = 1.5  # defaults ÷ the same run on the in-memory store (default executor), A and B
C_TARGET = 0.98
LINEAR_TARGET = 11.0
C_IDEAL_S = W.C_LEAVES / W.C_PARALLEL * W.SLEEP_S


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------- timing


def measure(workload: str, repeats: int) -> list[dict[str, Any]]:
    """Warm every case up once (and check its answer), then time them round-robin, best of ``repeats``."""
    n = SIZE[workload]
    rows: list[dict[str, Any]] = []
    cases: list[tuple[dict[str, Any], Any]] = []
    for engine in ENGINES[workload]:
        try:
            built = W.BUILDERS[engine](workload, n)
        except W.NotInstalled as exc:
            rows.append(
                {"workload": workload, "engine": engine, "mode": "", "status": "not installed", "error": str(exc)}
            )
            continue
        except Exception as exc:  # a peer API change must not kill the whole run
            rows.append({"workload": workload, "engine": engine, "mode": "", "status": "error", "error": repr(exc)})
            continue
        for case in built:
            row = {
                "workload": workload,
                "engine": case.engine,
                "mode": case.mode,
                "status": "ok",
                "times": [],
                "role": case.role,
                "setup_ms": None if case.setup_s is None else case.setup_s * 1e3,
                "setup_note": case.setup_note,
            }
            try:
                t0 = time.perf_counter()
                result = case.run()  # warm-up (also the correctness check)
                row["warmup_ms"] = (time.perf_counter() - t0) * 1e3
                case.check(result)
                row["tasks"] = case.tasks(result)
                del result
                cases.append((row, case))
            except Exception as exc:
                row["status"], row["error"] = "error", repr(exc)
            rows.append(row)
    # Round-robin so slow drifts of a noisy machine hit every engine alike; rotate the start each round.
    # Each timed run directly follows an untimed run of the same case: a run that follows another
    # engine's pays ~2-3 µs/task (flowkit chain, measured) to bring its code and data back into the
    # caches, and in a fixed order the same case would always pay it (the first flowkit row came
    # after the last Dask row in every round).
    collect_every = 1 if workload != "0" else 25
    for r in range(repeats):
        if r % collect_every == 0:
            gc.collect()
        k = r % max(1, len(cases))
        for row, case in cases[k:] + cases[:k]:
            case.run()
            t0 = time.perf_counter()
            case.run()
            row["times"].append(time.perf_counter() - t0)
    work = n
    for row in rows:
        if row.get("times"):
            row["best_ms"] = min(row["times"]) * 1e3
            row["median_ms"] = statistics.median(row["times"]) * 1e3
            row["us_per_task"] = row["best_ms"] * 1e3 / row["tasks"]
            row["us_per_item"] = row["best_ms"] * 1e3 / work
            row["repeats"] = len(row["times"])
        row.pop("times", None)
    return rows


def generator_costs(n: int = 1000, repeats: int = 5) -> dict[str, float]:
    """µs per branch of each fork form's generator task: the worker's call and flowkit's copy of its output.

    The forms' rows run different generators: the dynamicTasks forms' returns a task list and an
    input map (2n dicts), forkTaskName's n inputs. This is the part of a row that is the user's work.
    """
    from flowkit.workers._record import record_output

    out = {}
    for form in W.FORK_FORMS:
        gen = W.fk_fork_workers(form)["gen"]
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            for _ in range(10):
                record_output(gen(n), None)
            best = min(best, (time.perf_counter() - t0) / 10)
        out[form] = best * 1e6 / n
    return out


def row(rows: list[dict[str, Any]], engine: str) -> dict[str, Any] | None:
    return next((r for r in rows if r["engine"] == engine and "best_ms" in r), None)


def ref_rows(rows: list[dict[str, Any]]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The rows every other row is divided by: flowkit defaults and flowkit inline+memory prepared."""
    return row(rows, W.DEFAULTS), row(rows, W.PREPARED)


def hamilton_best(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Hamilton's fastest row per task (its best formulation of the work)."""
    ham = [r for r in rows if r["engine"].startswith("hamilton") and "best_ms" in r]
    return min(ham, key=lambda r: r["us_per_task"]) if ham else None


# ---------------------------------------------------------------------------------------------- import time


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("PYTHONSTARTUP", None)
    return env


def _wall(code: str, env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        check=True,
        cwd=str(ROOT),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - t0


# The first run in a fresh process, as a user's script or first notebook cell does it: defaults only.
FIRST_MARK = "@@FIRST_RUN@@"
FIRST_RUN_DEFAULTS = (
    "import time\nt0 = time.perf_counter()\n"
    "import flowkit\nt1 = time.perf_counter()\n"
    "def step(x: int):\n    return {'x': x + 1}\n"
    "wf = {'name': 'one', 'version': 1, 'tasks': [{'name': 'step', 'taskReferenceName': 's0',"
    " 'inputParameters': {'x': '${workflow.input.x}'}}]}\n"
    "ex = flowkit.run(wf, {'x': 0}, workers={'step': step})\n"
    "t2 = time.perf_counter()\n"
    "assert str(ex.status).endswith('COMPLETED'), ex.status\n"
    f"print({FIRST_MARK!r}, (t1 - t0) * 1e3, (t2 - t1) * 1e3)\n"
)


def first_run(repeats: int) -> dict[str, Any]:
    """``import flowkit`` + one defaults ``run()`` in fresh subprocesses: wall minus ``python -c pass``.

    ``new store``: a fresh ``FLOWKIT_HOME`` each time (the store file is created); ``existing store``: one
    ``FLOWKIT_HOME`` whose store already holds the earlier runs. Rounds are interleaved with the baseline.
    """
    import shutil
    import tempfile

    env = _env()
    # As an installed flowkit runs: from compiled bytecode (pip compiles it at install; a checkout
    # writes it at the first import). With PYTHONDONTWRITEBYTECODE set, every process would compile
    # flowkit's sources again (~50 ms) - a cost no user pays twice. The bytecode goes to a temp folder,
    # never into the checkout; the untimed warm-up run below writes it.
    pycache = tempfile.mkdtemp(prefix="flowkit-bench-pycache-")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = pycache
    kept = tempfile.mkdtemp(prefix="flowkit-bench-first-")
    walls: dict[str, list[float]] = {"baseline": [], "new store": [], "existing store": []}
    split: dict[str, list[tuple[float, float]]] = {"new store": [], "existing store": []}

    def once(home: str) -> tuple[float, tuple[float, float]]:
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-c", FIRST_RUN_DEFAULTS],
            env={**env, "FLOWKIT_HOME": home},
            cwd=str(ROOT),
            capture_output=True,
            text=True,
            check=True,
        )
        wall = time.perf_counter() - t0
        line = next(ln for ln in proc.stdout.splitlines() if ln.startswith(FIRST_MARK))
        imp, run = (float(x) for x in line.split()[1:3])
        return wall, (imp, run)

    out: dict[str, Any] = {"repeats": repeats}
    try:
        once(kept)  # the existing store's first run, untimed
        for _ in range(repeats):
            walls["baseline"].append(_wall("pass", env))
            fresh = tempfile.mkdtemp(prefix="flowkit-bench-first-")
            try:
                wall, parts = once(fresh)
            finally:
                shutil.rmtree(fresh, ignore_errors=True)
            walls["new store"].append(wall)
            split["new store"].append(parts)
            wall, parts = once(kept)
            walls["existing store"].append(wall)
            split["existing store"].append(parts)
    except (subprocess.CalledProcessError, StopIteration) as exc:
        err = getattr(exc, "stderr", "") or ""
        out["error"] = f"{exc!r} {err.strip().splitlines()[-1] if err.strip() else ''}"
        return out
    finally:
        shutil.rmtree(kept, ignore_errors=True)
        shutil.rmtree(pycache, ignore_errors=True)
    base = walls["baseline"]
    out["baseline_ms"] = {"best": min(base) * 1e3, "median": statistics.median(base) * 1e3}
    for key in ("new store", "existing store"):
        w, parts = walls[key], split[key]
        out[key] = {
            "best_ms": (min(w) - min(base)) * 1e3,
            "median_ms": (statistics.median(w) - statistics.median(base)) * 1e3,
            "import_ms": {"best": min(p[0] for p in parts), "median": statistics.median(p[0] for p in parts)},
            "run_ms": {"best": min(p[1] for p in parts), "median": statistics.median(p[1] for p in parts)},
        }
    return out


FIRST_RUN = (
    "import flowkit\n"
    "def step(x: int):\n    return {'x': x + 1}\n"
    "wf = {'name': 'one', 'version': 1, 'tasks': [{'name': 'step', 'taskReferenceName': 's0',"
    " 'inputParameters': {'x': '${workflow.input.x}'}}]}\n"
    "assert str(flowkit.run(wf, {'x': 0}, workers={'step': step}, executor='inline').status).endswith('COMPLETED')\n"
)


def import_times(repeats: int) -> dict[str, Any]:
    env = _env()
    snippets = {
        "baseline": "pass",
        "flowkit": "import flowkit",
        "flowkit + first run (inline)": FIRST_RUN,
        "dask": "import dask, dask.threaded",
        "hamilton": "from hamilton import driver",
    }
    best = {k: float("inf") for k in snippets}
    failed: dict[str, str] = {}
    for _ in range(repeats):  # interleaved, best of N
        for key, code in snippets.items():
            if key in failed:
                continue
            try:
                best[key] = min(best[key], _wall(code, env))
            except subprocess.CalledProcessError as exc:
                failed[key] = f"exit {exc.returncode}"
    base = best["baseline"]
    out: dict[str, Any] = {"baseline_ms": base * 1e3, "wall_ms": {}, "failed": failed}
    for key in snippets:
        if key != "baseline" and key not in failed:
            out["wall_ms"][key] = (best[key] - base) * 1e3
    # -X importtime: flowkit's own cumulative figure and the biggest contributors (startup modules excluded).
    try:

        def parse(code: str) -> list[tuple[int, int, str]]:
            proc = subprocess.run(
                [sys.executable, "-X", "importtime", "-c", code],
                env=env,
                cwd=str(ROOT),
                capture_output=True,
                text=True,
                check=True,
            )
            rows = []
            for line in proc.stderr.splitlines():
                if not line.startswith("import time:") or "self [us]" in line:
                    continue
                self_us, cum_us, name = line.split(":", 1)[1].split("|", 2)
                rows.append((int(self_us), int(cum_us), name.rstrip()))
            return rows

        startup = {name.strip() for _, _, name in parse("pass")}
        best_rows: list[tuple[int, int, str]] | None = None
        best_cum = float("inf")
        for _ in range(3):
            rows = parse("import flowkit")
            cum = next((c for s, c, nm in rows if nm.strip() == "flowkit" and not nm.startswith("  ")), None)
            if cum is None:
                cum = next(c for s, c, nm in rows if nm.strip() == "flowkit")
            if cum < best_cum:
                best_cum, best_rows = cum, rows
        assert best_rows is not None
        extra = [(s, c, nm.strip()) for s, c, nm in best_rows if nm.strip() not in startup]
        out["importtime_flowkit_ms"] = best_cum / 1e3
        out["importtime_modules"] = len(extra)
        out["importtime_top_self"] = [(nm, s / 1e3) for s, c, nm in sorted(extra, key=lambda t: -t[0])[:8]]
        out["importtime_top_level"] = [
            (nm.strip(), c / 1e3)
            for s, c, nm in sorted(
                (
                    (s, c, nm)
                    for s, c, nm in best_rows
                    if nm.strip() not in startup and (len(nm) - len(nm.lstrip())) == 3
                ),
                key=lambda t: -t[1],
            )[:8]
        ]
    except Exception as exc:  # importtime parsing is best effort
        out["importtime_error"] = repr(exc)
    return out


# ---------------------------------------------------------------------------------------------- profile


def _is_run(key: tuple[str, int, str]) -> bool:
    """``flowkit.run`` itself (flowkit/_api.py, or flowkit/runtime/_run.py since the runtime package)."""
    return key[2] == "run" and key[0].replace(os.sep, "/").endswith(("flowkit/_api.py", "flowkit/runtime/_run.py"))


def profile(workloads: list[str], outdir: Path, engine: str = W.INLINE) -> None:
    import cProfile
    import pstats

    for wl in workloads:
        cases = [c for c in W.flowkit_cases(wl, SIZE[wl]) if c.engine == engine]
        if not cases:
            log(f"no {engine} case for {wl}")
            continue
        case = cases[0]
        case.check(case.run())
        runs = {"0": 200, "A": 20, "B": 5, "B10k": 1}.get(wl, 3)
        gc.collect()
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(runs):
            case.run()
        prof.disable()
        st = pstats.Stats(prof)
        entries = st.stats  # type: ignore[attr-defined]
        # denominator: flowkit.run()'s own cumulative time (the sum of own times undercounts slightly)
        total = max([st.total_tt] + [v[3] for k, v in entries.items() if _is_run(k)])  # type: ignore[attr-defined]
        path = outdir / f"profile_{wl}.txt"
        with path.open("w") as fh:
            st2 = pstats.Stats(prof, stream=fh)
            fh.write(f"# {engine}, workload {wl} ({DESCRIPTION[wl]}), {runs} runs under cProfile\n\n")
            st2.sort_stats("cumulative").print_stats(45)
            st2.sort_stats("tottime").print_stats(30)

        def short(key: tuple[str, int, str]) -> str:
            fn, line, name = key
            fn = fn.replace(str(ROOT) + os.sep, "")
            if "site-packages" in fn or "/lib/python" in fn:
                fn = fn.rsplit("/", 1)[-1]
            return f"{fn}:{line}({name})"

        print(
            f"\n### cProfile, {engine}, {wl}: {DESCRIPTION[wl]} -- {runs} runs, {total:.3f} s profiled "
            f"({total / runs * 1e3:.1f} ms/run under the profiler)"
        )
        print("\nTop by cumulative time (share of total), flowkit frames below run():")
        cum = sorted(entries.items(), key=lambda kv: -kv[1][3])
        shown = 0
        for key, (_cc, nc, _tt, ct, _callers) in cum:
            if "flowkit" not in key[0] or _is_run(key):
                continue
            print(f"  {ct / total:6.1%}  cum {ct / runs * 1e3:7.2f} ms/run  calls/run {nc / runs:8.0f}  {short(key)}")
            shown += 1
            if shown >= 22:
                break
        print("\nTop by own time (tottime share):")
        for key, (_cc, nc, tt, _ct, _callers) in sorted(entries.items(), key=lambda kv: -kv[1][2])[:15]:
            print(f"  {tt / total:6.1%}  own {tt / runs * 1e3:7.2f} ms/run  calls/run {nc / runs:8.0f}  {short(key)}")
        by_file: dict[str, float] = {}
        for key, (_cc, _nc, tt, _ct, _callers) in entries.items():
            f = short(key).split(":")[0]
            by_file[f] = by_file.get(f, 0.0) + tt
        print("\nOwn time by file:")
        for f, tt in sorted(by_file.items(), key=lambda kv: -kv[1])[:10]:
            print(f"  {tt / total:6.1%}  {f}")
        print(f"\n(full listing: {path.relative_to(ROOT)})")


# ---------------------------------------------------------------------------------------------- report


def fmt(v: Any, spec: str = ".1f") -> str:
    return "—" if v is None else format(v, spec)


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Issue 15's targets, each with the measured figure and PASS/FAIL (only those this run measured)."""
    bench, out = results["bench"], []

    def add(what: str, value: float, limit: float, unit: str, figure: str, higher_is_better: bool = False) -> None:
        ok = value >= limit if higher_is_better else value <= limit
        sign = "≥" if higher_is_better else "≤"
        out.append(
            {
                "target": what,
                "figure": figure,
                "value": value,
                "limit": f"{sign} {limit:g}{unit}",
                "verdict": _verdict(ok),
            }
        )

    if "0" in bench and (d := row(bench["0"], W.DEFAULTS)):
        add(
            "defaults: one-task run",
            d["best_ms"],
            ONE_TASK_TARGET_MS,
            " ms",
            f"{d['best_ms']:.3f} ms (median {d['median_ms']:.3f})",
        )
    first = results.get("first")
    if first and "new store" in first:
        f = first["new store"]
        add(
            "defaults: first run in a fresh process (import + new store + run)",
            f["best_ms"],
            FIRST_RUN_TARGET_MS,
            " ms",
            f"{f['best_ms']:.0f} ms (median {f['median_ms']:.0f})",
        )
    for wl, name in (("A", "chain 200"), ("B", "fan-out 1,000")):
        rows = bench.get(wl)
        if not rows:
            continue
        ham = hamilton_best(rows)
        for engine, label, limit in (
            (W.DEFAULTS, "defaults", DEFAULTS_VS_PEER),
            (W.PREPARED, "inline+memory prepared", TUNED_VS_PEER),
        ):
            r = row(rows, engine)
            if r and ham:
                q = r["us_per_task"] / ham["us_per_task"]
                add(
                    f"{label}: {name} ÷ Hamilton's best, per task",
                    q,
                    limit,
                    "×",
                    f"{q:.2f}× ({r['us_per_task']:.1f} vs {ham['us_per_task']:.1f} µs/task)",
                )
        d, m = row(rows, W.DEFAULTS), row(rows, W.THREADS)
        if d and m:
            q = d["best_ms"] / m["best_ms"]
            add(
                f"SQLite ÷ memory, default executor: {name}",
                q,
                SQLITE_VS_MEMORY,
                "",
                f"{q:.2f} ({d['us_per_task']:.1f} vs {m['us_per_task']:.1f} µs/task)",
            )
    if "B" in bench and "B10k" in bench and (b := row(bench["B"], W.INLINE)) and (b10 := row(bench["B10k"], W.INLINE)):
        q = b10["best_ms"] / b["best_ms"]
        add("linear growth B10k ÷ B (inline+memory)", q, LINEAR_TARGET, "", f"{q:.2f}")
    if "C" in bench and (c := row(bench["C"], "flowkit threads")):
        e = C_IDEAL_S * 1e3 / c["best_ms"]
        add("C parallel efficiency (threads, 8 workers)", e, C_TARGET, "", f"{e:.3f}", higher_is_better=True)
    dask = results.get("dask")
    if dask and "workloads" in dask:
        from dask_bench import RATIO_TARGET

        for wl, rows in dask["workloads"].items():
            fl, raw = row(rows, "flowkit dask"), row(rows, "raw client.submit")
            if fl and raw:
                q = fl["best_ms"] / raw["best_ms"]
                add(f"DaskExecutor ÷ raw client.submit: {wl}", q, RATIO_TARGET, "×", f"{q:.2f}×")
    monitor = results.get("monitor")
    if monitor and "workloads" in monitor:
        from monitor_bench import OVERHEAD_TARGET

        for wl, x in monitor["workloads"].items():
            if "ratio" in x:
                add(f"monitor overhead: {wl}", x["ratio"], OVERHEAD_TARGET, "×", f"{x['ratio']:.3f}×")
    return out


def render(results: dict[str, Any]) -> str:
    meta = results["meta"]
    lines = [
        "# flowkit benchmarks",
        "",
        f"- date: {meta['date']}  ·  mode: {'quick' if meta['quick'] else 'full'}  ·  python {meta['python']}  ·  "
        f"{meta['platform']}  ·  {meta['cpus']} CPUs  ·  loadavg at start {meta['loadavg']}"
        + (f", at end {meta['loadavg_end']}" if meta.get("loadavg_end") else ""),
        f"- versions: flowkit {meta['versions'].get('flowkit')}, apache-hamilton {meta['versions'].get('hamilton')}, "
        f"dask {meta['versions'].get('dask')}",
        "- every number below comes from this single run (the machine is noisy; compare only within one file).",
        "- timing: warm-up once (answer checked), then best (min) of N round-robin repeats; median shown too. "
        "Each timed run directly follows an untimed run of the same case, so no row pays for the engine run before it.",
        "- µs/task = best total / tasks the engine ran; µs/item = best total / work items (0: 1, A: 200, B: 1000, "
        "B10k: 10000). Ratios compare µs/task.",
        f"- `{W.DEFAULTS}` is `flowkit.run(definition_dict, input, workers=...)` and nothing else: threads executor, "
        "SQLite store in a fresh `$FLOWKIT_HOME`, definition validated on every call.",
        "",
    ]
    goals = results.get("targets") or []
    if goals:
        lines += [
            "## Targets (issue 15: fast by default; the existing targets unchanged)",
            "",
            "| target | measured | limit | verdict |",
            "|---|---|---|---|",
        ]
        lines += [f"| {g['target']} | {g['figure']} | {g['limit']} | {g['verdict']} |" for g in goals]
        fails = sum(g["verdict"] == "FAIL" for g in goals)
        lines += ["", f"{len(goals) - fails} PASS, {fails} FAIL.", ""]
    bench = results["bench"]
    table_wl = [w for w in ("0", "A", "B", "B10k") if w in bench]
    if table_wl:
        lines += [
            "## Throughput",
            "",
            "| workload | engine | how | tasks run | N | best ms | median ms | µs/task | µs/item "
            "| defaults ÷ row | inline+memory prepared ÷ row | setup ms |",
            "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for wl in table_wl:
            rows = bench[wl]
            dflt, tuned = ref_rows(rows)
            for r in rows:
                if "best_ms" not in r:
                    lines.append(
                        f"| {wl} | {r['engine']} | {r.get('error', '')[:60]} | | | {r['status']} | | | | | | |"
                    )
                    continue
                rd = dflt["us_per_task"] / r["us_per_task"] if dflt else None
                rt = tuned["us_per_task"] / r["us_per_task"] if tuned else None
                setup = fmt(r.get("setup_ms"), ".2f")
                if r.get("setup_ms") is not None and "included" in r.get("setup_note", ""):
                    setup += " (incl.)"
                name = f"**{r['engine']}**" if r["engine"] == W.DEFAULTS else r["engine"]
                lines.append(
                    f"| {wl} | {name} | {r['mode']} | {r['tasks']} | {r['repeats']} | {r['best_ms']:.3f} | "
                    f"{r['median_ms']:.3f} | {r['us_per_task']:.1f} | {r['us_per_item']:.1f} | {fmt(rd, '.2f')} | "
                    f"{fmt(rt, '.2f')} | {setup} |"
                )
        lines += [
            "",
            "Ratio columns: the flowkit row's µs/task divided by this row's (> 1 means flowkit is slower). Hamilton "
            "rows say `best` (its fastest formulation of the work, the one the targets compare with) or `context`. "
            "B's flowkit rows write the fork as `forkTaskName` + `forkTaskInputs`; the rows tagged "
            "`[dynamicForkTasksParam]` and `[sdk-legacy]` run the same fan-out written the other two ways. "
            "`setup ms`: building the engine's artefact — Hamilton module exec + `Builder.build()` and Dask's graph "
            "dict are *excluded* from the timing; flowkit's parse + validate is *included* in `run(dict)` rows "
            "(`(incl.)`), the `prepared` rows run a pre-parsed definition with `validate=False`.",
            "",
        ]
    if "0" in bench:
        lines.append(
            "Fixed cost of one run (workload 0, best): "
            + ", ".join(f"{r['engine']} {r['best_ms'] * 1e3:.0f} µs" for r in bench["0"] if "best_ms" in r)
            + "."
        )
        lines.append("")
    if "B" in bench:
        forms = [
            (
                f,
                row(bench["B"], W.DEFAULTS if f == W.FORK_MAIN else f"{W.DEFAULTS} [{f}]"),
                row(bench["B"], W.PREPARED if f == W.FORK_MAIN else f"{W.PREPARED} [{f}]"),
            )
            for f in W.FORK_FORMS
        ]
        if any(d or p for _, d, p in forms):
            lines += [
                "## Dynamic-fork forms (B, µs/task; issue 15 item 2: every form equally fast)",
                "",
                "| form | defaults | inline+memory prepared | generator, µs/branch | inline+memory prepared "
                "minus generator |",
                "|---|---:|---:|---:|---:|",
            ]
            gens = results.get("forms_generator") or {}
            for f, d, p in forms:
                g = gens.get(f)
                rest = p["best_ms"] * 1e3 / SIZE["B"] - g if p and g is not None else None  # per branch
                lines.append(
                    f"| {W.FORK_FORMS[f]} | {fmt(d and d['us_per_task'])} | {fmt(p and p['us_per_task'])} "
                    f"| {fmt(g, '.2f')} | {fmt(rest)} |"
                )
            lines += [
                "",
                "`generator`: the gen task's worker call and flowkit's copy of its output, per branch, timed alone. "
                "The forms run different generators (the dynamicTasks forms' returns a task list and an input "
                "map, 2,000 dicts for 1,000 branches; forkTaskName's the 1,000 inputs), so the rows differ by "
                "that much of the user's own work; the last column, per branch, is the rest of the run.",
                "",
            ]
    durable = [(wl, bench[wl]) for wl in ("0", "A", "B") if wl in bench]
    if durable:
        lines += [
            "## Durable store (SQLite file ÷ in-memory store, µs/task)",
            "",
            f"| workload | executor | memory | SQLite | ratio | verdict (≤ {SQLITE_VS_MEMORY:g}) |",
            "|---|---|---:|---:|---:|---|",
        ]
        for wl, rows in durable:
            for executor, mem_name, sql_name, target in (
                ("default (threads), run(dict)", W.THREADS, W.DEFAULTS, True),
                ("inline, prepared", W.PREPARED, W.INLINE_SQLITE, False),
            ):
                mem, sql = row(rows, mem_name), row(rows, sql_name)
                if not (mem and sql):
                    continue
                ratio = sql["best_ms"] / mem["best_ms"]
                # Workload 0 is one run's fixed cost (the write before the first task and the one at the end), not a
                # per-task figure: shown for context, without a verdict.
                if wl == "0":
                    verdict = "context: fixed cost of a run"
                else:
                    verdict = _verdict(ratio <= SQLITE_VS_MEMORY) if target else "context"
                lines.append(
                    f"| {wl} | {executor} | {mem['us_per_task']:.1f} | {sql['us_per_task']:.1f} | "
                    f"{ratio:.2f} | {verdict} |"
                )
        lines.append("")
    if "B" in bench and "B10k" in bench:
        lines += [
            f"## Linear growth (B10k ÷ B, best totals; target ≤ 11 for {W.INLINE}, other rows for context)",
            "",
            "| engine | B ms | B10k ms | ratio | verdict |",
            "|---|---:|---:|---:|---|",
        ]
        b = {r["engine"]: r for r in bench["B"] if "best_ms" in r}
        for r in bench["B10k"]:
            if "best_ms" in r and r["engine"] in b:
                ratio = r["best_ms"] / b[r["engine"]]["best_ms"]
                verdict = _verdict(ratio <= LINEAR_TARGET) if r["engine"] == W.INLINE else ""
                lines.append(
                    f"| {r['engine']} | {b[r['engine']]['best_ms']:.1f} | {r['best_ms']:.1f} | {ratio:.2f} | {verdict} |"
                )
        lines.append("")
    if "C" in bench:
        lines += [
            f"## Parallel efficiency (C: ideal = {W.C_LEAVES}/{W.C_PARALLEL} × {int(W.SLEEP_S * 1000)} ms = "
            f"{C_IDEAL_S * 1000:.0f} ms; efficiency = ideal ÷ actual; target ≥ {C_TARGET} for flowkit threads)",
            "",
            "| engine | how | tasks run | N | best ms | median ms | efficiency (best) | efficiency (median) |",
            "|---|---|---:|---:|---:|---:|---:|---:|",
        ]
        for r in bench["C"]:
            if "best_ms" not in r:
                lines.append(f"| {r['engine']} | {r.get('error', '')[:60]} | | | {r['status']} | | | |")
                continue
            lines.append(
                f"| {r['engine']} | {r['mode']} | {r['tasks']} | {r['repeats']} | {r['best_ms']:.1f} | {r['median_ms']:.1f} | "
                f"{C_IDEAL_S * 1e3 / r['best_ms']:.3f} | {C_IDEAL_S * 1e3 / r['median_ms']:.3f} |"
            )
        lines.append("")
    first = results.get("first")
    if first:
        lines += [
            f"## First run in a fresh process (defaults; target ≤ {FIRST_RUN_TARGET_MS:.0f} ms for a new store)",
            "",
        ]
        if "error" in first:
            lines += [f"failed: {first['error']}", ""]
        else:
            lines += [
                f"`python -c` running `import flowkit` and one `flowkit.run(wf, input, workers=...)` of a 1-task "
                f"workflow, {first['repeats']} repeats interleaved with `python -c pass` "
                f"(best {first['baseline_ms']['best']:.1f} ms, median {first['baseline_ms']['median']:.1f} ms), "
                "which is subtracted. Inside the process: `import flowkit`, then the run (opening the store included). "
                "Bytecode compiled once beforehand, as an installed flowkit has it (`PYTHONDONTWRITEBYTECODE` is ignored).",
                "",
                "| FLOWKIT_HOME | wall − baseline, best ms | median ms | import flowkit, best / median ms "
                "| run() incl. opening the store, best / median ms | verdict |",
                "|---|---:|---:|---:|---:|---|",
            ]
            for key in ("new store", "existing store"):
                f = first[key]
                verdict = _verdict(f["best_ms"] <= FIRST_RUN_TARGET_MS) if key == "new store" else "context"
                lines.append(
                    f"| {key} | {f['best_ms']:.1f} | {f['median_ms']:.1f} | {f['import_ms']['best']:.1f} / "
                    f"{f['import_ms']['median']:.1f} | {f['run_ms']['best']:.1f} / {f['run_ms']['median']:.1f} | {verdict} |"
                )
            lines.append("")
    for key, (module, _, what) in EXTRA_MODULES.items():
        if results.get(key):
            lines += getattr(importlib.import_module(module), f"render_{what}")(results[key])
    imp = results.get("import")
    if imp:
        fk = imp["wall_ms"].get("flowkit")
        verdict = "" if fk is None else ("PASS" if fk <= IMPORT_TARGET_MS else "FAIL")
        lines += [
            f"## Import time (fresh subprocess, best of {imp['repeats']}, minus `python -c pass` = "
            f"{imp['baseline_ms']:.1f} ms; target ≤ {IMPORT_TARGET_MS:.0f} ms for flowkit)",
            "",
            "| what | ms |",
            "|---|---:|",
        ]
        for k, v in imp["wall_ms"].items():
            lines.append(f"| `{k}` | {v:.1f}{' ' + verdict if k == 'flowkit' else ''} |")
        for k, v in imp.get("failed", {}).items():
            lines.append(f"| `{k}` | failed ({v}) |")
        if "importtime_flowkit_ms" in imp:
            lines += [
                "",
                f"`-X importtime` (best of 3): flowkit cumulative {imp['importtime_flowkit_ms']:.1f} ms, "
                f"{imp['importtime_modules']} modules beyond interpreter start-up.",
                "Largest direct imports of `flowkit/__init__` (cumulative ms): "
                + ", ".join(f"`{n}` {ms:.1f}" for n, ms in imp["importtime_top_level"]),
                "",
                "Largest self times (ms): " + ", ".join(f"`{n}` {ms:.1f}" for n, ms in imp["importtime_top_self"]),
            ]
        lines.append("")
    lines.append(f"Total benchmark wall time: {results['meta']['elapsed_s']:.1f} s.")
    return "\n".join(lines) + "\n"


def versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    try:
        import flowkit

        out["flowkit"] = flowkit.__version__
    except Exception:
        out["flowkit"] = None
    try:
        from importlib.metadata import version

        import hamilton  # noqa: F401

        out["hamilton"] = version("apache-hamilton")
    except ImportError:
        out["hamilton"] = "not installed"
    except Exception:
        out["hamilton"] = "unknown version"
    try:
        import dask

        out["dask"] = dask.__version__
    except ImportError:
        out["dask"] = "not installed"
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer repeats; writes results/quick.md unless --out")
    ap.add_argument("--only", default=",".join(ALL), help=f"comma list of {','.join(ALL)}; defaults = 0,A,B,first")
    ap.add_argument("--repeats", type=int, default=None, help="override the repeat count of every workload")
    ap.add_argument("--profile", default=None, help="cProfile a flowkit row on these workloads (e.g. A,B) instead")
    ap.add_argument(
        "--profile-row",
        default="inline",
        choices=["inline", "defaults"],
        help=f"the row --profile runs: {W.INLINE} (default) or {W.DEFAULTS} (the calling thread only)",
    )
    ap.add_argument(
        "--out",
        default=None,
        help="markdown output path (default results/latest.md; results/quick.md with --quick; "
        "results/serve.md with --only serve)",
    )
    args = ap.parse_args(argv)
    if args.out is None:
        name = "quick.md" if args.quick else "latest.md"
        if [w.strip() for w in args.only.split(",") if w.strip()] == ["serve"]:
            name = "serve.md"  # the server's own figures: the full run's latest.md stays as it was
        args.out = str(HERE / "results" / name)

    outdir = Path(args.out).resolve().parent
    outdir.mkdir(parents=True, exist_ok=True)
    if args.profile:
        wanted = [w.strip() for w in args.profile.split(",") if w.strip()]
        bad = [w for w in wanted if w not in SIZE or w == "C"]
        if bad:
            ap.error(f"cannot profile {bad}; choose from 0,A,B,B10k")
        profile(wanted, outdir, W.INLINE if args.profile_row == "inline" else W.DEFAULTS)
        return 0

    only = [x for w in args.only.split(",") if w.strip() for x in ALIASES.get(w.strip(), [w.strip()])]
    bad = [w for w in only if w not in ALL]
    if bad:
        ap.error(f"unknown workload(s) {bad}; choose from {','.join(ALL)} or {','.join(ALIASES)}")
    W.fresh_home()  # nothing this process runs writes to the user's own ~/.flowkit
    reps = REPEATS_QUICK if args.quick else REPEATS
    t_start = time.perf_counter()
    results: dict[str, Any] = {
        "meta": {
            "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
            "quick": args.quick,
            "python": platform.python_version(),
            "platform": platform.platform(terse=True),
            "cpus": os.cpu_count(),
            "loadavg": " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a",
            "versions": versions(),
        },
        "bench": {},
    }
    for wl in [w for w in ALL if w in only and w not in EXTRA]:
        n = args.repeats or reps[wl]
        log(f"[bench] {wl}: {DESCRIPTION[wl]} ({n} repeats) ...")
        t0 = time.perf_counter()
        results["bench"][wl] = measure(wl, n)
        if wl == "B":
            results["forms_generator"] = generator_costs(SIZE["B"])
        log(f"[bench] {wl} done in {time.perf_counter() - t0:.1f} s")
    if "first" in only:
        n = FIRST_REPEATS_QUICK if args.quick else FIRST_REPEATS
        log(f"[bench] first run in a fresh process, defaults ({n} repeats) ...")
        results["first"] = first_run(n)
    for key, (module, message, what) in EXTRA_MODULES.items():
        if key in only:
            log(f"[bench] {key}: {message} ...")
            results[key] = getattr(importlib.import_module(module), f"measure_{what}")(args.quick)
    if "import" in only:
        n = IMPORT_REPEATS_QUICK if args.quick else IMPORT_REPEATS
        log(f"[bench] import time (best of {n}) ...")
        results["import"] = import_times(n)
        results["import"]["repeats"] = n
    results["meta"]["elapsed_s"] = time.perf_counter() - t_start
    if hasattr(os, "getloadavg"):
        results["meta"]["loadavg_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    results["targets"] = targets(results)
    md = render(results)
    print(md)
    Path(args.out).write_text(md)
    Path(args.out).with_suffix(".json").write_text(json.dumps(results, indent=2, default=str))
    log(f"[bench] wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
