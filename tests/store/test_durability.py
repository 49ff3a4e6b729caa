"""What ``wait()`` and ``run()`` report is on disk; one process owns its executions; no leaks.

Real subprocess scripts on a real SQLite file: a script that exits normally leaves no finished run
RUNNING (the next ``flowkit.open`` would run its last task again); a second process is refused
while the first holds live work (a side effect runs once); worker threads never keep a script from
exiting; a runtime whose engine (or a hook) raised ends the execution FAILED with the reason.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import flowkit
from flowkit.runtime import Runtime, TaskStarted
from flowkit.store import _OPEN, SqliteStore

REPO = Path(__file__).resolve().parents[2]


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}


def rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def forget(db: Path) -> None:
    found = _OPEN.pop(str(db.resolve()), None)
    if found is not None:
        found.close()


# Three short tasks, then exit at once: `wait` (start().wait()), `poll` (start(), then look at the
# status in memory until it ended, no wait()) or `run` (flowkit.run).
EXIT_SCRIPT = textwrap.dedent("""
    import os, sys, time, flowkit
    store, log, how = sys.argv[1:4]
    def step(x: int = 0) -> dict:
        with open(log, "a") as f:
            f.write(f"{x}\\n")
        return {"x": x + 1}
    tasks = [{"name": "step", "taskReferenceName": f"s{i}",
              "inputParameters": {"x": "${workflow.input.x}" if i == 0 else f"${{s{i - 1}.output.x}}"}}
             for i in range(3)]
    wf = {"name": "exit_early", "version": 1, "tasks": tasks, "outputParameters": {"x": "${s2.output.x}"}}
    if how == "run":
        ex = flowkit.run(wf, {"x": 0}, workers={"step": step}, store=store)
    else:
        ex = flowkit.start(wf, {"x": 0}, workers={"step": step}, store=store)
        if how == "wait":
            ex.wait()
        else:
            while not ex.status.is_terminal:
                time.sleep(0.0005)
    print(ex.status)
""")


def _exit_once(tmp_path: Path, i: int) -> tuple[str, str, list[tuple[object, ...]], list[str]]:
    how = ("wait", "poll", "run")[i % 3] if i % 5 else "poll"
    db, log = tmp_path / f"exit{i}.db", tmp_path / f"exit{i}.log"
    done = subprocess.run(
        [sys.executable, "-c", EXIT_SCRIPT, str(db), str(log), how],
        env=env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return how, done.stdout.strip(), rows(db, "SELECT status FROM executions"), log.read_text().split()


@pytest.mark.slow
def test_a_script_that_exits_normally_leaves_its_finished_run_on_disk(tmp_path: Path) -> None:
    """50 real scripts end right after their run ended: the store says COMPLETED every time, and
    opening the store again runs nothing."""
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda i: _exit_once(tmp_path, i), range(50)))
    bad = [(i, how, stored) for i, (how, printed, stored, _log) in enumerate(results) if stored != [("COMPLETED",)]]
    assert not bad, f"{len(bad)} of 50 scripts left their finished run unwritten: {bad[:5]}"
    assert all(printed == "COMPLETED" and log == ["0", "1", "2"] for _h, printed, _s, log in results)
    # the next open in another process adopts nothing, so nothing runs twice
    for i in (0, 1, 2):
        db, log = tmp_path / f"exit{i}.db", tmp_path / f"exit{i}.log"
        runtime = flowkit.open(db, workers={"step": lambda x=0: {"x": x + 1}}, background=False)
        assert runtime.engine.executions == {}
        forget(db)
        assert log.read_text().split() == ["0", "1", "2"]


# A process that starts a run which waits for outside input (HUMAN) and then does a side effect
# (`ship`); it completes the HUMAN task when the `go` file appears, and exits after the run.
OWNER_SCRIPT = textwrap.dedent("""
    import pathlib, sys, time, flowkit
    store, shipped, ready, go = sys.argv[1:5]
    def ship(order: str = "") -> dict:
        with open(shipped, "a") as f:
            f.write(order + "\\n")
        return {"shipped": order}
    wf = {"name": "order", "version": 1, "tasks": [
        {"name": "approve", "taskReferenceName": "approve", "type": "HUMAN"},
        {"name": "ship", "taskReferenceName": "ship", "inputParameters": {"order": "${workflow.input.order}"}}]}
    ex = flowkit.start(wf, {"order": "A-1"}, workers={"ship": ship}, store=store)
    while ex.task("approve").status != "IN_PROGRESS":
        time.sleep(0.01)
    time.sleep(0.2)  # idle: the runtime waits for outside input
    pathlib.Path(ready).write_text("ready")
    while not pathlib.Path(go).exists():
        time.sleep(0.01)
    ex.complete_task("approve", {"ok": True}).wait()
    print(ex.status, ex.workflow_id)
