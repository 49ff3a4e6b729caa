"""flowkit.history: task attempts, failures and executions as DataFrames, and the Gantt timeline."""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
import time
from typing import Any

import matplotlib  # noqa: F401 - the timeline needs it: CI installs it, so a missing one must fail
import pandas as pd
import pytest

import flowkit
import flowkit.history as history
from flowkit.history import (
    EXECUTION_COLUMNS,
    FAILURE_COLUMNS,
    STATUS_COLORS,
    TASK_COLUMNS,
    TASK_STATUSES,
    WORKFLOW_STATUSES,
    executions_df,
    failures_df,
    tasks_df,
    timeline,
)
from flowkit.testing import VirtualClock

T0 = 1_704_067_200_000  # VirtualClock's default start
RETRIES = [{"name": "flaky", "retryCount": 3, "retryDelaySeconds": 1}]


def dtypes(df: Any) -> dict[str, str]:
    return {name: str(dtype) for name, dtype in df.dtypes.items()}


def utc(ms: int) -> Any:
    return pd.Timestamp(ms, unit="ms", tz="UTC")


def flaky_worker(failures: int) -> Any:
    calls = {"n": 0}

    def flaky(x: int = 0) -> dict:
        calls["n"] += 1
        if calls["n"] <= failures:
            raise ValueError(f"boom {calls['n']}")
        print(f"ok after {calls['n']}")
        return {"y": x}

    return flaky


def run(definition: dict, **kwargs: Any) -> Any:
    kwargs.setdefault("clock", VirtualClock())
    kwargs.setdefault("executor", "inline")
    return flowkit.run(definition, {}, **kwargs)


def one(name: str = "flaky", ref: str = "a", **fields: Any) -> dict:
    return {"name": f"wf_{ref}", "tasks": [{"name": name, "taskReferenceName": ref, **fields}]}


@pytest.fixture
def retried() -> Any:
    """``a`` fails twice then completes (3 attempts, 1 s retry delay), then ``b`` runs once."""
    definition = {
        "name": "retried",
        "tasks": [
            {"name": "flaky", "taskReferenceName": "a"},
            {"name": "noop", "taskReferenceName": "b", "type": "NOOP"},
        ],
    }
    return run(definition, workers={"flaky": flaky_worker(2)}, task_defs=RETRIES)


# ---------------------------------------------------------------------------------------------- module surface
def test_import_loads_neither_pandas_nor_matplotlib() -> None:
    code = "import sys, flowkit, flowkit.history; print(sorted({'pandas', 'matplotlib', 'numpy'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_all_is_sorted_and_the_docstring_documents_every_column_with_its_dtype() -> None:
    assert list(history.__all__) == sorted(history.__all__)
    for name in history.__all__:
        assert getattr(history, name) is not None
    doc = history.__doc__ or ""
    for columns in (TASK_COLUMNS, FAILURE_COLUMNS, EXECUTION_COLUMNS):
        for column, dtype in columns.items():
            assert re.search(rf"^\s*{column}\s+{re.escape(dtype)}\s", doc, re.MULTILINE), (column, dtype)
    for status in TASK_STATUSES + WORKFLOW_STATUSES:
        assert status in doc
    assert set(STATUS_COLORS) == set(TASK_STATUSES)
    assert len(set(STATUS_COLORS.values())) == len(STATUS_COLORS)  # every status its own colour


# ---------------------------------------------------------------------------------------------- tasks_df
def test_tasks_df_columns_and_dtypes_are_exactly_the_documented_ones(retried: Any) -> None:
    df = tasks_df(retried.model)
    assert list(df.columns) == list(TASK_COLUMNS)
    assert dtypes(df) == TASK_COLUMNS
    assert list(df["status"].cat.categories) == list(TASK_STATUSES)
    assert not df["status"].cat.ordered
    assert isinstance(df["workflow_id"].dtype, pd.StringDtype)
    empty = tasks_df([])
    assert list(empty.columns) == list(TASK_COLUMNS)
    assert dtypes(empty) == TASK_COLUMNS
    assert len(empty) == 0


