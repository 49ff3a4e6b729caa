"""Workload builders for bench/run.py: the same work expressed for flowkit, Apache Hamilton and Dask.

Every builder returns a list of :class:`Case` objects.  A case knows how to run the workload once
(``run()``), how to check the result (``check(result)``, raises on a wrong answer) and how many
tasks the engine ran for it (``tasks(result)``).  Anything that happens in the builder -- JSON
construction, Hamilton module generation and driver build, Dask graph dict construction -- is
*outside* the timed region; its cost is measured separately and reported as ``setup_s``.

Work items (the denominator used for the cross-engine ratio) are the same across engines:
0 = 1, A = 200 chained steps, B = N leaves, C = 64 sleeping leaves.

The first flowkit row of every workload is ``flowkit defaults``: ``flowkit.run(definition, input,
workers=...)`` and nothing else -- the definition as a user passes it (a dict, validated), the
threads executor, the SQLite store in ``$FLOWKIT_HOME`` (a fresh temp dir: :func:`fresh_home`).
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
    role: str = ""  # peers: "best" (the peer's fastest formulation of the work) or "context"


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
    """The task list and the inputs by reference: dynamicForkTasksParam and the SDK's legacy form."""
    return {
        "dynamicTasks": [{"name": "leaf", "taskReferenceName": f"leaf_{i}"} for i in range(n)],
        "dynamicTasksInput": {f"leaf_{i}": {"i": i} for i in range(n)},
    }


def fk_gen_inputs(n: int) -> dict:
    """One input per branch: the forkTaskName + forkTaskInputs form."""
    return {"inputs": [{"i": i} for i in range(n)]}


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


# The three ways to write a dynamic fork (issue 15 item 2: every form costs the same per branch).
FORK_FORMS = {
    "forkTaskName": "forkTaskName + forkTaskInputs",
    "dynamicForkTasksParam": "dynamicForkTasksParam + dynamicForkTasksInputParamName",
    "sdk-legacy": "dynamicForkJoinTasksParam + dynamicForkTasksInputParamName (Conductor Python SDK)",
}
FORK_MAIN = "forkTaskName"  # the form of workload B's main rows


def fk_fork_def(name: str = "fanout", form: str = "dynamicForkTasksParam") -> dict:
    """gen -> FORK_JOIN_DYNAMIC (``form``, one of FORK_FORMS) -> JOIN; the generator is :func:`fk_fork_workers`'."""
    if form == "forkTaskName":
        fork: dict[str, Any] = {"inputParameters": {"forkTaskName": "leaf", "forkTaskInputs": "${gen.output.inputs}"}}
    elif form == "dynamicForkTasksParam":
        fork = {
            "inputParameters": {
                "dynamicTasks": "${gen.output.dynamicTasks}",
                "dynamicTasksInput": "${gen.output.dynamicTasksInput}",
            },
            "dynamicForkTasksParam": "dynamicTasks",
            "dynamicForkTasksInputParamName": "dynamicTasksInput",
        }
    elif form == "sdk-legacy":  # what conductor-python's DynamicForkTask writes (its default parameter names)
        fork = {
            "inputParameters": {
                "dynamicTasks": "${gen.output.dynamicTasks}",
                "dynamicTasksInputs": "${gen.output.dynamicTasksInput}",
            },
            "dynamicForkJoinTasksParam": "dynamicTasks",
            "dynamicForkTasksInputParamName": "dynamicTasksInputs",
        }
    else:
        raise ValueError(form)
    return {
        "name": name,
        "version": 1,
        "schemaVersion": 2,
        "tasks": [
            {"name": "gen", "taskReferenceName": "gen", "inputParameters": {"n": "${workflow.input.n}"}},
            {"name": "fork", "taskReferenceName": "fork", "type": "FORK_JOIN_DYNAMIC", **fork},
            {"name": "join", "taskReferenceName": "join", "type": "JOIN"},
        ],
        "outputParameters": {"joined": "${join.output}"},
    }