""")


@pytest.mark.slow
def test_a_second_process_is_refused_while_the_first_holds_live_work(tmp_path: Path) -> None:
    db, shipped, ready, go = (tmp_path / n for n in ("orders.db", "shipped.txt", "ready", "go"))
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER_SCRIPT, str(db), str(shipped), str(ready), str(go)],
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert owner.poll() is None, owner.communicate()
            assert time.monotonic() < deadline, "the owner did not reach its HUMAN task"
            time.sleep(0.01)
        # the owner is idle, its execution RUNNING: adopting it here would ship the order twice
        with pytest.raises(flowkit.StoreError) as caught:
            flowkit.open(db, workers={"ship": lambda order="": {"shipped": order}}, background=False)
        message = str(caught.value)
        assert f"(pid {owner.pid}) on host " in message and "holding it since" in message and "Fix:" in message
        forget(db)
        # ... but it may read
        reader = SqliteStore(db, readonly=True)
        assert [(r["name"], r["status"]) for r in reader.execution_rows()] == [("order", "RUNNING")]
        reader.close()
        go.write_text("go")
        out, err = owner.communicate(timeout=60)
        assert owner.returncode == 0, err
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()
    assert out.split()[0] == "COMPLETED"
    assert shipped.read_text().split() == ["A-1"]
    # the owner is gone and left nothing live: opening now adopts nothing and ships nothing
    runtime = flowkit.open(db, workers={"ship": lambda order="": {"shipped": order}}, background=False)
    assert runtime.engine.executions == {}
    forget(db)
    assert shipped.read_text().split() == ["A-1"]
    assert rows(db, "SELECT ref, status FROM tasks ORDER BY seq") == [("approve", "COMPLETED"), ("ship", "COMPLETED")]


def test_recovery_leaves_alone_what_another_runtime_of_this_process_runs(tmp_path: Path) -> None:
    db = tmp_path / "same.db"
    wf = {"name": "human", "version": 1, "tasks": [{"name": "h", "taskReferenceName": "h", "type": "HUMAN"}]}
    ex = flowkit.start(wf, {}, store=db)
    deadline = time.monotonic() + 30
    while ex.task("h").status != "IN_PROGRESS":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    ex.runtime.flush()
    other = flowkit.open(db)
    assert other.engine.executions == {}  # the first runtime still holds it
    ex.complete_task("h").wait(10)
    assert ex.status == "COMPLETED"
    assert rows(db, "SELECT status FROM executions") == [("COMPLETED",)]
    other.close()
    forget(db)


# A run whose worker sleeps for a minute; the script raises (as after a Ctrl-C) once the worker runs.
STUCK_SCRIPT = textwrap.dedent("""
    import pathlib, sys, time, flowkit
    marker = pathlib.Path(sys.argv[1])
    def slow() -> dict:
        marker.write_text("in worker")
        time.sleep(60)
        return {}
    wf = {"name": "stuck", "tasks": [{"name": "slow", "taskReferenceName": "slow"}]}
    ex = flowkit.start(wf, {}, workers={"slow": slow}, store="memory")
    while not marker.exists():
        time.sleep(0.01)
    raise KeyboardInterrupt
