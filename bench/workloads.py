"""Workload builders for bench/run.py: the same work expressed for flowkit, Apache Hamilton and Dask.

Every builder returns a list of :class:`Case` objects.  A case knows how to run the workload once
(``run()``), how to check the result (``check(result)``, raises on a wrong answer) and how many
tasks the engine ran for it (``tasks(result)``).  Anything that happens in the builder -- JSON
construction, Hamilton module generation and driver build, Dask graph dict construction -- is
*outside* the timed region; its cost is measured separately and reported as ``setup_s``.

Work items (the denominator used for the cross-engine ratio) are the same across engines:
0 = 1, A = 200 chained steps, B = N leaves, C = 64 sleeping leaves.
"""

from __future__ import annotations

import sys
import time
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

SLEEP_S = 0.05  # workload C: each leaf sleeps this long
C_LEAVES = 64
C_PARALLEL = 8


@dataclass
class Case:
    engine: str  # "flowkit", "hamilton", "dask"
    mode: str  # short description of how it is run
    run: Callable[[], Any]
    check: Callable[[Any], None]
    tasks: Callable[[Any], int]  # tasks the engine ran (flowkit: every task in the execution)
    setup_s: float | None = None  # time to build the engine artefact, excluded from timing
    setup_note: str = ""
    notes: list[str] = field(default_factory=list)


class NotInstalled(Exception):
    """A peer engine could not be imported."""


def _expect(cond: bool, what: str) -> None:
    if not cond:
        raise AssertionError(what)


# ---------------------------------------------------------------------------------------------- workers
# Annotated parameters matter: flowkit binds inputs by parameter name, but a *single unannotated*
# parameter receives the Conductor ``Task`` object (Conductor python-SDK convention).


def fk_step(x: int) -> dict:
    return {"x": x + 1}


def fk_leaf(i: int) -> dict:
    return {"y": i * 2}


def fk_nap(i: int) -> dict:
    time.sleep(SLEEP_S)
    return {"y": i * 2}


def fk_gen(n: int) -> dict:
    return {
        "dynamicTasks": [{"name": "leaf", "taskReferenceName": f"leaf_{i}"} for i in range(n)],
        "dynamicTasksInput": {f"leaf_{i}": {"i": i} for i in range(n)},
    }


def dk_step(x: int) -> int:
    return x + 1


def dk_leaf(i: int) -> int:
    return i * 2


def dk_nap(i: int) -> int:
    time.sleep(SLEEP_S)
    return i * 2


def dk_join(*ys: int) -> list:
    return list(ys)


# ---------------------------------------------------------------------------------------------- flowkit


def fk_chain_def(n: int) -> dict:
    tasks = []
    for i in range(n):
        src = "${workflow.input.x}" if i == 0 else f"${{s{i - 1}.output.x}}"
        tasks.append({"name": "step", "taskReferenceName": f"s{i}", "inputParameters": {"x": src}})
    return {
        "name": f"chain_{n}",
        "version": 1,
        "schemaVersion": 2,
        "tasks": tasks,
        "outputParameters": {"x": f"${{s{n - 1}.output.x}}"},
    }


def fk_fork_def(name: str = "fanout") -> dict:
    return {
        "name": name,
        "version": 1,
        "schemaVersion": 2,
        "tasks": [
            {"name": "gen", "taskReferenceName": "gen", "inputParameters": {"n": "${workflow.input.n}"}},
            {
                "name": "fork",
                "taskReferenceName": "fork",
                "type": "FORK_JOIN_DYNAMIC",
                "inputParameters": {
                    "dynamicTasks": "${gen.output.dynamicTasks}",
                    "dynamicTasksInput": "${gen.output.dynamicTasksInput}",
                },
                "dynamicForkTasksParam": "dynamicTasks",
                "dynamicForkTasksInputParamName": "dynamicTasksInput",
            },
            {"name": "join", "taskReferenceName": "join", "type": "JOIN"},
        ],
        "outputParameters": {"joined": "${join.output}"},
    }