def test_retries_are_separate_rows_with_attempts_and_exact_times(retried: Any) -> None:
    df = tasks_df(retried)  # an Execution works as well as its model
    assert len(df) == len(retried.tasks) == 4
    a = df[df["ref"] == "a"].reset_index(drop=True)
    assert a["attempt"].tolist() == [0, 1, 2]
    assert a["status"].tolist() == ["FAILED", "FAILED", "COMPLETED"]
    assert a["retried"].tolist() == [True, True, False]
    assert a["seq"].tolist() == [1, 2, 3]
    assert a["reason"].tolist()[:2] == ["boom 1", "boom 2"]
    assert a["retried_task_id"].isna().tolist() == [True, False, False]
    assert a["retried_task_id"].tolist()[1:] == a["task_id"].tolist()[:2]
    assert a["started"].tolist() == [utc(T0), utc(T0 + 1000), utc(T0 + 2000)]
    assert a["scheduled"].tolist() == [utc(T0), utc(T0), utc(T0 + 1000)]
    assert a["queue_wait"].tolist() == [pd.Timedelta(0), pd.Timedelta(seconds=1), pd.Timedelta(seconds=1)]
    assert a["duration"].tolist() == [pd.Timedelta(0)] * 3
    assert a["logs"].tolist() == [0, 0, 1]
    assert a["worker"].notna().all()
    assert (a["name"] == "flaky").all() and (a["type"] == "flaky").all() and (a["task_ref"] == "a").all()
    assert (df["workflow_id"] == retried.workflow_id).all()
    assert (df["depth"] == 0).all()
    b = df[df["ref"] == "b"].iloc[0]
    assert (b["type"], b["status"], b["attempt"], b["retried"]) == ("NOOP", "COMPLETED", 0, False)
    assert pd.isna(b["worker"]) and pd.isna(b["sub_workflow_id"])


def test_unset_times_are_nat_for_a_task_still_running() -> None:
    ex = run({"name": "wait", "tasks": [{"name": "approve", "taskReferenceName": "approve", "type": "HUMAN"}]})
    assert ex.status == "RUNNING"
    row = tasks_df(ex.model).iloc[0]
    assert row["status"] == "IN_PROGRESS"
    assert pd.notna(row["scheduled"]) and pd.notna(row["started"])
    assert pd.isna(row["ended"]) and pd.isna(row["duration"])


def test_loop_iterations_keep_the_suffix_in_ref_and_not_in_task_ref() -> None:
    definition = {
        "name": "loop",
        "tasks": [
            {
                "name": "loop",
                "taskReferenceName": "loop",
                "type": "DO_WHILE",
                "loopCondition": "$.loop['iteration'] < 3",
                "loopOver": [
                    {"name": "n", "taskReferenceName": "n", "type": "NOOP"},
                    {"name": "m", "taskReferenceName": "m", "type": "NOOP"},
                ],
            }
        ],
    }
    df = tasks_df(run(definition).model)
    body = df[df["task_ref"] != "loop"]
    assert body["ref"].tolist() == ["n__1", "m__1", "n__2", "m__2", "n__3", "m__3"]
    assert body["task_ref"].tolist() == ["n", "m"] * 3
    assert body["iteration"].tolist() == [1, 1, 2, 2, 3, 3]
    assert df.loc[df["ref"] == "loop", "type"].tolist() == ["DO_WHILE"]