def fk_fork_workers(form: str, leaf: Callable[[int], dict] = fk_leaf) -> dict[str, Callable[..., dict]]:
    return {"gen": fk_gen_inputs if form == "forkTaskName" else fk_gen, "leaf": leaf}


def fk_leaf_ref(form: str, i: int) -> str:
    """The JOIN output key of branch ``i`` (forkTaskName branches are named ``_<task>_<i>``)."""
    return f"_leaf_{i}" if form == "forkTaskName" else f"leaf_{i}"


_HOMES: list[str] = []


def fresh_home() -> str:
    """Point ``FLOWKIT_HOME`` at a new temp dir, so the defaults rows start on a new store (removed at exit)."""
    import atexit
    import os
    import shutil
    import tempfile

    if not _HOMES:
        atexit.register(lambda: [shutil.rmtree(h, ignore_errors=True) for h in _HOMES])
    home = tempfile.mkdtemp(prefix="flowkit-bench-home-")
    _HOMES.append(home)
    os.environ["FLOWKIT_HOME"] = home
    return home


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


# Row names of the flowkit rows (run.py reads them for the ratios and the targets).
DEFAULTS = "flowkit defaults"
INLINE = "flowkit inline+memory"
PREPARED = "flowkit inline+memory prepared"
INLINE_SQLITE = "flowkit inline+SQLite prepared"
THREADS = "flowkit threads+memory"


def _run_variants(
    definition: dict, inp: dict, workers: dict, form: str = ""
) -> list[tuple[str, str, Callable[[], Any]]]:
    """The flowkit rows of 0, A and B: defaults first, then the tuned configurations a user has to ask for."""
    import flowkit
    from flowkit.definitions import WorkflowDef

    mem = "memory"
    prepared = WorkflowDef.from_json(definition).validate()
    return [
        (
            DEFAULTS,
            "flowkit.run(dict, input, workers=...): threads, SQLite store in a fresh $FLOWKIT_HOME, validated",
            lambda: flowkit.run(definition, inp, workers=workers),
        ),
        (
            INLINE,
            "run(dict), executor=inline, memory store",
            lambda: flowkit.run(definition, inp, workers=workers, executor="inline", store=mem),
        ),
        (
            PREPARED,
            "run(WorkflowDef, validate=False), inline, memory store",
            lambda: flowkit.run(prepared, inp, workers=workers, executor="inline", validate=False, store=mem),
        ),
        (
            INLINE_SQLITE,
            "run(WorkflowDef, validate=False), inline, SQLite store (WAL file)",
            lambda: flowkit.run(
                prepared, inp, workers=workers, executor="inline", validate=False, store=sqlite_store_path()
            ),
        ),
        (
            THREADS,
            "run(dict), default executor (threads, 8), memory store",
            lambda: flowkit.run(definition, inp, workers=workers, store=mem),
        ),
    ]


def _form_variants(inp: dict, n: int) -> list[tuple[str, str, Callable[[], Any], str]]:
    """B's other dynamic-fork forms: on the defaults and inline+memory prepared (the engine's own cost per branch)."""
    import flowkit
    from flowkit.definitions import WorkflowDef

    out = []
    for form, what in FORK_FORMS.items():
        if form == FORK_MAIN:
            continue
        definition, workers = fk_fork_def(f"fanout_{form}", form), fk_fork_workers(form)
        prepared = WorkflowDef.from_json(definition).validate()
        out += [
            (
                f"{DEFAULTS} [{form}]",
                f"as {DEFAULTS}, fork written as {what}",
                lambda d=definition, w=workers: flowkit.run(d, inp, workers=w),
                form,
            ),
            (
                f"{PREPARED} [{form}]",
                f"as {PREPARED}, fork written as {what}",
                lambda d=prepared, w=workers: flowkit.run(
                    d, inp, workers=w, executor="inline", validate=False, store="memory"
                ),
                form,
            ),
        ]
    return out


