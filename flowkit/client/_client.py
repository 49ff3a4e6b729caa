"""``flowkit.connect(url)``: a client of a Conductor server (``flowkit serve`` or Conductor itself).

Everything goes through Conductor's REST API (``/api/metadata/...``, ``/api/workflow/...``,
``/api/tasks``, ``POST /api/token``), so the same notebook code watches and steers executions on
``flowkit serve`` and on a Conductor server.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from flowkit.client._execution import RemoteExecution, Source
from flowkit.client._http import Connection
from flowkit.client._model import ModelReader
from flowkit.definitions import TaskDef, WorkflowDef
from flowkit.engine import Engine
from flowkit.errors import InputError, NotFoundError

__all__ = ["Client", "connect"]


def connect(url: str, *, key_id: str | None = None, key_secret: str | None = None, timeout: float = 30.0) -> Client:
    """Connect to a Conductor server and check that it answers.

    Args:
        url: The server's root, e.g. ``http://127.0.0.1:8080`` (a URL ending in ``/api`` works too).
        key_id: Application key id, when the server wants a token (``POST /api/token``).
        key_secret: Its secret.
        timeout: Seconds to wait for any one answer.

    Returns:
        A :class:`Client`; its executions are :class:`flowkit.Execution` handles.

    Raises:
        UnreachableError: nothing answers at ``url``.
        AuthError: the server refused the key (or wants one and none was given).

    Example:
        >>> client = flowkit.connect("http://127.0.0.1:8080")  # doctest: +SKIP
        >>> run = client.start("image_convert_resize", {"fileLocation": "..."})  # doctest: +SKIP
        >>> run.wait(60).status  # doctest: +SKIP

    """
    client = Client(Connection(url, key_id=key_id, key_secret=key_secret, timeout=timeout))
    client.connection.health()
    if key_id or key_secret:
        client.connection._login()  # a wrong key fails here, not at the first start
    return client


class Client:
    """Register definitions, start executions and find them on one Conductor server."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._engine = Engine(new_id=lambda: str(uuid.uuid4()))
        self.reader = ModelReader(self._engine, self.workflow_def)
        self._source = Source(self, self._engine)
        self._handles: dict[str, RemoteExecution] = {}
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        """The server's root URL."""
        return self.connection.url

    @property
    def hooks(self) -> Any:
        """Task and run events as watching reads see them (a :class:`flowkit.runtime.Hooks`)."""
        return self._source.hooks

    # ------------------------------------------------------------------ metadata
    def register(self, *definitions: Any, overwrite: bool = True) -> None:
        """Register workflow definitions (WorkflowDef, builder, or Conductor JSON).

        With ``overwrite`` (the default) an existing name and version is replaced
        (``PUT /api/metadata/workflow``); without it Conductor refuses one that exists (409).
        """
        docs = [_workflow_json(d) for d in _flatten(definitions)]
        if overwrite:
            self.connection.request("PUT", "/metadata/workflow", body=docs)
        else:
            for doc in docs:
                self.connection.request("POST", "/metadata/workflow", body=doc)

    def register_task_defs(self, *task_defs: Any) -> None:
        """Register (or update) task definitions (TaskDef or Conductor JSON)."""
        docs = [d.to_json() if isinstance(d, TaskDef) else dict(d) for d in _flatten(task_defs)]
        if docs:
            self.connection.request("POST", "/metadata/taskdefs", body=docs)

    def workflow_def(self, name: str, version: int | None = None) -> WorkflowDef:
        """A registered workflow definition (the latest version when ``version`` is None)."""
        raw = self.connection.request("GET", f"/metadata/workflow/{name}", params={"version": version})
        return WorkflowDef.from_json(raw)

    def workflow_defs(self) -> list[WorkflowDef]:
        """Every registered workflow definition."""
        return [WorkflowDef.from_json(d) for d in self.connection.request("GET", "/metadata/workflow") or ()]

    # ------------------------------------------------------------------ executions
    def start(
        self,
        workflow: Any,
        input: Mapping[str, Any] | None = None,  # noqa: A002 - Conductor's name
        version: int | None = None,
        *,
        correlation_id: str | None = None,
        priority: int = 0,
    ) -> RemoteExecution:
        """Start an execution on the server (``POST /api/workflow``, a StartWorkflowRequest).

        Args:
            workflow: A registered workflow's name, or a definition (WorkflowDef, builder, JSON),
                sent inline as ``workflowDef`` (it need not be registered).
            input: The workflow input.
            version: The registered version (None: the latest).
            correlation_id: Conductor's correlationId.
            priority: 0-99.

        """
        request: dict[str, Any] = {"input": dict(input or {}), "priority": priority}
        if isinstance(workflow, str):
            request["name"] = workflow
            if version is not None:
                request["version"] = version
        else:
            doc = _workflow_json(workflow)
            request.update(name=doc["name"], version=doc.get("version", 1), workflowDef=doc)
        if correlation_id is not None:
            request["correlationId"] = correlation_id
        workflow_id = self.connection.request("POST", "/workflow", body=request)
        return self.execution(str(workflow_id).strip().strip('"'))

    def execution(self, workflow_id: str) -> RemoteExecution:
        """The execution ``workflow_id`` (read now; one handle per id)."""
        raw = self.raw_execution(workflow_id)
        with self._source.lock:
            model = self.reader.read(raw)
        with self._lock:
            handle = self._handles.get(workflow_id)
            if handle is None:
                handle = self._handles[workflow_id] = RemoteExecution(model, self._source)
        handle._model = model
        return handle

    def raw_execution(self, workflow_id: str, *, include_tasks: bool = True) -> dict[str, Any]:
        """Conductor's execution JSON (``GET /api/workflow/{id}?includeTasks=true``)."""
        raw = self.connection.request("GET", f"/workflow/{workflow_id}", params={"includeTasks": include_tasks})
        if not isinstance(raw, dict) or "workflowId" not in raw:
            raise NotFoundError(
                f"{self.url} has no execution {workflow_id!r}. Fix: check the id (client.search() lists executions)."
            )
        return raw

    def search(
        self,
        *,
        name: str | None = None,
        status: str | Iterable[str] | None = None,
        correlation_id: str | None = None,
        limit: int = 20,
        query: str | None = None,
    ) -> list[dict[str, Any]]:
        """Recent executions (``GET /api/workflow/search``), newest first: Conductor's WorkflowSummary dicts.

        Args:
            name: Only this workflow.
            status: Only these statuses.
            correlation_id: Only this correlationId.
            limit: At most this many.
            query: Conductor's query text instead (``workflowType IN (a) AND status IN (RUNNING)``).

        """
        clauses = []
        if name:
            clauses.append(f"workflowType IN ({name})")
        if status:
            names = [status] if isinstance(status, str) else list(status)
            clauses.append(f"status IN ({','.join(names)})")
        if correlation_id:
            clauses.append(f"correlationId = '{correlation_id}'")
        text = query if query is not None else " AND ".join(clauses) or None
        found = self.connection.request(
            "GET", "/workflow/search", params={"start": 0, "size": limit, "query": text, "sort": "startTime:DESC"}
        )
        results = list((found or {}).get("results") or ())
        return sorted(results, key=lambda r: _epoch_ms(r.get("startTime")), reverse=True)[:limit]

    def recent(self, limit: int = 20, **filters: Any) -> list[RemoteExecution]:
        """The most recent executions as handles (see :meth:`search` for the filters)."""
        return [self.execution(str(r["workflowId"])) for r in self.search(limit=limit, **filters)]

    def close(self) -> None:
        """Close this thread's connection."""
        self.connection.close()

    def __repr__(self) -> str:
        return f"<flowkit Client {self.url}>"


def _epoch_ms(value: Any) -> float:
    """A WorkflowSummary time: epoch ms (flowkit serve) or ISO text (Conductor's Elasticsearch index)."""
    if isinstance(value, int | float):
        return float(value)
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp() * 1000
    except ValueError:
        return 0.0


def _flatten(items: Iterable[Any]) -> list[Any]:
    out: list[Any] = []
    for item in items:
        if isinstance(item, list | tuple):
            out.extend(item)
        else:
            out.append(item)
    return out


def _workflow_json(definition: Any) -> dict[str, Any]:
    if hasattr(definition, "to_workflow_def"):
        definition = definition.to_workflow_def()
    if isinstance(definition, WorkflowDef):
        return definition.to_json()
    if isinstance(definition, Mapping):
        return WorkflowDef.from_json(definition).to_json()  # checked here, with flowkit's messages
    raise InputError(
        f"cannot send a {type(definition).__name__} as a workflow definition. "
        "Fix: pass a WorkflowDef, a WorkflowBuilder, Conductor JSON (a dict) or a registered workflow's name."
    )
