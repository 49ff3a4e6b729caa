"""The ``/api`` routes, as Conductor's ``MetadataResource``, ``WorkflowResource`` and ``TaskResource`` have them."""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from flowkit.definitions import TaskDef, WorkflowDef
from flowkit.server._auth import Auth
from flowkit.server._errors import ApiError
from flowkit.server._search import parse_query, summary
from flowkit.server._service import Service

__all__ = ["add_routes"]


async def _json(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"malformed JSON body: {exc}") from exc


def _object(body: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise ApiError(400, f"the body must be a JSON object ({what})")
    return body


def _query_object(raw: str | None) -> Any:
    """A JSON object sent in a query parameter; the Python SDK sends Python's repr of a dict there."""
    if not raw:
        return None
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        try:
            return ast.literal_eval(raw)  # literals only: no code runs
        except (ValueError, SyntaxError) as exc:
            raise ApiError(400, f"cannot read the query parameter as a JSON object: {raw[:200]}") from exc


def _ok() -> Response:
    return Response(status_code=200)


def add_routes(app: FastAPI, service: Service, auth: Auth | None) -> None:
    """Add the health, token and ``/api`` routes for ``service`` to ``app``."""

    async def authorized(request: Request) -> None:
        if auth is not None and not auth.valid(request.headers.get("x-authorization")):
            raise ApiError(
                401,
                "missing or invalid X-Authorization token (POST /api/token with keyId and keySecret)",
                error="INVALID_TOKEN",
            )

    @app.get("/health", tags=["health"])
    def health() -> dict[str, Any]:
        """The server is up."""
        return {"healthy": True}

    @app.post("/api/token", tags=["token"])
    async def token(request: Request) -> dict[str, str]:
        """Exchange an application key and secret for a token (send it as ``X-Authorization``)."""
        body = _object(await _json(request), "{keyId, keySecret}")
        issued = auth.issue(str(body.get("keyId")), str(body.get("keySecret"))) if auth else "local"
        if issued is None:
            raise ApiError(401, "invalid keyId or keySecret")
        return {"token": issued}

    api = APIRouter(prefix="/api", dependencies=[Depends(authorized)])
    _metadata(api, service)
    _workflows(api, service)
    _tasks(api, service)
    app.include_router(api)


# ---------------------------------------------------------------------------------------- metadata
def _metadata(api: APIRouter, service: Service) -> None:
    @api.post("/metadata/workflow", tags=["metadata"])
    async def create_workflow(request: Request, overwrite: bool = False) -> Response:
        """Register a workflow definition (a list is accepted too)."""
        body = await _json(request)
        defs = [WorkflowDef.from_json(d) for d in (body if isinstance(body, list) else [_object(body, "WorkflowDef")])]
        await run_in_threadpool(service.register_workflows, defs, overwrite=overwrite)
        return _ok()

    @api.put("/metadata/workflow", tags=["metadata"])
    async def update_workflows(request: Request) -> Response:
        """Create or update workflow definitions (a JSON list)."""
        body = await _json(request)
        defs = [WorkflowDef.from_json(d) for d in (body if isinstance(body, list) else [_object(body, "WorkflowDef")])]
        await run_in_threadpool(service.register_workflows, defs, overwrite=True)
        return _ok()

    @api.get("/metadata/workflow", tags=["metadata"])
    def list_workflows() -> list[dict[str, Any]]:
        """Every registered workflow definition."""
        return [d.to_json() for d in service.engine.workflows]

    @api.get("/metadata/workflow/{name}", tags=["metadata"])
    def get_workflow_def(name: str, version: int | None = None) -> dict[str, Any]:
        """A workflow definition, the latest version unless ``version`` is given."""
        return service.workflow_def(name, version).to_json()

    @api.delete("/metadata/workflow/{name}/{version}", tags=["metadata"])
    def delete_workflow_def(name: str, version: int) -> Response:
        """Unregister one version of a workflow definition."""
        service.unregister_workflow(name, version)
        return _ok()

    @api.post("/metadata/taskdefs", tags=["metadata"])
    async def create_task_defs(request: Request) -> Response:
        """Register task definitions (a JSON list)."""
        body = await _json(request)
        defs = [TaskDef.from_json(d) for d in (body if isinstance(body, list) else [_object(body, "TaskDef")])]
        await run_in_threadpool(service.register_task_defs, defs)
        return _ok()

    @api.put("/metadata/taskdefs", tags=["metadata"])
    async def update_task_def(request: Request) -> Response:
        """Update a task definition."""
        body = await _json(request)
        defs = [TaskDef.from_json(d) for d in (body if isinstance(body, list) else [_object(body, "TaskDef")])]
        await run_in_threadpool(service.register_task_defs, defs)
        return _ok()

    @api.get("/metadata/taskdefs", tags=["metadata"])
    def list_task_defs() -> list[dict[str, Any]]:
        """Every registered task definition."""
        return [td.to_json() for td in service.engine.task_defs.values()]

    @api.get("/metadata/taskdefs/{name}", tags=["metadata"])
    def get_task_def(name: str) -> dict[str, Any]:
        """A task definition."""
        return service.task_def(name).to_json()

    @api.delete("/metadata/taskdefs/{name}", tags=["metadata"])
    def delete_task_def(name: str) -> Response:
        """Unregister a task definition."""
        service.unregister_task_def(name)
        return _ok()


# ---------------------------------------------------------------------------------------- workflows
def _workflows(api: APIRouter, service: Service) -> None:
    @api.post("/workflow", tags=["workflow"])
    async def start_request(request: Request) -> Response:
        """Start an execution from a StartWorkflowRequest (``workflowDef`` inline or a registered ``name``)."""
        body = _object(await _json(request), "StartWorkflowRequest")
        execution = await run_in_threadpool(
            service.start,
            body.get("name"),
            body.get("version"),
            body.get("input"),
            correlation_id=body.get("correlationId"),
            priority=int(body.get("priority") or 0),
            inline=body.get("workflowDef"),
        )
        return PlainTextResponse(execution.workflow_id)

    @api.post("/workflow/execute/{name}/{version}", tags=["workflow"])
    async def execute(
        request: Request,
        name: str,
        version: int,
        requestId: str | None = None,  # noqa: N803
        waitUntilTaskRef: str | None = None,
        waitForSeconds: int = 10,
    ) -> dict[str, Any]:  # noqa: N803
        """Start an execution and wait up to ``waitForSeconds`` for it to end (the SDKs' ``execute``)."""
        body = _object(await _json(request) or {}, "StartWorkflowRequest")
        execution = await run_in_threadpool(
            service.start,
            name,
            version,
            body.get("input"),
            correlation_id=body.get("correlationId"),
            priority=int(body.get("priority") or 0),
            inline=body.get("workflowDef"),
        )
        await run_in_threadpool(service.wait, execution.model, max(0, min(waitForSeconds, 600)))
        run = execution.to_json()
        run["requestId"] = requestId
        return run

    @api.post("/workflow/{name}", tags=["workflow"])
    async def start(
        request: Request, name: str, version: int | None = None, correlationId: str | None = None, priority: int = 0
    ) -> Response:  # noqa: N803
        """Start an execution of a registered workflow with the body as its input."""
        body = await _json(request)
        execution = await run_in_threadpool(
            service.start, name, version, body, correlation_id=correlationId, priority=priority
        )
        return PlainTextResponse(execution.workflow_id)

    @api.get("/workflow/search", tags=["workflow"])
    def search(
        start: int = 0,
        size: int = 100,
        query: str | None = None,
        freeText: str | None = None,  # noqa: N803
        sort: str | None = None,
    ) -> dict[str, Any]:
        """Executions matching ``query`` (``workflowType``, ``status``, ``correlationId``, ``startTime`` clauses)."""
        filters = parse_query(query)
        rows = service.search(**filters)
        if freeText and freeText != "*":
            rows = [r for r in rows if freeText in (r["workflow_id"], r["name"], r.get("correlation_id"))]
        return {"totalHits": len(rows), "results": [summary(r) for r in rows[start : start + size]]}

    @api.get("/workflow/running/{name}", tags=["workflow"])
    def running(
        name: str,
        version: int | None = None,
        startTime: int | None = None,  # noqa: N803
        endTime: int | None = None,
    ) -> list[str]:  # noqa: N803
        """Ids of the RUNNING executions of ``name``."""
        rows = service.search(name=name, version=version, status="RUNNING", since=startTime, until=endTime)
        return [r["workflow_id"] for r in rows]

    @api.get("/workflow/{name}/correlated/{correlation_id}", tags=["workflow"])
    def correlated(
        name: str,
        correlation_id: str,
        includeClosed: bool = False,  # noqa: N803
        includeTasks: bool = False,
    ) -> list[dict[str, Any]]:  # noqa: N803
        """Executions of ``name`` with this correlation id."""
        return _correlated(service, name, correlation_id, includeClosed, includeTasks)

    @api.post("/workflow/{name}/correlated", tags=["workflow"])
    async def correlated_many(
        request: Request,
        name: str,
        includeClosed: bool = False,  # noqa: N803
        includeTasks: bool = False,
    ) -> dict[str, list[dict[str, Any]]]:  # noqa: N803
        """Executions of ``name`` for each correlation id in the body (a JSON list)."""
        ids = await _json(request)
        if not isinstance(ids, list):
            raise ApiError(400, "the body must be a JSON list of correlation ids")
        return {str(c): _correlated(service, name, str(c), includeClosed, includeTasks) for c in ids}

    @api.get("/workflow/{workflow_id}", tags=["workflow"])
    def get_execution(workflow_id: str, includeTasks: bool = True) -> dict[str, Any]:  # noqa: N803
        """Conductor's execution JSON."""
        return service.execution(workflow_id).to_json(include_tasks=includeTasks)

    @api.get("/workflow/{workflow_id}/status", tags=["workflow"])
    def status(workflow_id: str, includeOutput: bool = False, includeVariables: bool = False) -> dict[str, Any]:  # noqa: N803
        """The execution's status (``WorkflowStatus``)."""
        e = service.execution(workflow_id)
        result: dict[str, Any] = {
            "workflowId": e.workflow_id,
            "correlationId": e.correlation_id,
            "status": e.status.value,
        }
        if includeOutput:
            result["output"] = e.output
        if includeVariables:
            result["variables"] = e.variables
        return result

    @api.put("/workflow/{workflow_id}/pause", tags=["workflow"])
    def pause(workflow_id: str) -> Response:
        """Pause a RUNNING execution."""
        service.execution(workflow_id).pause()
        return _ok()

    @api.put("/workflow/{workflow_id}/resume", tags=["workflow"])
    def resume(workflow_id: str) -> Response:
        """Resume a PAUSED execution."""
        service.execution(workflow_id).resume()
        return _ok()

    @api.delete("/workflow/{workflow_id}", tags=["workflow"])
    def terminate(workflow_id: str, reason: str | None = None) -> Response:
        """Terminate an execution."""
        service.execution(workflow_id).terminate(reason)
        return _ok()

    @api.delete("/workflow/{workflow_id}/remove", tags=["workflow"])
    def remove(workflow_id: str, archiveWorkflow: bool = True) -> Response:  # noqa: N803
        """Remove an execution from the store."""
        service.remove(workflow_id)
        return _ok()

    @api.post("/workflow/{workflow_id}/restart", tags=["workflow"])
    def restart(workflow_id: str, useLatestDefinitions: bool = False) -> Response:  # noqa: N803
        """Start a terminal execution over with the same id and input."""
        service.execution(workflow_id).restart(use_latest_definitions=useLatestDefinitions)
        return _ok()

    @api.post("/workflow/{workflow_id}/retry", tags=["workflow"])
    def retry(workflow_id: str, resumeSubworkflowTasks: bool = False) -> Response:  # noqa: N803
        """Retry a terminal execution from its failed tasks."""
        service.execution(workflow_id).retry(resume_subworkflow_tasks=resumeSubworkflowTasks)
        return _ok()

    @api.post("/workflow/{workflow_id}/rerun", tags=["workflow"])
    async def rerun(request: Request, workflow_id: str) -> Response:
        """Rerun from the start or from ``reRunFromTaskId`` (a RerunWorkflowRequest)."""
        body = _object(await _json(request) or {}, "RerunWorkflowRequest")
        execution = await run_in_threadpool(service.execution, workflow_id)
        await run_in_threadpool(
            execution.rerun,
            from_task_id=body.get("reRunFromTaskId"),
            task_input=body.get("taskInput"),
            workflow_input=body.get("workflowInput"),
            correlation_id=body.get("correlationId"),
        )
        return PlainTextResponse(workflow_id)

    @api.put("/workflow/{workflow_id}/skiptask/{ref}", tags=["workflow"])
    async def skip_task(request: Request, workflow_id: str, ref: str, skipTaskRequest: str | None = None) -> Response:  # noqa: N803
        """Skip a task not reached yet, with an optional SkipTaskRequest (body, or ``skipTaskRequest`` query)."""
        body = _object(await _json(request) or _query_object(skipTaskRequest) or {}, "SkipTaskRequest")
        execution = await run_in_threadpool(service.execution, workflow_id)
        await run_in_threadpool(
            execution.skip_task, ref, task_input=body.get("taskInput"), task_output=body.get("taskOutput")
        )
        return _ok()


def _correlated(service: Service, name: str, cid: str, closed: bool, tasks: bool) -> list[dict[str, Any]]:
    rows = service.search(name=name, correlation_id=cid)
    out = []
    for row in rows:
        if not closed and row["status"] not in ("RUNNING", "PAUSED"):
            continue
        out.append(service.execution(row["workflow_id"]).to_json(include_tasks=tasks))
    return out


# ---------------------------------------------------------------------------------------- tasks
def _tasks(api: APIRouter, service: Service) -> None:
    long_poll = service.long_poll

    @api.get("/tasks/poll/batch/{task_type}", tags=["task"])
    async def batch_poll(
        task_type: str,
        workerid: str | None = None,
        domain: str | None = None,
        count: int = Query(1, ge=1, le=1000),
        timeout: int = 100,
    ) -> list[dict[str, Any]]:
        """Up to ``count`` tasks of ``task_type``, waiting up to ``timeout`` ms for the first."""
        return await long_poll(task_type, workerid, count, timeout)

    @api.get("/tasks/poll/{task_type}", tags=["task"])
    async def poll(
        task_type: str, workerid: str | None = None, domain: str | None = None, timeout: int = 0
    ) -> Response:
        """One task of ``task_type`` (``204 No Content`` when none came within ``timeout`` ms)."""
        tasks = await long_poll(task_type, workerid, 1, timeout)
        return JSONResponse(tasks[0]) if tasks else Response(status_code=204)

    @api.post("/tasks", tags=["task"])
    async def update(request: Request) -> Response:
        """Apply a TaskResult (COMPLETED, FAILED, FAILED_WITH_TERMINAL_ERROR, IN_PROGRESS)."""
        body = _object(await _json(request), "TaskResult")
        return PlainTextResponse(await service.update_task_async(body))

    @api.get("/tasks/queue/sizes", tags=["task"])
    def queue_sizes(taskType: list[str] | None = Query(None)) -> dict[str, int]:  # noqa: N803, B008
        """Tasks waiting in each queue."""
        return service.queue_sizes(taskType)

    @api.post("/tasks/{workflow_id}/{ref}/{status}", tags=["task"])
    async def update_by_ref(
        request: Request, workflow_id: str, ref: str, status: str, workerid: str | None = None
    ) -> Response:
        """Update the pending task ``ref`` of an execution; the body is its output."""
        body = await _json(request)
        task_id = await run_in_threadpool(service.update_by_ref, workflow_id, ref, status, body or {}, workerid)
        return PlainTextResponse(task_id)

    @api.get("/tasks/{task_id}", tags=["task"])
    def get_task(task_id: str) -> dict[str, Any]:
        """A task's JSON."""
        from flowkit.definitions._wire import task_to_json

        return task_to_json(service.find_task(task_id))

    @api.get("/tasks/{task_id}/log", tags=["task"])
    def task_logs(task_id: str) -> list[dict[str, Any]]:
        """A task's execution log lines (TaskExecLog)."""
        task = service.find_task(task_id)
        return [{"log": line, "taskId": task_id, "createdTime": task.update_time} for line in task.logs or []]