def flowkit_cases(workload: str, n: int) -> list[Case]:
    import flowkit

    fresh_home()  # the defaults rows of this workload start on a new store
    mem = "memory"  # the in-memory store; the durable SQLite store has its own rows

    def status_ok(ex: Any) -> None:
        _expect(
            str(getattr(ex.status, "value", ex.status)).endswith("COMPLETED"),
            f"flowkit status {ex.status}: {ex.reason}",
        )

    def fork_check(form: str) -> Callable[[Any], None]:
        def check(ex: Any) -> None:
            status_ok(ex)
            joined = ex.output.get("joined") or {}
            _expect(len(joined) == n, f"flowkit join has {len(joined)} entries, expected {n}")
            _expect(joined.get(fk_leaf_ref(form, n - 1)) == {"y": (n - 1) * 2}, f"flowkit join content ({form})")

        return check

    variants: list[tuple[str, str, Callable[[], Any], str]] = []
    if workload in ("0", "A"):
        definition = fk_chain_def(n)
        inp = {"x": 0}

        def chain_check(ex: Any) -> None:
            status_ok(ex)
            _expect(ex.output.get("x") == n, f"flowkit chain output {ex.output}")

        variants = [(*v, "") for v in _run_variants(definition, inp, {"step": fk_step})]
        checks = {"": chain_check}
    elif workload in ("B", "B10k"):
        definition = fk_fork_def("fanout", FORK_MAIN)
        inp = {"n": n}
        variants = [(*v, FORK_MAIN) for v in _run_variants(definition, inp, fk_fork_workers(FORK_MAIN))]
        if workload == "B":
            variants += _form_variants(inp, n)
        else:
            variants = [v for v in variants if v[0] in (DEFAULTS, INLINE, THREADS)]
        checks = {form: fork_check(form) for form in FORK_FORMS}
    elif workload == "C":
        definition = fk_fork_def("sleepy")
        inp = {"n": C_LEAVES}
        leaf_nap = {"gen": fk_gen, "leaf": fk_nap}

        def c_check(ex: Any) -> None:
            status_ok(ex)
            _expect(len(ex.output.get("joined") or {}) == n, "flowkit C join size")

        checks = {"": c_check}
        limit_def = [{"name": "leaf", "concurrentExecLimit": C_PARALLEL, "retryCount": 0}]
        variants = [
            (
                DEFAULTS,
                "flowkit.run(dict, input, workers=...): threads (8 workers by default), SQLite store",
                lambda: flowkit.run(definition, inp, workers=leaf_nap),
                "",
            ),
            (
                "flowkit threads",
                f"executor=threads, max_workers={C_PARALLEL}, memory store",
                lambda: flowkit.run(
                    definition, inp, workers=leaf_nap, executor="threads", max_workers=C_PARALLEL, store=mem
                ),
                "",
            ),
            (
                "flowkit threads+limit",
                f"max_workers={C_LEAVES}, TaskDef concurrentExecLimit={C_PARALLEL}",
                lambda: flowkit.run(
                    definition,
                    inp,
                    workers=leaf_nap,
                    executor="threads",
                    max_workers=C_LEAVES,
                    task_defs=limit_def,
                    store=mem,
                ),
                "",
            ),
        ]
        try:
            import cloudpickle  # noqa: F401 - the process executor ships workers with it
        except ImportError:
            pass
        else:
            variants.append(
                (
                    "flowkit processes",
                    f"executor=processes, max_workers={C_PARALLEL} (worker processes, started at warm-up)",
                    lambda: flowkit.run(
                        definition, inp, workers=leaf_nap, executor="processes", max_workers=C_PARALLEL, store=mem
                    ),
                    "",
                ),
            )
    else:
        raise ValueError(workload)

    setup = _fk_timed_setup(definition)
    cases: list[Case] = []
    for label, mode, fn, form in variants:
        prepared = PREPARED in label or label == INLINE_SQLITE
        cases.append(
            Case(
                engine=label,
                mode=mode,
                run=fn,
                check=checks[form if form in checks else ""],
                tasks=lambda ex: len(ex.tasks),
                setup_s=None if prepared else setup,
                setup_note="parsed once, excluded" if prepared else "parse+validate (included in timing)",
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

        cases.append(
            Case(
                "hamilton",
                f"best: static DAG of {n} generated functions, driver.execute()",
                lambda: dr.execute([final], inputs={"x": 0}),
                check,
                lambda r: n,
                setup,
                "module exec + Builder.build() (excluded)",
                role="best",
            )
        )
    elif workload in ("B", "B10k"):
        # (1) the best formulation: n generated leaf functions that take no input + a join taking all n (~6 µs/node).
        def static(leaf_params: str) -> str:
            src = "".join(f"def leaf_{i}({leaf_params}) -> int:\n    return {i} * 2\n" for i in range(n))
            src += "def join(" + ", ".join(f"leaf_{i}: int" for i in range(n)) + ") -> list:\n"
            return src + "    return [" + ", ".join(f"leaf_{i}" for i in range(n)) + "]\n"

        def check_static(r: Any) -> None:
            _expect(len(r["join"]) == n and r["join"][-1] == (n - 1) * 2, "hamilton static join")

        dr, setup = build(lambda: driver.Builder().with_modules(_module(static(""))).build())
        cases.append(
            Case(
                "hamilton static",
                f"best: {n} generated functions leaf_i() (no input) + join(leaf_0..leaf_{n - 1})",
                lambda: dr.execute(["join"]),
                check_static,
                lambda r: n + 1,
                setup,
                "module exec + Builder.build() (excluded)",
                role="best",
            )
        )
        if workload == "B":
            # (2) context: the same leaves reading one shared external input x -- 20-30x slower in Hamilton.
            drx, setup_x = build(lambda: driver.Builder().with_modules(_module(static("x: int"))).build())
            cases.append(
                Case(
                    "hamilton static, shared input",
                    "context: leaf_i(x) with one shared input x + join",
                    lambda: drx.execute(["join"], inputs={"x": 0}),
                    check_static,
                    lambda r: n + 1,
                    setup_x,
                    "module exec + Builder.build() (excluded)",
                    role="context",
                )
            )
            # (3) context: dynamic Parallelizable / Collect with synchronous executors
            drp, setup_p = build(lambda: parallel_driver(0.0, executors.SynchronousLocalTaskExecutor()))

            def check_par(r: Any) -> None:
                _expect(len(r["join"]) == n and sorted(r["join"])[-1] == (n - 1) * 2, "hamilton parallel join")

            cases.append(
                Case(
                    "hamilton parallel",
                    "context: Parallelizable[int] -> leaf -> Collect, synchronous executors",
                    lambda: drp.execute(["join"], inputs={"n": n}),
                    check_par,
                    lambda r: n + 2,
                    setup_p,
                    "module exec + Builder.build() (excluded)",
                    role="context",
                )
            )
    elif workload == "C":
        drp, setup_p = build(lambda: parallel_driver(SLEEP_S, executors.MultiThreadingExecutor(max_tasks=C_PARALLEL)))

        def check_c(r: Any) -> None:
            _expect(len(r["join"]) == n, "hamilton C join")

        cases.append(
            Case(
                "hamilton parallel",
                f"Parallelizable/Collect, MultiThreadingExecutor(max_tasks={C_PARALLEL})",
                lambda: drp.execute(["join"], inputs={"n": n}),
                check_c,
                lambda r: n + 2,
                setup_p,
                "module exec + Builder.build() (excluded)",
                role="best",
            )
        )
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
        return [
            Case(
                "dask threaded",
                f"dask.threaded.get(num_workers={C_PARALLEL})",
                lambda: dask.threaded.get(graph, key, num_workers=C_PARALLEL),
                check,
                lambda r: ntasks,
                setup,
                note,
            )
        ]
    return [
        Case(
            "dask sync",
            "dask.get (synchronous scheduler)",
            lambda: dask.get(graph, key),
            check,
            lambda r: ntasks,
            setup,
            note,
        ),
        Case(
            "dask threaded",
            "dask.threaded.get (default pool)",
            lambda: dask.threaded.get(graph, key),
            check,
            lambda r: ntasks,
            setup,
            note,
        ),
    ]


BUILDERS = {"flowkit": flowkit_cases, "hamilton": hamilton_cases, "dask": dask_cases}
