"""A bounded cache of ended executions: the server's memory does not grow with its history.

An execution that ended is on disk; the engine keeps it only so that a GET or an operation on a
recent one needs no store read. Beyond ``keep`` ended top-level executions (with their
sub-workflows), the oldest leave the engine; ``GET /api/workflow/{id}`` and the operations load them
from the store again (``Runtime.load``). Trimming runs on the runtime thread, between operations,
and skips anything not written yet.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from flowkit.engine import Engine, WorkflowModel

__all__ = ["FinishedCache"]

KEEP = 1000  # ended executions held in memory (each is a few KB per task; the store has them all)


class FinishedCache:
    """Remembers ended top-level executions in the order they ended; :meth:`trim` drops the oldest."""

    def __init__(self, keep: int = KEEP) -> None:
        self.keep = keep
        self._ended: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()  # a GET that loads an ended execution remembers it from its own thread
        self.evicted = 0

    def ended(self, wf: WorkflowModel) -> None:
        """``wf`` ended (a RunEnded hook) or was loaded ended from the store: newest in the cache."""
        if wf.parent_workflow_id is None:  # a sub-workflow leaves with its top-level execution
            with self._lock:
                self._ended[wf.workflow_id] = None
                self._ended.move_to_end(wf.workflow_id)

    def trim(self, engine: Engine) -> None:
        """Drop the oldest ended executions beyond ``keep`` from ``engine`` (on the runtime thread)."""
        ended = self._ended
        if len(ended) <= self.keep:
            return
        executions, dirty = engine.executions, engine.dirty_workflows
        skipped: list[str] = []
        while len(ended) > self.keep:
            with self._lock:
                workflow_id, _ = ended.popitem(last=False)
            wf = executions.get(workflow_id)
            if wf is None:
                continue  # already gone (removed over the API)
            family = _family(engine, wf)
            if any(not w.status.is_terminal or w.workflow_id in dirty for w in family):
                skipped.append(workflow_id)  # restarted meanwhile, or not on disk yet: later
                continue
            for w in family:
                executions.pop(w.workflow_id, None)
            self.evicted += 1
        with self._lock:
            for workflow_id in skipped:
                ended[workflow_id] = None
                ended.move_to_end(workflow_id, last=False)  # the oldest again, tried at the next trim


def _family(engine: Engine, wf: WorkflowModel) -> list[WorkflowModel]:
    """``wf`` and the sub-workflow executions below it that the engine holds."""
    found, todo = [], [wf]
    while todo:
        w = todo.pop()
        found.append(w)
        for task in w.tasks:
            child = engine.executions.get(task.sub_workflow_id) if task.sub_workflow_id else None
            if child is not None and child is not w:
                todo.append(child)
    return found
