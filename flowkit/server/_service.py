"""The server's state: one background Runtime on the store, the definitions and the task queues."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from flowkit.definitions import TaskDef, WorkflowDef
from flowkit.engine import Command, Engine, TaskModel, WorkflowModel
from flowkit.errors import InputError, NotFoundError
from flowkit.runtime import Execution, RunEnded, RunStarted, Runtime
from flowkit.server._batch import Batcher
from flowkit.server._errors import ApiError
from flowkit.server._finished import KEEP, FinishedCache
from flowkit.server._queues import TaskQueues
from flowkit.store._codec import RESPONSE_TIMEOUT_DEFAULT

__all__ = ["Service"]


class Service:
    """What the HTTP routes call: definitions, executions and task queues on one Runtime.

    Args:
        store: The store (a path, ``"memory"`` or None for the default file).
        workers: In-process workers (their tasks never reach a queue).
        keep_finished: Ended executions kept in memory; older ones are read from the store when asked for.
    """

    def __init__(self, store: Any = None, workers: Any = None, *, keep_finished: int = KEEP) -> None:
        self.runtime = Runtime(store=store, workers=workers, background=True)
        self.engine = self.runtime.engine
        self.store = self.runtime.store
        self.queues = TaskQueues()
        self.runtime.runner.task_queue = self.queues.offer
        self.finished = FinishedCache(keep_finished)
        # On the runtime thread: an ended run is remembered, and a start (or a batch of worker calls)
        # lets the oldest ended ones go.
        self.runtime.hooks.add(RunEnded, lambda event: self.finished.ended(event.workflow))
        self.runtime.hooks.add(RunStarted, lambda event: self.finished.trim(self.engine))
        self.batcher = Batcher(self.runtime, before=self.finished.trim)
        with self.store.session():
            for td in self.store.task_defs():
                self.engine.task_defs[td.name] = td
            for wd in self.store.workflow_defs():
                self.engine.workflows.register(wd)
            in_flight = self._in_flight_polled()
        self.queues.not_before.update(in_flight)
        self.recovered = self.runtime.recover()

    def _in_flight_polled(self) -> dict[str, int]:
        """Tasks a worker polled from a server that died: handed out again after their response timeout."""
        due: dict[str, int] = {}
        for row in self.store.execution_rows(status=["RUNNING", "PAUSED"]):
            record = self.store.execution(row["workflow_id"])
            if record is None:
                continue
            for task in record[1]:
                if task["status"] == "IN_PROGRESS":  # only queued (SIMPLE) tasks ever consult it
                    timeout = int(json.loads(task["data"]).get("responseTimeoutSeconds", RESPONSE_TIMEOUT_DEFAULT) or 0)
                    due[task["task_id"]] = int(task["updated"] or 0) + timeout * 1000
        return due

    # ------------------------------------------------------------------ definitions
    def register_workflows(self, defs: list[WorkflowDef], *, overwrite: bool) -> None:
        """Register (POST: new only) or update (PUT) workflow definitions."""
        for definition in defs:
            if not overwrite and self.engine.workflows.get(definition.name, definition.version) is not None:
                raise ApiError(409, f"Workflow with {definition.name}.{definition.version} already exists!")

        def register(engine: Engine, now: int) -> list[Command]:
            for definition in defs:
                engine.workflows.register(definition)
            return []

        self._operate(register)
        with self.store.session():
            self.store.save_definitions(defs, [])

    def register_task_defs(self, defs: list[TaskDef]) -> None:
        """Register or update task definitions."""

        def put(engine: Engine, now: int) -> list[Command]:
            for td in defs:
                engine.task_defs[td.name] = td
            engine._plans.clear()  # plans embed task definitions: new executions must see the update
            return []

        self._operate(put)
        with self.store.session():
            self.store.save_definitions([], defs)

    def workflow_def(self, name: str, version: int | None) -> WorkflowDef:
        """A registered workflow definition (latest version when ``version`` is None)."""
        found = self.engine.workflows.get(name, version)
        lookup = getattr(self.store, "workflow_def", None) if self.store.durable else None
        if found is None and lookup is not None:
            # registered by another process on the same file (a notebook) since this one started
            found = lookup(name, version)
            if found is not None:
                self.engine.workflows.register(found)  # as unregister_workflow, a plain registry change
        if found is None:
            suffix = f" and version {version}" if version is not None else ""
            raise ApiError(404, f"No such workflow found by name: {name}{suffix}")
        return found

    def task_def(self, name: str) -> TaskDef:
        """A registered task definition."""
        found = self.engine.task_defs.get(name)
        if found is None:
            raise ApiError(404, f"No such taskType found by name: {name}")
        return found

    def unregister_workflow(self, name: str, version: int) -> None:
        """Forget a workflow definition version (running executions keep theirs)."""
        self.workflow_def(name, version)
        registry = self.engine.workflows
        versions = registry._by_name.get(name, {})  # the Registry has no removal of its own
        versions.pop(version, None)
        if not versions:
            registry._by_name.pop(name, None)
        self._delete("DELETE FROM workflow_defs WHERE name=? AND version=?", (name, version))

    def unregister_task_def(self, name: str) -> None:
        """Forget a task definition."""
        self.task_def(name)
        self.engine.task_defs.pop(name, None)
        self._delete("DELETE FROM task_defs WHERE name=?", (name,))

    def _delete(self, sql: str, args: tuple[Any, ...]) -> None:
        conn = getattr(self.store, "conn", None)
        if conn is None:
            return  # the in-memory store keeps no registry of its own
        with self.store.session():
            conn.execute(sql, args)
            conn.commit()

    # ------------------------------------------------------------------ executions
    def start(
        self,
        name: str | None,
        version: int | None,
        workflow_input: Any,
        *,
        correlation_id: str | None = None,
        priority: int = 0,
        inline: Mapping[str, Any] | None = None,
    ) -> Execution:
        """Start an execution of a registered definition, or of an inline ``workflowDef``."""
        if workflow_input is not None and not isinstance(workflow_input, Mapping):
            raise InputError("the workflow input must be a JSON object")
        if inline is not None:
            definition = WorkflowDef.from_json(inline)
        else:
            if not name:
                raise ApiError(400, "Workflow name cannot be null or empty")
            definition = self.workflow_def(name, version)
        return self.runtime.start(
            definition, dict(workflow_input or {}), correlation_id=correlation_id, priority=priority
        )

    def execution(self, workflow_id: str) -> Execution:
        """The execution with this id (404 when unknown)."""
        held = workflow_id in self.engine.executions
        try:
            execution = self.runtime.load(workflow_id)
        except NotFoundError as exc:
            raise ApiError(404, f"Workflow with id: {workflow_id} not found.") from exc
        if not held and execution.model.status.is_terminal:
            self.finished.ended(execution.model)  # loaded back from the store: in the cache again
        return execution

    def remove(self, workflow_id: str) -> None:
        """Delete an execution from the engine and the store (``DELETE /workflow/{id}/remove``)."""
        execution = self.execution(workflow_id)

        def drop(engine: Engine, now: int) -> list[Command]:
            engine.executions.pop(workflow_id, None)
            return []

        if not execution.status.is_terminal:
            execution.terminate("removed")
        self._operate(drop)
        self.store.remove_execution(workflow_id)

    def search(self, **filters: Any) -> list[dict[str, Any]]:
        """Execution rows from the store, newest first.

        A read takes no session (that would take the store's writer lock): history is answered while
        another process, a notebook, writes to the same file.
        """
        return self.store.execution_rows(**filters)

    # ------------------------------------------------------------------ tasks
    def poll(self, name: str, worker_id: str | None, count: int) -> list[dict[str, Any]]:
        """Hand out up to ``count`` tasks of type ``name``."""
        holder: list[list[dict[str, Any]]] = []

        def take(engine: Engine, now: int) -> list[Command]:
            holder.append(self.queues.take(engine, name, worker_id, count, now))
            return []

        self._operate(take)
        return holder[0]

    async def long_poll(self, name: str, worker_id: str | None, count: int, timeout_ms: int) -> list[dict[str, Any]]:
        """Poll, waiting up to ``timeout_ms`` (at most a minute) for a first task."""
        deadline = time.monotonic() + min(max(timeout_ms, 0), 60_000) / 1000
        queues = self.queues
        while True:
            # An empty queue is read here, not on the runtime thread (a hop costs more than the rest of
            # an empty poll): ``seen`` first, so a task offered after it ends the wait at once.
            seen = queues.offered.get(name, 0)
            if queues.queues.get(name):
                tasks, seen = await self.poll_async(name, worker_id, count)
            else:
                tasks = []
            left = deadline - time.monotonic()
            if tasks or left <= 0:
                return tasks
            await self.queues.wait(name, left, seen)

    async def poll_async(self, name: str, worker_id: str | None, count: int) -> tuple[list[dict[str, Any]], int]:
        """:meth:`poll`, grouped with other requests' polls and updates (see ``_batch``).

        Returns the tasks and how many of this type had been offered then (for ``TaskQueues.wait``).
        """
        queues = self.queues

        def step(engine: Engine, now: int) -> tuple[list[Command], Any]:
            return [], (queues.take(engine, name, worker_id, count, now), queues.offered.get(name, 0))

        # answered once the tasks' IN_PROGRESS is on disk: a server killed after answering must not hand
        # them out again before their responseTimeoutSeconds (Conductor writes the poll before it answers)
        result: tuple[list[dict[str, Any]], int] = await self.batcher.submit(step)
        return result

    async def update_task_async(self, result: Mapping[str, Any]) -> str:
        """:meth:`update_task`, grouped with other requests' polls and updates (see ``_batch``)."""
        task_id = result.get("taskId")
        if not task_id:
            raise ApiError(400, "taskId cannot be null or empty")
        workflow_id = result.get("workflowInstanceId")
        update = self._result_update(result)

        def step(engine: Engine, now: int) -> tuple[list[Command], Any]:
            wf = engine.executions.get(workflow_id) if workflow_id else None
            task = wf.task_by_id(str(task_id)) if wf is not None else None
            if task is None:
                return [], None  # not held here: looked up (and loaded) below, outside the batch
            return update(engine, task, now), str(task_id)

        done: str | None = await self.batcher.submit(step)
        if done is None:
            return await asyncio.to_thread(self.update_task, result)
        return done

    def queue_sizes(self, names: list[str] | None) -> dict[str, int]:
        """Tasks waiting per type, counted on the runtime thread (which changes the queues)."""
        holder: list[dict[str, int]] = []

        def count(engine: Engine, now: int) -> list[Command]:
            holder.append(self.queues.sizes(names))
            return []

        self._operate(count)
        return holder[0]

    def find_task(self, task_id: str, workflow_id: str | None = None) -> TaskModel:
        """The task with this id (in ``workflow_id`` when given)."""
        if workflow_id:
            for task in reversed(self.execution(workflow_id).tasks):
                if task.task_id == task_id:
                    return task
        else:
            for wf in list(self.engine.executions.values()):
                for task in wf.tasks:
                    if task.task_id == task_id:
                        return task
        raise ApiError(404, f"No such task found by id: {task_id}")

    def update_task(self, result: Mapping[str, Any]) -> str:
        """Apply a worker's TaskResult; returns the task id."""
        task_id = result.get("taskId")
        if not task_id:
            raise ApiError(400, "taskId cannot be null or empty")
        task = self.find_task(str(task_id), result.get("workflowInstanceId"))
        self._apply(task, result)
        return str(task_id)

    def update_by_ref(self, workflow_id: str, ref: str, status: str, output: Any, worker_id: str | None) -> str:
        """``POST /tasks/{workflowId}/{taskRefName}/{status}``: the latest pending task with that ref."""
        execution = self.execution(workflow_id)
        pending = [t for t in execution.tasks if t.ref == ref and not t.status.is_terminal]
        if not pending:
            raise ApiError(404, f"No such task found by reference name: {ref} in workflow {workflow_id}")
        task = pending[-1]
        self._apply(task, {"status": status, "outputData": output, "workerId": worker_id})
        return task.task_id

    def _apply(self, task: TaskModel, result: Mapping[str, Any]) -> None:
        update = self._result_update(result)
        self.runtime.operate(lambda engine, now: update(engine, task, now))

    def _result_update(self, result: Mapping[str, Any]) -> Callable[[Engine, TaskModel, int], list[Command]]:
        """The engine call for a TaskResult, checked before it reaches the runtime thread."""
        status = result.get("status")
        if status not in ("COMPLETED", "FAILED", "FAILED_WITH_TERMINAL_ERROR", "IN_PROGRESS"):
            raise ApiError(
                400,
                f"TaskResult status must be COMPLETED, FAILED, FAILED_WITH_TERMINAL_ERROR or "
                f"IN_PROGRESS, got {status!r}",
            )
        output = result.get("outputData")
        if output is not None and not isinstance(output, Mapping):
            raise ApiError(400, "outputData must be a JSON object")
        logs = [str(entry.get("log") if isinstance(entry, Mapping) else entry) for entry in result.get("logs") or []]
        callback = int(result.get("callbackAfterSeconds") or 0)
        if callback < 0:
            raise ApiError(400, "callbackAfterSeconds must be 0 or more")

        reason, worker_id = result.get("reasonForIncompletion"), result.get("workerId")

        def update(engine: Engine, task: TaskModel, now: int) -> list[Command]:
            return engine.task_updated(
                task,
                status,
                now,
                output=output,
                reason=reason,
                callback_after_seconds=callback,
                logs=logs or None,
                worker_id=worker_id,
            )

        return update

    def _operate(self, operation: Any) -> None:
        self.runtime.operate(operation)

    def wait(self, model: WorkflowModel, seconds: float) -> None:
        """Wait up to ``seconds`` for ``model`` to end."""
        self.runtime.wait(model, seconds)

    def close(self) -> None:
        """Stop the runtime thread."""
        self.runtime.close()


def now_ms() -> int:
    """Wall-clock epoch milliseconds."""
    return int(time.time() * 1000)
