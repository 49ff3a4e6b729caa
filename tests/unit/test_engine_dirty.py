"""What the engine reports changed for a store (``take_dirty``): each changed attempt once, in the order
it first changed; a change after a take is reported again; a failed write's share is kept whole."""

from __future__ import annotations

import itertools
from typing import Any

from flowkit import WorkflowDef
from flowkit.engine import Dispatch, DispatchAll, Engine

CHAIN = {
    "name": "chain",
    "version": 1,
    "tasks": [{"name": "step", "taskReferenceName": f"s{i}"} for i in range(3)],
}
FORK = {
    "name": "fork",
    "version": 1,
    "tasks": [
        {
            "name": "fork",
            "taskReferenceName": "fork",
            "type": "FORK_JOIN_DYNAMIC",
            "inputParameters": {"forkTaskName": "leaf", "forkTaskInputs": [{"i": 0}, {"i": 1}, {"i": 2}]},
        },
        {"name": "join", "taskReferenceName": "join", "type": "JOIN"},
    ],
}


def _engine() -> Engine:
    ids = itertools.count()
    return Engine(new_id=lambda: f"id{next(ids)}", track=True, track_tasks=True)


def _dispatched(commands: list[Any]) -> list[Any]:
    out = []
    for c in commands:
        if type(c) is Dispatch:
            out.append(c.task)
        elif type(c) is DispatchAll:
            out.extend(c.tasks)
    return out


def test_each_changed_attempt_is_reported_once_in_the_order_it_first_changed() -> None:
    engine = _engine()
    wf, commands = engine.start(WorkflowDef.from_json(CHAIN), {}, now=1)
    (s0,) = _dispatched(commands)
    engine.task_started(s0, 2)
    commands = engine.task_completed(s0, {"y": 0}, 3)  # s0 changed three times, then s1 was scheduled
    (s1,) = _dispatched(commands)
    workflows, tasks, dropped = engine.take_dirty()
    assert workflows == [wf] and [t.ref for t in tasks] == ["s0", "s1"] and dropped == []
    assert engine.take_dirty() == ([], [], [])  # nothing changed since

    engine.task_started(s1, 4)  # a change after the take is reported again, once
    engine.task_started(s1, 5)
    workflows, tasks, _ = engine.take_dirty()
    assert workflows == [] and tasks == [s1]  # a start changes nothing of its workflow's row


def test_a_failed_writes_share_is_kept_whole_and_not_doubled() -> None:
    engine = _engine()
    wf, commands = engine.start(WorkflowDef.from_json(CHAIN), {}, now=1)
    (s0,) = _dispatched(commands)
    taken = engine.take_dirty()
    engine.task_started(s0, 2)  # changed again while the write was under way
    engine.keep_dirty(*taken)  # ... and the write failed
    workflows, tasks, _ = engine.take_dirty()
    assert workflows == [wf] and tasks == [s0]


def test_a_forks_branches_are_reported_with_the_fork() -> None:
    engine = _engine()
    wf, commands = engine.start(WorkflowDef.from_json(FORK), {}, now=1)
    branches = _dispatched(commands)
    assert len(branches) == 3
    workflows, tasks, _ = engine.take_dirty()
    assert workflows == [wf]
    assert {t.ref for t in tasks} == {"fork", "join", *(b.ref for b in branches)}
    assert len(tasks) == len({id(t) for t in tasks})  # each once
    for branch in branches:
        engine.task_started(branch, 2)
        engine.task_completed(branch, {}, 3)
    workflows, tasks, _ = engine.take_dirty()
    assert wf.status.value == "COMPLETED" and workflows == [wf]
    assert [t.ref for t in tasks[:3]] == [b.ref for b in branches] and {t.ref for t in tasks[3:]} == {"join"}


def test_two_engines_never_share_an_epoch() -> None:
    """An attempt's mark names the engine's take too: one engine's mark never passes for another's."""
    first, second = _engine(), _engine()
    seen = {first.epoch, second.epoch}
    for _ in range(3):
        first.take_dirty()
        second.take_dirty()
        seen |= {first.epoch, second.epoch}
    assert len(seen) == 8
