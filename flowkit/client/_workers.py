"""Run ``@worker_task`` functions as a worker service: poll a Conductor server's task queues, answer over HTTP.

The protocol is Conductor's (what its SDKs' task runners do): ``GET /api/tasks/poll/batch/{taskType}``
with ``count``, ``timeout`` (long poll) and ``workerid``, then ``POST /api/tasks`` with a TaskResult.
The function is called exactly as flowkit's executors call it (:meth:`flowkit.workers.Worker.execute`:
input names bound to parameters, a return value as the output, an exception as a FAILED task), so a
worker moves from the notebook to a service unchanged. ``flowkit worker --server URL --workers
module:attr`` runs one from the shell.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flowkit.client._http import Connection
from flowkit.errors import FlowkitError, InputError
from flowkit.workers import Task, Worker, as_worker_map
from flowkit.workers._capture import installed

__all__ = ["WorkerService"]

_log = logging.getLogger("flowkit.worker")


class WorkerService:
    """Poll a Conductor server for the tasks of ``workers`` and run them on ``threads`` threads.

    Args:
        server: The server's URL (``http://127.0.0.1:8080``), or a :class:`~flowkit.client.Client`.
        workers: ``@worker_task`` functions (a list, a mapping of task names to them, or one).
        threads: Tasks of each worker run at once (Conductor SDK's ``thread_count``; default 4).
        key_id: Application key id when the server wants a token (default ``$CONDUCTOR_AUTH_KEY``).
        key_secret: Its secret (default ``$CONDUCTOR_AUTH_SECRET``).
        poll_timeout_ms: How long one long poll waits for a task on the server.
        worker_id: Sent as ``workerid`` (default ``host-pid``); shows as the task's ``workerId``.
        domain: Conductor's task domain to poll.

    Example:
        >>> service = WorkerService("http://127.0.0.1:8080", flowkit.contrib.image_workers())  # doctest: +SKIP
        >>> service.run()  # polls until stop() or Ctrl-C  # doctest: +SKIP

    """

    def __init__(
        self,
        server: Any,
        workers: Any,
        *,
        threads: int | None = None,
        key_id: str | None = None,
        key_secret: str | None = None,
        poll_timeout_ms: int = 1000,
        worker_id: str | None = None,
        domain: str | None = None,
    ) -> None:
        self.workers = as_worker_map(workers)
        if not self.workers:
            raise InputError("no workers to run. Fix: pass @flowkit.worker_task functions.")
        if threads is not None and threads < 1:
            raise InputError(f"threads must be 1 or more, got {threads}")
        key_id = key_id or os.environ.get("CONDUCTOR_AUTH_KEY")
        key_secret = key_secret or os.environ.get("CONDUCTOR_AUTH_SECRET")
        url = server if isinstance(server, str) else server.url
        self.poll_timeout_ms = poll_timeout_ms
        self.connection = Connection(url, key_id=key_id, key_secret=key_secret, timeout=poll_timeout_ms / 1000 + 30)
        self.threads = threads or 4
        self.worker_id = worker_id or f"{socket.gethostname()}-{os.getpid()}"
        self.domain = domain
        self.completed = 0
        """Task results posted so far (any status)."""
        self._slots = {name: threading.Semaphore(self.threads) for name in self.workers}
        self._stop = threading.Event()
        self._pool: ThreadPoolExecutor | None = None
        self._pollers: list[threading.Thread] = []
        self._capture: installed | None = None
        self._count_lock = threading.Lock()

    @property
    def url(self) -> str:
        """The server's root URL."""
        return self.connection.url

    def start(self) -> WorkerService:
        """Check the server answers, then poll on background threads; returns at once."""
        self.connection.health()
        self._stop.clear()
        self._capture = installed()  # print() and logging inside a worker go to its task's logs, as in-process
        self._capture.__enter__()
        self._pool = ThreadPoolExecutor(self.threads * len(self.workers), thread_name_prefix="flowkit-worker")
        for name, worker in self.workers.items():
            thread = threading.Thread(target=self._poll, args=(name, worker), name=f"flowkit-poll-{name}", daemon=True)
            thread.start()
            self._pollers.append(thread)
        return self

    def run(self) -> None:
        """Poll until :meth:`stop` is called (or Ctrl-C); tasks already taken finish first."""
        self.start()
        try:
            while not self._stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop polling and wait up to ``timeout`` seconds for the tasks being run."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._pollers:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._pollers = []
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        if self._capture is not None:
            self._capture.__exit__(None, None, None)
            self._capture = None

    # ------------------------------------------------------------------ polling
    def _poll(self, name: str, worker: Worker) -> None:
        backoff = 0.1
        slots = self._slots[name]
        while not self._stop.is_set():
            if not slots.acquire(timeout=0.5):
                continue
            free = 1
            while free < self.threads and slots.acquire(blocking=False):
                free += 1
            try:
                tasks = self.connection.request(
                    "GET",
                    f"/tasks/poll/batch/{name}",
                    params={
                        "workerid": self.worker_id,
                        "count": free,
                        "timeout": self.poll_timeout_ms,
                        "domain": self.domain or worker.domain,
                    },
                )
                backoff = 0.1
            except FlowkitError as exc:  # the server restarts, or is gone for a while: keep trying, slower
                tasks = []
                _log.warning("polling %s for '%s' failed: %s", self.url, name, exc)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)
            tasks = tasks if isinstance(tasks, list) else []
            for _ in range(free - len(tasks)):
                slots.release()
            for raw in tasks:
                assert self._pool is not None
                self._pool.submit(self._run, worker, raw, slots)

    def _run(self, worker: Worker, raw: dict[str, Any], slots: threading.Semaphore) -> None:
        try:
            task = _task(raw, self.worker_id)
            outcome = worker.execute(task)
            logs = list(outcome.logs or ())
            if outcome.error and outcome.error.get("traceback"):
                logs.append(
                    str(outcome.error["traceback"])
                )  # TaskResult has no error field: the trace goes to the logs
            now = int(time.time() * 1000)
            result = {
                "workflowInstanceId": task.workflow_instance_id,
                "taskId": task.task_id,
                "status": str(outcome.status),
                "outputData": outcome.output or {},
                "reasonForIncompletion": outcome.reason,
                "callbackAfterSeconds": outcome.callback_after_seconds,
                "workerId": self.worker_id,
                "logs": [{"log": line, "taskId": task.task_id, "createdTime": now} for line in logs],
            }
            self._update(result)
        finally:
            slots.release()

    def _update(self, result: dict[str, Any]) -> None:
        # Conductor's SDKs try an update a few times: a result lost to a blip would run the task again.
        for attempt in range(4):
            try:
                self.connection.request("POST", "/tasks", body=result)
                with self._count_lock:
                    self.completed += 1
                return
            except FlowkitError as exc:
                _log.warning("updating task %s on %s failed: %s", result["taskId"], self.url, exc)
                if self._stop.wait(0.5 * 2**attempt) and attempt:
                    return

    def __enter__(self) -> WorkerService:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def _task(raw: dict[str, Any], worker_id: str) -> Task:
    """What the worker sees: Conductor's Task JSON as flowkit's :class:`~flowkit.workers.Task`."""
    return Task(
        input_data=dict(raw.get("inputData") or {}),
        task_id=str(raw.get("taskId")),
        reference_task_name=str(raw.get("referenceTaskName") or ""),
        task_def_name=str(raw.get("taskDefName") or raw.get("taskType") or ""),
        task_type=str(raw.get("taskType") or ""),
        workflow_instance_id=str(raw.get("workflowInstanceId") or ""),
        workflow_type=str(raw.get("workflowType") or ""),
        retry_count=int(raw.get("retryCount") or 0),
        poll_count=int(raw.get("pollCount") or 0),
        callback_after_seconds=int(raw.get("callbackAfterSeconds") or 0),
        worker_id=worker_id,
        correlation_id=raw.get("correlationId"),
        iteration=int(raw.get("iteration") or 0),
        status=str(raw.get("status") or "IN_PROGRESS"),
    )