def test_dynamic_fork_of_2000_branches(record_property: Any) -> None:
    def work(input: int = 0, __index: int = 0) -> dict:  # noqa: A002 - the forkTaskInputs key
        return {"v": input}

    definition = {
        "name": "wide",
        "tasks": [
            {
                "name": "dyn",
                "taskReferenceName": "dyn",
                "type": "FORK_JOIN_DYNAMIC",
                "inputParameters": {"forkTaskName": "work", "forkTaskInputs": list(range(2000))},
            },
            {"name": "join", "taskReferenceName": "join", "type": "JOIN"},
        ],
    }
    ex = run(definition, workers={"work": work})
    assert ex.status == "COMPLETED"
    began = time.perf_counter()
    df = tasks_df(ex.model)
    record_property("tasks_df_2002_rows_seconds", round(time.perf_counter() - began, 4))  # recorded, not asserted
    assert df.shape == (2002, len(TASK_COLUMNS))
    assert dtypes(df) == TASK_COLUMNS
    branches = df[df["name"] == "work"]
    assert len(branches) == 2000 and branches["ref"].is_unique
    assert (branches["ref"] == branches["task_ref"]).all()
    assert df["type"].value_counts().to_dict() == {"work": 2000, "FORK": 1, "JOIN": 1}
    fig = timeline(ex.model)
    ax = fig.axes[0]
    assert len(ax.get_yticks()) == 3  # dyn, the 2000 branches on one row, join
    assert "(2000 refs)" in ax.get_yticklabels()[1].get_text()
    assert bar_count(ax) == 2002


# ---------------------------------------------------------------------------------------------- sub-workflows
CHILD = {
    "name": "child",
    "version": 2,
    "tasks": [
        {"name": "flaky", "taskReferenceName": "c1"},
        {"name": "c2", "taskReferenceName": "c2", "type": "NOOP"},
    ],
}
PARENT = {
    "name": "parent",
    "tasks": [
        {"name": "first", "taskReferenceName": "first", "type": "NOOP"},
        {
            "name": "sub",
            "taskReferenceName": "sub",
            "type": "SUB_WORKFLOW",
            "subWorkflowParam": {"name": "child", "version": 2},
        },
        {"name": "last", "taskReferenceName": "last", "type": "NOOP"},
    ],
}


@pytest.fixture
def nested() -> Any:
    ex = run(PARENT, workers={"flaky": flaky_worker(1)}, workflows=[CHILD], task_defs=RETRIES)
    assert ex.status == "COMPLETED"
    return ex


def test_include_children_lists_sub_workflow_attempts_after_their_task(nested: Any) -> None:
    child = nested.sub_workflow("sub").model
    flat = tasks_df(nested.model)
    assert flat["ref"].tolist() == ["first", "sub", "last"]
    for lookup in (
        nested.execution,
        {child.workflow_id: child},
        lambda wid: child if wid == child.workflow_id else None,
    ):
        df = tasks_df(nested.model, include_children=True, lookup=lookup)
        assert dtypes(df) == TASK_COLUMNS
        assert df["ref"].tolist() == ["first", "sub", "c1", "c1", "c2", "last"]
        assert df["depth"].tolist() == [0, 0, 1, 1, 1, 0]
        assert df["workflow_id"].tolist() == [nested.workflow_id] * 2 + [child.workflow_id] * 3 + [nested.workflow_id]
        assert df.loc[df["ref"] == "sub", "sub_workflow_id"].tolist() == [child.workflow_id]
        assert df.loc[df["ref"] == "c1", "attempt"].tolist() == [0, 1]
    assert tasks_df(nested.model, include_children=True, lookup={}).equals(flat)  # unknown children are skipped
    with pytest.raises(ValueError, match="lookup"):
        tasks_df(nested.model, include_children=True)
    failures = failures_df(nested.model, include_children=True, lookup=nested.execution)
    assert failures["ref"].tolist() == ["c1"] and failures["workflow_id"].tolist() == [child.workflow_id]
    assert len(failures_df(nested.model)) == 0


# ---------------------------------------------------------------------------------------------- failures_df
def test_failures_df_reports_exception_traceback_tail_retried_and_outcome(retried: Any) -> None:
    df = failures_df(retried.model)
    assert list(df.columns) == list(FAILURE_COLUMNS)
    assert dtypes(df) == FAILURE_COLUMNS
    assert df["ref"].tolist() == ["a", "a"]
    assert df["status"].tolist() == ["FAILED", "FAILED"]
    assert df["attempt"].tolist() == [0, 1]
    assert df["reason"].tolist() == ["boom 1", "boom 2"]
    assert df["exception"].tolist() == ["builtins.ValueError"] * 2
    assert df["retried"].tolist() == [True, True]
    assert df["outcome"].tolist() == ["COMPLETED", "COMPLETED"]
    assert df["ended"].tolist() == [utc(T0), utc(T0 + 1000)]
    for i, tail in enumerate(df["traceback"]):
        lines = tail.splitlines()
        assert 1 <= len(lines) <= 5
        assert lines[-1] == f"ValueError: boom {i + 1}"
        assert any('raise ValueError(f"boom' in line for line in lines)
    assert df["task_id"].tolist() == [t.task_id for t in retried.tasks[:2]]


