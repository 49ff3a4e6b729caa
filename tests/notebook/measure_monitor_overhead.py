"""How much a live monitor slows a run down (not a test: run it by hand).

    PYTHONPATH=. python tests/notebook/measure_monitor_overhead.py [--tasks 1000] [--reps 21] [--work-ms 0]

Runs the same ``tasks``-task workflow (one DO_WHILE over a worker) with flowkit.start, alternately
without a monitor, with a monitor without diagram, and with the full monitor (created right after
start, as in a notebook cell), and prints the median wall time from start to end of each, the
overhead against no monitor, and how many refreshes the monitor did.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from nb_helpers import loop_workflow, tick  # noqa: E402

import flowkit  # noqa: E402
from flowkit.notebook import monitor  # noqa: E402

MODES = ("none", "monitor, no diagram", "monitor")


def once(definition: object, mode: str, work_ms: float) -> tuple[float, int]:
    gc.collect()
    began = time.perf_counter()
    run = flowkit.start(definition, {}, workers=[tick], store="memory")
    watching = monitor(run, diagram=mode == "monitor") if mode != "none" else None
    run.wait(600)
    took = time.perf_counter() - began
    refreshes = watching.refresh_count if watching is not None else 0
    if watching is not None:
        watching.close()
    run._runtime.close()
    return took, refreshes


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--reps", type=int, default=21)
    parser.add_argument("--work-ms", type=float, default=0.0, help="time each worker call sleeps")
    args = parser.parse_args()
    if args.work_ms:
        delay = args.work_ms / 1000

        @flowkit.worker_task(task_definition_name="tick")
        def slow_tick(i: int = 0) -> dict:
            time.sleep(delay)
            return {"i": i}

        globals()["tick"] = slow_tick
    definition = loop_workflow(args.tasks - 1)  # the DO_WHILE itself is one task
    for mode in MODES:
        once(definition, mode, args.work_ms)  # warm up
    times: dict[str, list[float]] = {mode: [] for mode in MODES}
    counts: list[int] = []
    for rep in range(args.reps):
        for mode in MODES if rep % 2 else MODES[::-1]:
            took, refreshes = once(definition, mode, args.work_ms)
            times[mode].append(took)
            if mode == "monitor":
                counts.append(refreshes)
    base = statistics.median(times["none"])
    print(f"{args.tasks} tasks, worker {args.work_ms} ms, {args.reps} runs each (median wall time, start to end):")
    for mode in MODES:
        median = statistics.median(times[mode])
        print(f"  {mode:<20} {median * 1000:8.1f} ms  {100 * (median - base) / base:+6.1f} %")
    print(f"  refreshes per monitored run: min {min(counts)}, max {max(counts)}")


if __name__ == "__main__":
    main()
