"""The watch thread looks only at runs that may call a worker on their own thread and write to a
durable store; it writes for them while they are inside a worker (``flowkit.runtime._watch``)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

import flowkit
from flowkit.runtime._watch import WATCH
from flowkit.store import SqliteStore

WF = {"name": "watched", "tasks": [{"name": "look", "taskReferenceName": "look"}]}


def _looked_at_during_the_call(**options: Any) -> tuple[bool, bool]:
    """(was this run's runner among the watched ones, did its worker run on the calling thread)."""
    seen: list[tuple[bool, bool]] = []

    def look() -> dict[str, Any]:
        runners = list(WATCH._runners)  # noqa: SLF001 - what the watch thread looks at
        seen.append(
            (bool(runners) and all(r.calling for r in runners), threading.current_thread() is threading.main_thread())
        )
        return {}

    ex = flowkit.run(WF, {}, workers={"look": look}, **options)
    assert ex.status == "COMPLETED"
    assert not WATCH._runners  # noqa: SLF001 - the run left
    return seen[0]


@pytest.mark.parametrize("executor", ["threads", "inline"])
def test_a_run_on_a_durable_store_is_watched_while_its_worker_runs_here(tmp_path: Path, executor: str) -> None:
    watched, here = _looked_at_during_the_call(executor=executor, store=SqliteStore(tmp_path / "w.db"))
    assert here and watched


@pytest.mark.parametrize(
    ("store", "executor"),
    [("memory", "threads"), ("memory", "inline"), ("batch0", "threads")],
)
def test_runs_with_nothing_to_write_later_are_not_watched(tmp_path: Path, store: str, executor: str) -> None:
    # the in-memory store keeps the live models; batch_ms=0 writes before every start
    chosen: Any = SqliteStore(tmp_path / "b.db", batch_ms=0) if store == "batch0" else store
    watched, _ = _looked_at_during_the_call(executor=executor, store=chosen)
    assert not watched


def test_a_background_run_on_worker_threads_is_not_watched(tmp_path: Path) -> None:
    seen: list[int] = []

    def look() -> dict[str, Any]:
        seen.append(len(WATCH._runners))  # noqa: SLF001
        return {}

    ex = flowkit.start(WF, {}, workers={"look": look}, store=SqliteStore(tmp_path / "s.db")).wait(30)
    assert ex.status == "COMPLETED" and seen == [0]


def test_a_run_goes_on_unwatched_when_no_thread_can_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from flowkit.runtime import _runner, _watch

    fresh = _watch._Watch()  # noqa: SLF001 - one with no thread yet
    monkeypatch.setattr(_runner, "WATCH", fresh)
    start = threading.Thread.start

    def refuse(self: threading.Thread) -> None:
        if self.name == "flowkit-run-writer":
            raise RuntimeError("can't start new thread")
        start(self)

    monkeypatch.setattr(threading.Thread, "start", refuse)
    ex = flowkit.run(WF, {}, workers={"look": lambda: {}}, store=SqliteStore(tmp_path / "n.db"))
    assert ex.status == "COMPLETED"
    assert fresh._thread is None and not fresh._runners  # noqa: SLF001