def test_failures_df_when_retries_run_out_and_for_terminal_errors_timeouts_and_cancels() -> None:
    exhausted = run(
        one(),
        workers={"flaky": flaky_worker(99)},
        task_defs=[{"name": "flaky", "retryCount": 1, "retryDelaySeconds": 0}],
    )
    df = failures_df(exhausted)
    assert exhausted.status == "FAILED"
    assert df["attempt"].tolist() == [0, 1]
    assert df["retried"].tolist() == [True, False]
    assert df["outcome"].tolist() == ["FAILED", "FAILED"]

    def fatal() -> dict:
        raise flowkit.NonRetryableError("bad input")

    terminal = failures_df(run(one("fatal"), workers={"fatal": fatal}, task_defs=[{"name": "fatal", "retryCount": 3}]))
    assert terminal["status"].tolist() == ["FAILED_WITH_TERMINAL_ERROR"]
    assert terminal["exception"].tolist() == ["flowkit.errors.NonRetryableError"]
    assert terminal["traceback"].iloc[0].splitlines()[-1].endswith("bad input")
    assert terminal["outcome"].tolist() == ["FAILED_WITH_TERMINAL_ERROR"]

    def slow() -> Any:
        return flowkit.TaskResult(status="IN_PROGRESS", callback_after_seconds=10)

    timed_out = run(
        one("slow"),
        workers={"slow": slow},
        task_defs=[{"name": "slow", "timeoutSeconds": 25, "responseTimeoutSeconds": 20}],
    )
    df = failures_df(timed_out)
    assert df["status"].tolist() == ["TIMED_OUT"]
    assert df["exception"].isna().all() and df["traceback"].isna().all()  # no exception behind a timeout
    assert df["ended"].tolist() == [utc(T0 + 25_000)]

    def bad() -> dict:
        raise KeyError("k")

    fork = {
        "name": "fork",
        "tasks": [
            {
                "name": "f",
                "taskReferenceName": "f",
                "type": "FORK_JOIN",
                "forkTasks": [
                    [{"name": "h", "taskReferenceName": "h", "type": "HUMAN"}],
                    [{"name": "bad", "taskReferenceName": "b"}],
                ],
            },
            {"name": "j", "taskReferenceName": "j", "type": "JOIN", "joinOn": ["h", "b"]},
        ],
    }
    canceled = run(fork, workers={"bad": bad}, task_defs=[{"name": "bad", "retryCount": 0}])
    df = failures_df(canceled)
    assert dict(zip(df["ref"], df["status"], strict=True)) == {"h": "CANCELED", "b": "FAILED", "j": "CANCELED"}
    assert df.loc[df["ref"] == "b", "exception"].tolist() == ["builtins.KeyError"]

    clean = failures_df(run({"name": "ok", "tasks": [{"name": "n", "taskReferenceName": "n", "type": "NOOP"}]}))
    assert len(clean) == 0 and list(clean.columns) == list(FAILURE_COLUMNS) and dtypes(clean) == FAILURE_COLUMNS


