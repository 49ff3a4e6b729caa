"""WAIT (a duration or a moment) and HUMAN (Conductor's ``Wait.java``, ``Human.java``)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from flowkit.definitions._types import TaskStatus
from flowkit.engine._tasks._common import _start

if TYPE_CHECKING:
    from flowkit.engine._engine import Engine
    from flowkit.engine._state import TaskModel, WorkflowModel

__all__ = ["human", "parse_duration", "parse_until", "wait"]

S = TaskStatus


_DURATION = re.compile(
    r"\s*(?:(\d+)\s*(?:days?|d))?\s*(?:(\d+)\s*(?:hours?|hrs?|h))?\s*(?:(\d+)\s*(?:minutes?|mins?|m))?"
    r"\s*(?:(\d+)\s*(?:seconds?|secs?|s))?\s*",
    re.IGNORECASE,
)


def parse_duration(text: str) -> int | None:
    """Seconds in a Conductor WAIT ``duration`` ("30s", "2h 30m", "1 seconds"); None when invalid."""
    m = _DURATION.fullmatch(text)
    if not m or not any(m.groups()):
        return None
    d, h, mi, s = (int(g or 0) for g in m.groups())
    return ((d * 24 + h) * 60 + mi) * 60 + s


def parse_until(text: str) -> int | None:
    """Epoch ms for ``yyyy-MM-dd HH:mm``, ``yyyy-MM-dd HH:mm z`` or ``yyyy-MM-dd`` (UTC when no zone)."""
    from datetime import UTC, datetime

    for fmt in ("%Y-%m-%d %H:%M %Z", "%Y-%m-%d %H:%M %z", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            moment = datetime.strptime(text.strip(), fmt)
        except ValueError:
            continue
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return int(moment.timestamp() * 1000)
    return None


def wait(engine: Engine, wf: WorkflowModel, task: TaskModel, now: int, _: Any) -> None:
    _start(task, now)
    duration, until = task.input.get("duration"), task.input.get("until")
    if duration and until:
        engine.finish(
            task,
            S.FAILED_WITH_TERMINAL_ERROR,
            now,
            "Both 'duration' and 'until' specified. Please provide only one input",
        )
        return
    due = None
    if duration:
        seconds = parse_duration(str(duration))
        if seconds is None:
            engine.finish(
                task,
                S.FAILED_WITH_TERMINAL_ERROR,
                now,
                f"Unable to parse duration {duration!r}: use e.g. '30s', '2h 30m'",
            )
            return
        due = now + seconds * 1000
    elif until:
        due = parse_until(str(until))
        if due is None:
            engine.finish(
                task, S.FAILED_WITH_TERMINAL_ERROR, now, f"Unable to parse date {until!r}: use 'yyyy-MM-dd HH:mm'"
            )
            return
    if due is not None:
        task.extra = {"waitTimeout": due}
        engine.timer(due, "wait", task)


def human(engine: Engine, wf: WorkflowModel, task: TaskModel, now: int, _: Any) -> None:
    _start(task, now)