def _fk_timed_setup(definition: dict) -> float:
    """Parse + validate cost of the definition (this IS inside flowkit.run(dict)'s timing)."""
    from flowkit.definitions import WorkflowDef

    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        WorkflowDef.from_json(definition).validate()
        best = min(best, time.perf_counter() - t0)
    return best


_SQLITE_DIR: list[str] = []


def sqlite_store_path() -> str:
    """One SQLite store file per benchmark run (it grows with every run, as a real one does)."""
    if not _SQLITE_DIR:
        import tempfile

        _SQLITE_DIR.append(tempfile.mkdtemp(prefix="flowkit-bench-"))
    return f"{_SQLITE_DIR[0]}/bench.db"


def _run_variants(definition: dict, inp: dict, workers: dict) -> list[tuple[str, str, Callable[[], Any]]]:
    """The flowkit rows of A and B: run(dict) inline and on threads, a prepared definition in memory and on SQLite."""
    import flowkit
    from flowkit.definitions import WorkflowDef

    mem = "memory"
    prepared = WorkflowDef.from_json(definition).validate()
    return [
        ("inline", "run(dict), executor=inline, memory store",
         lambda: flowkit.run(definition, inp, workers=workers, executor="inline", store=mem)),
        ("inline-prepared", "run(WorkflowDef, validate=False), inline, memory store",
         lambda: flowkit.run(prepared, inp, workers=workers, executor="inline", validate=False, store=mem)),
        ("inline-sqlite", "run(WorkflowDef, validate=False), inline, SQLite store (WAL file)",
         lambda: flowkit.run(prepared, inp, workers=workers, executor="inline", validate=False,
                             store=sqlite_store_path())),
        ("threads", "run(dict), executor=threads(8), memory store",
         lambda: flowkit.run(definition, inp, workers=workers, executor="threads", store=mem)),
    ]  # fmt: skip


def flowkit_cases(workload: str, n: int) -> list[Case]:
    import flowkit

    mem = "memory"  # the in-memory store; the durable SQLite store has its own rows

    def status_ok(ex: Any) -> None:
        _expect(
            str(getattr(ex.status, "value", ex.status)).endswith("COMPLETED"),
            f"flowkit status {ex.status}: {ex.reason}",
        )

    cases: list[Case] = []
    if workload in ("0", "A"):
        definition = fk_chain_def(n)
        workers = {"step": fk_step}
        inp = {"x": 0}

        def check(ex: Any, n: int = n) -> None:
            status_ok(ex)
            _expect(ex.output.get("x") == n, f"flowkit chain output {ex.output}")

        variants = _run_variants(definition, inp, workers)
    elif workload in ("B", "B10k"):
        definition = fk_fork_def()
        workers = {"gen": fk_gen, "leaf": fk_leaf}
        inp = {"n": n}

        def check(ex: Any, n: int = n) -> None:
            status_ok(ex)
            joined = ex.output.get("joined") or {}
            _expect(len(joined) == n, f"flowkit join has {len(joined)} entries, expected {n}")
            _expect(joined.get(f"leaf_{n - 1}") == {"y": (n - 1) * 2}, "flowkit join content")

        variants = _run_variants(definition, inp, workers)
        if workload == "B10k":
            variants = [v for v in variants if v[0] not in ("inline-prepared", "inline-sqlite")]
    elif workload == "C":
        definition = fk_fork_def("sleepy")
        inp = {"n": C_LEAVES}
        leaf_nap = {"gen": fk_gen, "leaf": fk_nap}

        def check(ex: Any, n: int = n) -> None:
            status_ok(ex)
            _expect(len(ex.output.get("joined") or {}) == n, "flowkit C join size")

        limit_def = [{"name": "leaf", "concurrentExecLimit": C_PARALLEL, "retryCount": 0}]
        variants = [
            ("threads", f"executor=threads, max_workers={C_PARALLEL}",
             lambda: flowkit.run(definition, inp, workers=leaf_nap, executor="threads", max_workers=C_PARALLEL, store=mem)),
            ("threads+limit", f"max_workers={C_LEAVES}, TaskDef concurrentExecLimit={C_PARALLEL}",
             lambda: flowkit.run(definition, inp, workers=leaf_nap, executor="threads", max_workers=C_LEAVES,
                                 task_defs=limit_def, store=mem)),
        ]  # fmt: skip
        try:
            import cloudpickle  # noqa: F401 - the process executor ships workers with it
        except ImportError:
            pass
        else:
            variants.append(
                ("processes", f"executor=processes, max_workers={C_PARALLEL} (worker processes, started at warm-up)",
                 lambda: flowkit.run(definition, inp, workers=leaf_nap, executor="processes", max_workers=C_PARALLEL,
                                     store=mem)),
            )  # fmt: skip
    else:
        raise ValueError(workload)

    setup = _fk_timed_setup(definition)
    for label, mode, fn in variants:
        cases.append(
            Case(
                engine=f"flowkit {label}",
                mode=mode,
                run=fn,
                check=check,
                tasks=lambda ex: len(ex.tasks),
                setup_s=None if label in ("inline-prepared", "inline-sqlite") else setup,
                setup_note="parse+validate (included in timing)"
                if label not in ("inline-prepared", "inline-sqlite")
                else "parsed once, excluded",
            )
        )
    return cases


