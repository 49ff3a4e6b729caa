"""Task queues for outside workers: SIMPLE tasks wait SCHEDULED here until a worker polls them.

Conductor's poll side (``ExecutionService.poll``, ``WorkflowExecutorOps`` rate and concurrency
checks): a task is handed out in queue order once its delay has passed, unless its definition's
``concurrentExecLimit`` or ``rateLimitPerFrequency`` would be exceeded; the poll marks it
IN_PROGRESS with ``workerId``, ``pollCount`` and ``startTime``. Everything that touches a task runs
on the runtime's thread (``Runtime.operate``); the queue only keeps task references, and the waiting
pollers are woken through their event loop.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import defaultdict, deque
from typing import Any

from flowkit.definitions._wire import task_node_json, task_to_json
from flowkit.engine import Engine, TaskModel

__all__ = ["TaskQueues"]

_NODE_JSON_KEEP = 1024  # plan nodes whose constant task JSON is kept (one per task of the polled workflows)


class TaskQueues:
    """Per task type queues of SCHEDULED tasks, filled by the runner, emptied by polls."""

    def __init__(self) -> None:
        self.queues: dict[str, deque[TaskModel]] = defaultdict(deque)
        self.queued: set[str] = set()  # task ids in a queue (a re-dispatch must not queue one twice)
        self.not_before: dict[str, int] = {}  # task id -> epoch ms: handed out again only after
        self.starts: dict[str, deque[int]] = defaultdict(deque)  # poll times in the rate-limit window
        self.offered: dict[str, int] = defaultdict(int)  # tasks offered per type so far (see wait)
        self._waiters: dict[str, list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]]] = defaultdict(list)
        self._lock = threading.Lock()
        # id(node) -> (node, its workflowTask and taskDefinition JSON): half of a polled task's JSON,
        # the same for every poll of that node (the node is kept so its id cannot be reused meanwhile)
        self._node_json: dict[int, tuple[Any, tuple[dict[str, Any], dict[str, Any]]]] = {}

    # ------------------------------------------------------------------ the runner's side
    def offer(self, task: TaskModel) -> None:
        """Queue ``task`` for a poller (the runner's ``task_queue``; on the runtime thread)."""
        if task.task_id in self.queued:
            return
        self.queued.add(task.task_id)
        self.queues[task.task_def_name].append(task)
        self.offered[task.task_def_name] += 1
        self.wake(task.task_def_name)

    def wake(self, name: str) -> None:
        """Wake the pollers long-polling ``name``."""
        with self._lock:
            waiters = self._waiters.pop(name, [])
        for loop, future in waiters:
            loop.call_soon_threadsafe(_resolve, future)

    # ------------------------------------------------------------------ the poller's side
    async def wait(self, name: str, timeout: float, seen: int | None = None) -> None:
        """Wait until a task of type ``name`` is offered, or ``timeout`` seconds pass.

        ``seen``: ``offered[name]`` when the poller last found the queue empty; a task offered since
        (between that look and this wait) ends the wait at once instead of after ``timeout``.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._lock:
            self._waiters[name].append((loop, future))
        if seen is not None and self.offered.get(name, 0) != seen:
            future.set_result(None)
        try:
            await asyncio.wait_for(future, timeout)
        except TimeoutError:
            pass
        finally:
            with self._lock:
                waiters = self._waiters.get(name)
                if waiters and (loop, future) in waiters:
                    waiters.remove((loop, future))

    def take(self, engine: Engine, name: str, worker_id: str | None, count: int, now: int) -> list[dict[str, Any]]:
        """Hand out up to ``count`` tasks of type ``name`` (on the runtime thread): their task JSON."""
        queue = self.queues.get(name)
        if not queue:
            return []
        handed: list[dict[str, Any]] = []
        kept: deque[TaskModel] = deque()
        wall = int(time.time() * 1000)
        while queue and len(handed) < count:
            task = queue.popleft()
            if task.status.value != "SCHEDULED" or task.workflow.status.is_terminal:
                self.queued.discard(task.task_id)
                self.not_before.pop(task.task_id, None)
                continue
            if task.workflow.status.value != "RUNNING" or self.not_before.get(task.task_id, 0) > wall:
                kept.append(task)  # a paused workflow's task, or one a dead server handed out: later
                continue
            td = engine.task_defs.get(name) or task.node.task_def  # Conductor reads it at poll time
            if td.concurrent_exec_limit and self._running(engine, name) >= td.concurrent_exec_limit:
                kept.append(task)
                break
            if td.rate_limit_per_frequency:
                window = (td.rate_limit_frequency_in_seconds or 1) * 1000
                starts = self.starts[name]
                while starts and starts[0] <= now - window:
                    starts.popleft()
                if len(starts) >= td.rate_limit_per_frequency:
                    kept.append(task)
                    break
                starts.append(now)
            self.queued.discard(task.task_id)
            self.not_before.pop(task.task_id, None)
            if engine.task_started(task, now, worker_id):
                handed.append(task_to_json(task, self._json_of(task.node)))
        kept.extend(queue)
        self.queues[name] = kept
        return handed

    def _json_of(self, node: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        """``task_node_json(node)``, kept: shared by the polls' answers, which only encode it."""
        kept = self._node_json.get(id(node))
        if kept is not None and kept[0] is node:
            return kept[1]
        if len(self._node_json) >= _NODE_JSON_KEEP:
            self._node_json.clear()
        parts = task_node_json(node)
        self._node_json[id(node)] = (node, parts)
        return parts

    def _running(self, engine: Engine, name: str) -> int:
        """IN_PROGRESS tasks of type ``name`` (Conductor's ``exceedsInProgressLimit`` count)."""
        return sum(
            1
            for wf in engine.executions.values()
            if not wf.status.is_terminal
            for task in wf.tasks
            if task.task_def_name == name and task.status.value == "IN_PROGRESS"
        )

    def sizes(self, names: list[str] | None = None) -> dict[str, int]:
        """Tasks waiting per type (``GET /tasks/queue/sizes``)."""
        chosen = names if names else list(self.queues)
        return {name: sum(1 for t in self.queues.get(name, ()) if t.status.value == "SCHEDULED") for name in chosen}


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