""")


@pytest.mark.slow
def test_a_sleeping_worker_does_not_keep_the_script_from_exiting(tmp_path: Path) -> None:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", STUCK_SCRIPT, str(tmp_path / "marker")],
        env=env(),
        capture_output=True,
        text=True,
        timeout=50,
    )
    assert "KeyboardInterrupt" in done.stderr and done.returncode != 0
    assert time.monotonic() - started < 40


@pytest.mark.parametrize("background", [False, True])
def test_an_engine_error_ends_the_run_failed_on_disk(tmp_path: Path, background: bool) -> None:
    db = tmp_path / "broken.db"
    wf = {
        "name": "broken",
        "version": 1,
        "tasks": [{"name": "a", "taskReferenceName": "a"}, {"name": "b", "taskReferenceName": "b"}],
    }
    runtime = Runtime(workers={"a": lambda: {"v": 1}, "b": lambda: {"v": 2}}, store=db, background=background)

    def boom(event: TaskStarted) -> None:
        if event.task.ref == "b":
            raise ValueError("the engine broke on b")

    runtime.hooks.add(TaskStarted, boom)
    ex = runtime.start(wf, {})
    ex.wait(30)
    assert ex.status == "FAILED"
    assert ex.reason is not None and "ValueError: the engine broke on b" in ex.reason and "task 'b'" in ex.reason
    assert rows(db, "SELECT status, reason FROM executions") == [("FAILED", ex.reason)]
    assert rows(db, "SELECT ref, status FROM tasks ORDER BY seq") == [("a", "COMPLETED"), ("b", "CANCELED")]
    runtime.close()
    forget(db)


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.slow
def test_a_thousand_concurrent_workflows_three_times_leave_threads_and_memory_flat(tmp_path: Path) -> None:
    import gc
    import threading

    db = tmp_path / "load.db"
    wf = flowkit.WorkflowDef.from_json(
        {
            "name": "load",
            "version": 1,
            "tasks": [
                {"name": "inc", "taskReferenceName": "a", "inputParameters": {"x": "${workflow.input.x}"}},
                {"name": "inc", "taskReferenceName": "b", "inputParameters": {"x": "${a.output.x}"}},
            ],
            "outputParameters": {"x": "${b.output.x}"},
        }
    )
    workers = {"inc": lambda x=0: {"x": x + 1}}
    flowkit.start(wf, {"x": 0}, workers=workers, store=db).wait(30)  # the shared worker threads exist now
    baseline = threading.active_count()
    threads, rss = [], []
    for wave in range(3):
        started = [flowkit.start(wf, {"x": i}, workers=workers, store=db) for i in range(1000)]
        for ex in started:
            ex.wait(120)
        assert [ex.output["x"] for ex in started] == [i + 2 for i in range(1000)], wave
        del started, ex
        deadline = time.monotonic() + 30
        while threading.active_count() > baseline and time.monotonic() < deadline:
            time.sleep(0.05)  # runtime threads leave once their run is written
        gc.collect()
        threads.append(threading.active_count())
        rss.append(_rss_mb())
    assert rows(db, "SELECT status, count(*) FROM executions GROUP BY status") == [("COMPLETED", 3001)]
    assert max(threads) <= baseline, (baseline, threads)  # the shared workers, not one thread per run
    assert rss[2] - rss[0] < 25, f"memory grew {rss} MB over three waves"
    forget(db)


@pytest.mark.slow
def test_sequential_starts_leave_threads_and_memory_flat() -> None:
    import gc
    import threading

    wf = flowkit.WorkflowDef.from_json({"name": "seq", "tasks": [{"name": "t", "taskReferenceName": "t"}]})
    flowkit.start(wf, {}, workers={"t": lambda: {}}, store="memory").wait(30)
    baseline = threading.active_count()
    counts, rss = [], []
    for _round in range(4):
        for _ in range(1000):
            flowkit.start(wf, {}, workers={"t": lambda: {}}, store="memory").wait(30)
        gc.collect()
        counts.append(threading.active_count())
        rss.append(_rss_mb())
    assert max(counts) <= baseline + 1, (baseline, counts)  # +1: the last runtime thread may still be leaving
    assert rss[3] - rss[1] < 10, f"memory grew {rss} MB"


def poll(read: Callable[[], list[Any]], done: Callable[[list[Any]], bool]) -> tuple[list[Any], list[Any], float]:
    """What ``read()`` gave at once, what it gave once ``done`` held of it (or 10 s passed), and how long that took."""
    started = time.monotonic()
    early = found = read()
    while not done(found) and time.monotonic() - started < 10:
        time.sleep(0.01)
        found = read()
    return early, found, time.monotonic() - started


def chain(name: str, n: int) -> dict:
    """s0 .. s<n-1>, each adding one to x."""
    tasks = [
        {
            "name": "step",
            "taskReferenceName": f"s{i}",
            "inputParameters": {"x": "${workflow.input.x}" if i == 0 else f"${{s{i - 1}.output.x}}"},
        }
        for i in range(n)
    ]
    return {"name": name, "version": 1, "tasks": tasks, "outputParameters": {"x": f"${{s{n - 1}.output.x}}"}}


def run_chain(db: Path, name: str, n: int, step: Callable[[int], dict], executor: str, batch_ms: int) -> Any:
    """``chain(name, n)`` from x = 0 on a SQLite store at ``db`` with ``batch_ms``; it must end COMPLETED with x = n."""
    ex = flowkit.run(
        chain(name, n), {"x": 0}, workers={"step": step}, executor=executor, store=SqliteStore(db, batch_ms=batch_ms)
    )
    assert ex.status == "COMPLETED" and ex.output == {"x": n}
    return ex


@pytest.mark.parametrize("executor", ["threads", "inline"])
def test_a_result_is_written_while_the_next_task_runs_on_the_calling_thread(tmp_path: Path, executor: str) -> None:
    """s0's result came just before s1's worker was called on the calling thread, where the runner's
    loop cannot write: it is written once it has waited batch_ms all the same (the watch thread),
    not when the call ends, and not before batch_ms (a commit per task would undo the batching)."""
    import threading

    db = tmp_path / "calling.db"
    forget(db)
    batch_ms = 300
    seen: list[tuple[bool, float, list[tuple[object, ...]]]] = []

    def statuses() -> list[tuple[object, ...]]:
        return rows(db, "SELECT ref, status FROM tasks ORDER BY seq")

    def step(x: int) -> dict:
        if x == 1:  # s1, on the calling thread: look at the store while it runs
            early, found, waited = poll(statuses, lambda found: ("s0", "COMPLETED") in found)
            seen.append((threading.current_thread() is threading.main_thread(), waited, early))
            seen.append((True, 0.0, found))
        return {"x": x + 1}

    run_chain(db, "calling_thread_chain", 3, step, executor, batch_ms)
    (on_main, waited, early), (_, _, found) = seen
    assert on_main, "s1 ran on a worker thread: this test needs it on the calling thread"
    assert ("s0", "COMPLETED") not in early, early  # batched: not written at once
    assert found == [("s0", "COMPLETED"), ("s1", "IN_PROGRESS")], found
    # written once it waited batch_ms (the watch thread looks every batch_ms / 2), long before the call ended
    assert waited < 5, waited
    forget(db)


@pytest.mark.parametrize("executor", ["threads", "inline"])
def test_a_new_execution_is_on_disk_before_its_first_task_starts_and_that_start_within_batch_ms(
    tmp_path: Path, executor: str
) -> None:
    """The run's first write is its execution's row alone (a kill from then on loses no run); its
    first attempt is written once it has waited batch_ms, while its worker still runs."""
    db = tmp_path / "first.db"
    forget(db)
    batch_ms = 200
    seen: list[tuple[list[tuple[object, ...]], list[tuple[object, ...]], list[tuple[object, ...]], float]] = []

    def step(x: int) -> dict:
        if x == 0:  # s0: look at the store while it runs
            execs = rows(db, "SELECT name, status, task_count FROM executions")
            early, found, waited = poll(lambda: rows(db, "SELECT ref, status FROM tasks"), bool)
            seen.append((execs, early, found, waited))
        return {"x": x + 1}

    run_chain(db, "first_write", 2, step, executor, batch_ms)
    [(execs, early, found, waited)] = seen
    # on disk before s0 started, as its row alone (which counts s0, scheduled: its attempt comes later)
    assert execs == [("first_write", "RUNNING", 1)]
    assert early == []  # the start is not a write of its own ...
    assert found == [("s0", "IN_PROGRESS")]  # ... it goes with the write batch_ms later
    assert 0.1 < waited < 5, waited
    assert rows(db, "SELECT ref, status FROM tasks ORDER BY seq") == [("s0", "COMPLETED"), ("s1", "COMPLETED")]
    forget(db)


@pytest.mark.parametrize("executor", ["threads", "inline"])
def test_writes_from_the_watch_thread_between_worker_calls_keep_the_record_whole(
    tmp_path: Path, executor: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A chain whose workers sometimes take a few ms, with batch_ms=1: the watch thread writes during
    many of the calls, the runner between them; the run ends right and its record is the live one."""
    import random
    import threading
    from collections import Counter

    from flowkit.runtime._runner import Runner

    writers: Counter[str] = Counter()
    flush = Runner.flush

    def counted(self: Runner) -> None:
        writers[threading.current_thread().name] += 1
        flush(self)

    monkeypatch.setattr(Runner, "flush", counted)
    n = 300
    pace = random.Random(7)

    def step(x: int) -> dict:
        if pace.random() < 0.3:
            time.sleep(0.003)
        return {"x": x + 1}

    db = tmp_path / "watched.db"
    forget(db)
    ex = run_chain(db, "watched_chain", n, step, executor, batch_ms=1)
    assert writers["flowkit-run-writer"] > 0 and writers["MainThread"] > 0, writers
    reader = SqliteStore(db, readonly=True)
    try:
        record = reader.execution(ex.workflow_id)
        assert record is not None
        row, stored = record
        assert row["status"] == "COMPLETED" and row["task_count"] == n
        assert [(t["ref"], t["status"]) for t in stored] == [(f"s{i}", "COMPLETED") for i in range(n)]
        assert [json.loads(t["data"])["output"] for t in stored] == [{"x": i + 1} for i in range(n)]
    finally:
        reader.close()
        forget(db)