# ---------------------------------------------------------------------------------------------- hamilton

_mod_seq = 0


def _module(src: str) -> types.ModuleType:
    global _mod_seq
    _mod_seq += 1
    name = f"_flowkit_bench_hamilton_{_mod_seq}"
    mod = types.ModuleType(name)
    sys.modules[name] = mod
    exec(compile(src, f"<{name}>", "exec"), mod.__dict__)
    return mod


def hamilton_cases(workload: str, n: int) -> list[Case]:
    try:
        from hamilton import driver
        from hamilton.execution import executors
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise NotInstalled(str(exc)) from exc

    cases: list[Case] = []

    def parallel_driver(sleep_s: float, remote: Any) -> Any:
        """Parallelizable -> leaf -> Collect; each leaf sleeps ``sleep_s`` first when it is above 0."""
        src = (
            "import time\n"
            "from hamilton.htypes import Parallelizable, Collect\n"
            "def item(n: int) -> Parallelizable[int]:\n    for i in range(n):\n        yield i\n"
            f"def leaf(item: int) -> int:\n    if {sleep_s} > 0:\n        time.sleep({sleep_s})\n    return item * 2\n"
            "def join(leaf: Collect[int]) -> list:\n    return list(leaf)\n"
        )
        return (
            driver.Builder()
            .with_modules(_module(src))
            .enable_dynamic_execution(allow_experimental_mode=True)
            .with_local_executor(executors.SynchronousLocalTaskExecutor())
            .with_remote_executor(remote)
            .build()
        )

    def build(make: Callable[[], Any]) -> tuple[Any, float]:
        t0 = time.perf_counter()
        dr = make()
        return dr, time.perf_counter() - t0

    if workload in ("0", "A"):
        src = "def s0(x: int) -> int:\n    return x + 1\n" + "".join(
            f"def s{i}(s{i - 1}: int) -> int:\n    return s{i - 1} + 1\n" for i in range(1, n)
        )
        dr, setup = build(lambda: driver.Builder().with_modules(_module(src)).build())
        final = f"s{n - 1}"

        def check(r: Any) -> None:
            _expect(r[final] == n, f"hamilton chain result {r}")

        cases.append(Case("hamilton", f"static DAG of {n} generated functions, driver.execute()",
                          lambda: dr.execute([final], inputs={"x": 0}), check, lambda r: n, setup,
                          "module exec + Builder.build() (excluded)"))  # fmt: skip
    elif workload in ("B", "B10k"):
        # (1) static DAG: n generated leaf functions + one join function taking all n as parameters
        src = "".join(f"def leaf_{i}(x: int) -> int:\n    return {i} * 2\n" for i in range(n))
        src += "def join(" + ", ".join(f"leaf_{i}: int" for i in range(n)) + ") -> list:\n"
        src += "    return [" + ", ".join(f"leaf_{i}" for i in range(n)) + "]\n"
        dr, setup = build(lambda: driver.Builder().with_modules(_module(src)).build())

        def check_static(r: Any) -> None:
            _expect(len(r["join"]) == n and r["join"][-1] == (n - 1) * 2, "hamilton static join")

        cases.append(Case("hamilton static", f"{n} generated functions + join(leaf_0..leaf_{n - 1})",
                          lambda: dr.execute(["join"], inputs={"x": 0}), check_static, lambda r: n + 1, setup,
                          "module exec + Builder.build() (excluded)"))  # fmt: skip
        # (2) dynamic: Parallelizable / Collect with synchronous executors
        if workload == "B":
            drp, setup_p = build(lambda: parallel_driver(0.0, executors.SynchronousLocalTaskExecutor()))

            def check_par(r: Any) -> None:
                _expect(len(r["join"]) == n and sorted(r["join"])[-1] == (n - 1) * 2, "hamilton parallel join")

            cases.append(Case("hamilton parallel", "Parallelizable[int] -> leaf -> Collect, synchronous executors",
                              lambda: drp.execute(["join"], inputs={"n": n}), check_par, lambda r: n + 2, setup_p,
                              "module exec + Builder.build() (excluded)"))  # fmt: skip
    elif workload == "C":
        drp, setup_p = build(lambda: parallel_driver(SLEEP_S, executors.MultiThreadingExecutor(max_tasks=C_PARALLEL)))

        def check_c(r: Any) -> None:
            _expect(len(r["join"]) == n, "hamilton C join")

        cases.append(Case("hamilton parallel", f"Parallelizable/Collect, MultiThreadingExecutor(max_tasks={C_PARALLEL})",
                          lambda: drp.execute(["join"], inputs={"n": n}), check_c, lambda r: n + 2, setup_p,
                          "module exec + Builder.build() (excluded)"))  # fmt: skip
    return cases