def test_failures_df_lists_an_optional_task_that_failed_and_the_workflow_survived() -> None:
    def after() -> dict:
        return {"ok": True}

    wf = {
        "name": "opt",
        "tasks": [
            {"name": "flaky", "taskReferenceName": "a", "optional": True},
            {"name": "after", "taskReferenceName": "b"},
        ],
    }
    ex = run(
        wf,
        workers={"flaky": flaky_worker(99), "after": after},
        task_defs=[{"name": "flaky", "retryCount": 1, "retryDelaySeconds": 0}],
    )
    assert ex.status == "COMPLETED"
    assert [str(t.status) for t in ex.tasks] == ["FAILED", "COMPLETED_WITH_ERRORS", "COMPLETED"]
    df = ex.failures_df()
    assert df["ref"].tolist() == ["a", "a"]
    assert df["status"].tolist() == ["FAILED", "COMPLETED_WITH_ERRORS"]
    assert df["attempt"].tolist() == [0, 1]
    assert df["outcome"].tolist() == ["COMPLETED_WITH_ERRORS"] * 2
    assert df["exception"].tolist() == ["builtins.ValueError"] * 2
    assert executions_df(ex)["failed_tasks"].tolist() == [2]  # = rows of failures_df


# ---------------------------------------------------------------------------------------------- executions_df
def test_executions_df_over_several_runs(retried: Any, nested: Any) -> None:
    failed = run(
        one(),
        workers={"flaky": flaky_worker(99)},
        task_defs=[{"name": "flaky", "retryCount": 0}],
        correlation_id="order-7",
    )
    waiting = run({"name": "wait", "tasks": [{"name": "approve", "taskReferenceName": "approve", "type": "HUMAN"}]})
    df = executions_df([retried, failed.model, waiting])
    assert list(df.columns) == list(EXECUTION_COLUMNS)
    assert dtypes(df) == EXECUTION_COLUMNS
    assert list(df["status"].cat.categories) == list(WORKFLOW_STATUSES)
    assert df["workflow_id"].tolist() == [retried.workflow_id, failed.workflow_id, waiting.workflow_id]
    assert df["name"].tolist() == ["retried", "wf_a", "wait"]
    assert df["version"].tolist() == [1, 1, 1]
    assert df["status"].tolist() == ["COMPLETED", "FAILED", "RUNNING"]
    assert df["tasks"].tolist() == [4, 1, 1]
    assert df["failed_tasks"].tolist() == [2, 1, 0]
    assert df["correlation_id"].tolist()[1] == "order-7" and pd.isna(df["correlation_id"].iloc[0])
    assert df["created"].tolist() == [utc(T0)] * 3
    assert df["duration"].tolist()[0] == pd.Timedelta(seconds=2)
    assert pd.isna(df["ended"].iloc[2]) and pd.isna(df["duration"].iloc[2])  # still RUNNING
    assert df["reason"].iloc[1] and pd.isna(df["reason"].iloc[0])
    assert df["parent_workflow_id"].isna().all()

    tree = executions_df(nested, include_children=True, lookup=nested.execution)
    child = nested.sub_workflow("sub")
    assert tree["workflow_id"].tolist() == [nested.workflow_id, child.workflow_id]
    assert tree["parent_workflow_id"].isna().tolist() == [True, False]
    assert tree["parent_workflow_id"].iloc[1] == nested.workflow_id
    assert (tree["name"].tolist(), tree["version"].tolist()) == (["parent", "child"], [1, 2])
    assert executions_df([]).shape == (0, len(EXECUTION_COLUMNS))
    assert dtypes(executions_df([])) == EXECUTION_COLUMNS


# ---------------------------------------------------------------------------------------------- timeline
def bar_count(ax: Any) -> int:
    return sum(len(c.get_paths()) for c in bar_collections(ax))


def bar_collections(ax: Any) -> list[Any]:
    return [c for c in ax.collections if (c.get_gid() or "").startswith("attempts:")]


def legend_labels(fig: Any) -> list[str]:
    """The statuses in the legend (after them: "waiting (outlined)" and "in queue" when drawn)."""
    legend = fig.axes[0].get_legend()
    return [t.get_text() for t in legend.get_texts() if t.get_text() not in ("waiting (outlined)", "in queue")]


