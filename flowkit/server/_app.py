"""The ASGI app: Conductor OSS's ``/api`` paths on a :class:`~flowkit.server._service.Service`.

The paths are those of Conductor's ``WorkflowResource``, ``TaskResource`` and ``MetadataResource``.

Paths, parameters and JSON follow Conductor's resources so its SDKs work unchanged: ids come back
as plain text, an empty poll is ``204 No Content``, errors are Conductor's ``ErrorResponse`` JSON.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from flowkit.errors import FlowkitError
from flowkit.server._auth import Auth
from flowkit.server._errors import ApiError, error_body
from flowkit.server._fast import FastPath
from flowkit.server._routes import add_routes
from flowkit.server._service import Service

__all__ = ["create_app"]

MAX_BODY = 8 * 1024 * 1024  # bytes; Conductor's payload thresholds keep bodies far below this


def create_app(service: Service, *, max_body: int = MAX_BODY, auth: Auth | None = None) -> Any:
    """The ASGI app serving ``service`` (OpenAPI at ``/openapi.json``, its page at ``/docs``)."""
    app = FastAPI(
        title="flowkit serve",
        description="Conductor OSS's REST API on flowkit's engine and SQLite store.",
        version="1",
    )

    async def on_error(request: Request, exc: Exception) -> Response:
        if isinstance(exc, StarletteHTTPException):
            body = {"status": exc.status_code, "message": str(exc.detail), "instance": "", "retryable": False}
            status = exc.status_code
        elif isinstance(exc, RequestValidationError):
            status, body = 400, error_body(ApiError(400, _validation_message(exc)))[1]
        else:
            status, body = error_body(exc)
        body["instance"] = body.get("instance") or request.url.path
        return JSONResponse(body, status_code=status)

    # Known errors are answered by the exception middleware; anything else reaches the outermost
    # handler (Exception), which answers the same JSON and logs the trace on the server only.
    for kind in (FlowkitError, ValueError, TypeError, KeyError, Exception):
        app.add_exception_handler(kind, on_error)
    app.add_exception_handler(StarletteHTTPException, on_error)
    app.add_exception_handler(RequestValidationError, on_error)
    add_routes(app, service, auth)
    app.state.service = service
    # Outside FastAPI's own middleware stack and the body limit's wrapper: the worker calls skip
    # both (see _fast; it limits the update's body itself).
    return FastPath(_BodyLimit(app, max_body), service, auth, max_body)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(x) for x in error.get("loc", ()) if x not in ("query", "path", "body"))
        parts.append(f"{where}: {error.get('msg')}")
    return "; ".join(parts) or "invalid request"


class _BodyLimit:
    """Answers 413 with Conductor's error JSON when a request body exceeds ``max_body`` bytes."""

    def __init__(self, app: ASGIApp, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for key, value in scope.get("headers", ()):
            if key == b"content-length" and value.isdigit() and int(value) > self.max_body:
                await _too_large(scope, send, self.max_body)
                return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise ApiError(413, f"request body over {self.max_body} bytes")
            return message

        await self.app(scope, limited, send)


async def _too_large(scope: Scope, send: Send, limit: int) -> None:
    status, body = error_body(ApiError(413, f"request body over {limit} bytes"))
    body["instance"] = scope.get("path", "")
    data = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": data})