# ---------------------------------------------------------------------------------------------- dask


def dask_cases(workload: str, n: int) -> list[Case]:
    try:
        import dask
        import dask.local
        import dask.threaded
    except ImportError as exc:  # pragma: no cover
        raise NotInstalled(str(exc)) from exc

    t0 = time.perf_counter()
    if workload in ("0", "A"):
        graph: dict[str, Any] = {"x": 0, "s0": (dk_step, "x")}
        graph.update({f"s{i}": (dk_step, f"s{i - 1}") for i in range(1, n)})
        key, expect_len = f"s{n - 1}", None
        ntasks = n
    else:
        fn = dk_nap if workload == "C" else dk_leaf
        graph = {f"leaf_{i}": (fn, i) for i in range(n)}
        graph["join"] = (dk_join, *[f"leaf_{i}" for i in range(n)])
        key, expect_len = "join", n
        ntasks = n + 1
    setup = time.perf_counter() - t0

    def check(r: Any) -> None:
        if expect_len is None:
            _expect(r == n, f"dask chain result {r}")
        else:
            _expect(len(r) == expect_len and r[-1] == (n - 1) * 2, "dask join")

    note = "graph dict construction (excluded)"
    if workload == "C":
        return [Case("dask threaded", f"dask.threaded.get(num_workers={C_PARALLEL})",
                     lambda: dask.threaded.get(graph, key, num_workers=C_PARALLEL), check, lambda r: ntasks, setup, note)]  # fmt: skip
    return [
        Case("dask sync", "dask.get (synchronous scheduler)", lambda: dask.get(graph, key), check, lambda r: ntasks, setup, note),
        Case("dask threaded", "dask.threaded.get (default pool)", lambda: dask.threaded.get(graph, key), check,
             lambda r: ntasks, setup, note),
    ]  # fmt: skip


BUILDERS = {"flowkit": flowkit_cases, "hamilton": hamilton_cases, "dask": dask_cases}