def test_timeline_draws_one_bar_per_attempt_and_a_legend_of_the_statuses_present(retried: Any, tmp_path: Any) -> None:
    from matplotlib.figure import Figure

    fig = timeline(retried.model)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert bar_count(ax) == len(retried.tasks) == 4
    assert legend_labels(fig) == ["COMPLETED", "FAILED"]
    assert [t.get_text().strip() for t in ax.get_yticklabels()] == ["a", "b"]  # retries share their row
    gids = {c.get_gid(): c for c in bar_collections(ax)}
    assert set(gids) == {"attempts:FAILED:retried", "attempts:COMPLETED"}
    failed = gids["attempts:FAILED:retried"]
    assert failed.get_hatch() and failed.get_alpha() in (None, 1)  # failed attempts hatched, as solid as successes
    assert failed.task_ids == [t.task_id for t in retried.tasks[:2]]
    for bar in failed.get_paths():  # both on row 0, the row of ``a``
        assert -0.5 < bar.vertices[:, 1].min() < bar.vertices[:, 1].max() < 0.5
    colors = {gid: tuple(c.get_facecolor()[0][:3].round(3)) for gid, c in gids.items()}
    import matplotlib.colors as mcolors

    assert colors["attempts:COMPLETED"] == tuple(round(v, 3) for v in mcolors.to_rgb(STATUS_COLORS["COMPLETED"]))
    path = tmp_path / "timeline.png"
    fig.savefig(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_timeline_colours_every_status_and_draws_running_tasks_to_now() -> None:
    def bad() -> dict:
        raise KeyError("k")

    fork = {
        "name": "fork",
        "tasks": [
            {
                "name": "f",
                "taskReferenceName": "f",
                "type": "FORK_JOIN",
                "forkTasks": [
                    [{"name": "h", "taskReferenceName": "h", "type": "HUMAN"}],
                    [{"name": "bad", "taskReferenceName": "b"}],
                ],
            },
            {"name": "j", "taskReferenceName": "j", "type": "JOIN", "joinOn": ["h", "b"]},
        ],
    }
    fig = timeline(run(fork, workers={"bad": bad}, task_defs=[{"name": "bad", "retryCount": 0}]).model)
    assert legend_labels(fig) == ["COMPLETED", "FAILED", "CANCELED"]
    handles = fig.axes[0].get_legend().legend_handles[:3]  # the statuses, then "waiting (outlined)"
    assert len({tuple(h.get_facecolor()) for h in handles}) == 3

    both = {
        "name": "wait",
        "tasks": [
            {
                "name": "f",
                "taskReferenceName": "f",
                "type": "FORK_JOIN",
                "forkTasks": [
                    [{"name": "h", "taskReferenceName": "h", "type": "HUMAN"}],
                    [
                        {
                            "name": "n",
                            "taskReferenceName": "n",
                            "type": "WAIT",
                            "inputParameters": {"duration": "30 seconds"},
                        }
                    ],
                ],
            },
            {"name": "j", "taskReferenceName": "j", "type": "JOIN", "joinOn": ["h", "n"]},
        ],
    }
    waiting = run(both)
    assert waiting.status == "RUNNING"
    fig = timeline(waiting)
    ax = fig.axes[0]
    assert legend_labels(fig) == ["IN_PROGRESS", "COMPLETED"]  # lifecycle order
    assert ax.get_xlabel().endswith("(s; instant attempts widened, in scheduling order)")  # the instant FORK
    running = next(c for c in bar_collections(ax) if c.get_gid() == "attempts:IN_PROGRESS")
    assert running.task_ids == [waiting.task("h").task_id, waiting.task("j").task_id]
    fork = next(c for c in bar_collections(ax) if c.get_gid() == "attempts:COMPLETED")
    fork_left, fork_right = fork.get_paths()[0].vertices[:, 0].min(), fork.get_paths()[0].vertices[:, 0].max()
    assert fork_left == 0 and 0.2 < fork_right < 0.5  # instant: a visible ~1% of the axis
    for bar in running.get_paths():  # started at 0 after the FORK, still running: drawn to "now" (the WAIT's end)
        left, right = bar.vertices[:, 0].min(), bar.vertices[:, 0].max()
        assert left == pytest.approx(fork_right) and right - left == pytest.approx(30)


def test_timeline_under_the_virtual_clock_draws_instant_attempts_visibly_in_their_order() -> None:
    from flowkit.history import TimelineFigure

    steps = [
        {"name": f"s{i}", "taskReferenceName": f"s{i}", "type": "SET_VARIABLE", "inputParameters": {"i": i}}
        for i in range(4)
    ]
    ex = run(
        {"name": "instant", "tasks": [*steps, one("flaky", "w")["tasks"][0]]},
        workers={"flaky": flaky_worker(1)},
        task_defs=[{"name": "flaky", "retryCount": 1, "retryDelaySeconds": 2}],
    )
    assert ex.status == "COMPLETED" and all(t.end_time == t.start_time for t in ex.tasks)  # every attempt instant
    fig = timeline(ex)
    assert isinstance(fig, TimelineFigure)
    ax = fig.axes[0]
    lo, hi = ax.get_xlim()
    spans = {}
    for collection in bar_collections(ax):
        for task_id, path in zip(collection.task_ids, collection.get_paths(), strict=True):
            spans[task_id] = (path.vertices[:, 0].min(), path.vertices[:, 0].max())
    ordered = [spans[t.task_id] for t in ex.tasks]  # seq order: s0..s3, w (failed), w (retry 2 s later)
    for (left, right), (next_left, _) in itertools.pairwise(ordered):
        assert right - left > 0.005 * (hi - lo)  # visible
        assert right <= next_left + 1e-9  # side by side, in their real order
    assert ordered[-1][0] - ordered[-2][1] == pytest.approx(2000)  # the real 2 s retry delay is kept
    assert ax.get_xlabel().endswith("(ms; instant attempts widened, in scheduling order)")
    assert lo < ordered[0][0] and ordered[-1][1] < hi


def test_timeline_nests_sub_workflows_under_their_task_with_lookup(nested: Any) -> None:
    flat = timeline(nested.model)
    assert [t.get_text().strip() for t in flat.axes[0].get_yticklabels()] == ["first", "sub", "last"]
    assert bar_count(flat.axes[0]) == 3
    fig = timeline(nested.model, lookup=nested.execution)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert [label.strip() for label in labels] == ["first", "sub", "\u21b3 c1", "\u21b3 c2", "last"]
    assert labels[2].startswith("  \u21b3") and not labels[1].startswith(" ")  # indented under ``sub``
    assert bar_count(fig.axes[0]) == 3 + len(nested.sub_workflow("sub").tasks)
    assert legend_labels(fig) == ["COMPLETED", "FAILED"]


def test_timeline_draws_into_a_given_axes() -> None:
    from matplotlib.figure import Figure

    host = Figure()
    ax = host.add_subplot(2, 1, 2)
    out = timeline(run(one("n", type="NOOP")).model, ax=ax)
    assert out is host
    assert bar_count(ax) == 1
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["COMPLETED"]


# ---------------------------------------------------------------------------------------------- readable display
def test_frames_display_ms_short_ids_and_no_duplicated_or_empty_columns(retried: Any) -> None:
    df = tasks_df(retried.model)
    assert isinstance(df, pd.DataFrame) and dtypes(df) == TASK_COLUMNS  # the data is what is documented
    assert df["duration"].iloc[0] == pd.Timedelta(0) and df["task_id"].iloc[0] == retried.tasks[0].task_id
    page = df._repr_html_()
    header = re.findall(r"<th>([a-z_]+)</th>", page)
    assert "ref" in header and "task_ref" not in header  # equal to ref on every row
    assert "sub_workflow_id" not in header  # no value at all
    assert "not shown: task_ref (= ref), sub_workflow_id (empty)" in page
    assert "0 days" not in page and "1000 ms" in page  # queue_wait of the retries: 1 s retry delay
    full = retried.tasks[0].task_id
    short = f"{full[:8]}…{full[-4:]}"
    assert f"<span title='{full}'>{short}</span>" in page  # the full id on hover
    assert "00:00:01.000" in page or "00:00:00.000" in page  # times as HH:MM:SS.mmm (VirtualClock: midnight)
    text = repr(df)
    assert "0 days" not in text and short in text and "task_ref (= ref)" in text
    # Derived frames display the same way; the frame's own values are untouched.
    failed = df[df["status"] == "FAILED"]
    assert "<span title=" in failed._repr_html_() and failed["task_id"].tolist() == [
        t.task_id for t in retried.tasks[:2]
    ]
    assert df.to_string().count("0 days") >= 4  # plain pandas output is still pandas'


def test_a_frame_that_uses_its_loop_refs_keeps_task_ref_and_long_frames_are_cut() -> None:
    loop = {
        "name": "loop",
        "tasks": [
            {
                "name": "l",
                "taskReferenceName": "l",
                "type": "DO_WHILE",
                "loopCondition": "if ($.l['iteration'] < 40) { true; } else { false; }",
                "loopOver": [{"name": "n", "taskReferenceName": "n", "type": "NOOP"}],
            }
        ],
    }
    df = tasks_df(run(loop).model)
    assert len(df) == 41
    page = df._repr_html_()
    assert "<th>task_ref</th>" in page  # n__1 ... differ from n
    assert (
        "first and last 10 rows shown" in page and page.count("<tr>") == 21
    )  # 10 + … + 10 (the header row has a style)
    failures = failures_df(run(one(), workers={"flaky": flaky_worker(9)}, task_defs=RETRIES).model)
    assert "boom 4" in failures._repr_html_() and dtypes(failures) == FAILURE_COLUMNS
    assert dtypes(executions_df(run(loop).model)) == EXECUTION_COLUMNS


def test_timeline_tells_waiting_from_working_and_shows_reasons_on_hover() -> None:
    def bad() -> dict:
        raise KeyError("no such key")

    fork = {
        "name": "fork",
        "tasks": [
            {
                "name": "f",
                "taskReferenceName": "f",
                "type": "FORK_JOIN",
                "forkTasks": [
                    [
                        {
                            "name": "n",
                            "taskReferenceName": "n",
                            "type": "WAIT",
                            "inputParameters": {"duration": "3 seconds"},
                        }
                    ],
                    [{"name": "flaky", "taskReferenceName": "w"}],
                ],
            },
            {"name": "j", "taskReferenceName": "j", "type": "JOIN", "joinOn": ["n", "w"]},
        ],
    }
    ex = run(fork, workers={"flaky": flaky_worker(1)}, task_defs=RETRIES)
    assert ex.status == "COMPLETED"
    fig = timeline(ex)
    ax = fig.axes[0]
    gids = {c.get_gid(): c for c in bar_collections(ax)}
    done = gids["attempts:COMPLETED"]
    by_id = dict(zip(done.task_ids, range(len(done.task_ids)), strict=True))
    faces, edges = done.get_facecolor(), done.get_edgecolor()
    import matplotlib.colors as mcolors

    green = mcolors.to_rgba(STATUS_COLORS["COMPLETED"])
    for ref in ("n", "j"):  # waiting: a light fill, outlined in the status colour
        i = by_id[ex.task(ref).task_id]
        assert tuple(faces[i]) != green and tuple(edges[i]) == green
        assert min(faces[i][:3]) > 0.7
    i = by_id[ex.task("w").task_id]  # working: solid
    assert tuple(faces[i]) == green
    failed = gids["attempts:FAILED:retried"]
    assert failed.get_alpha() in (None, 1) and tuple(failed.get_facecolor()[0]) == mcolors.to_rgba(
        STATUS_COLORS["FAILED"]
    )
    queue = next(c for c in ax.collections if c.get_gid() == "queue_wait")  # the 1 s retry delay
    assert len(queue.get_paths()) == 1 and "1000 ms in queue before attempt 2" in queue.tips[0]
    svg = history.timeline_svg(fig)
    assert svg.startswith("<svg") and "<a " not in svg
    titles = re.findall(r"<title>([^<]*)</title>", svg)
    assert any(t.startswith("w [flaky] FAILED, attempt 1 of 4") and "reason: boom 1" in t for t in titles), titles
    assert any(t.startswith("j [JOIN] COMPLETED (waiting)") for t in titles)
    assert any("in queue" in t for t in titles)
    page = fig._repr_html_()
    assert page.startswith("<div class='flowkit-timeline'") and "<title>" in page
