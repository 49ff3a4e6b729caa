"""The worker calls (poll, batch poll, task update) answered before FastAPI's router.

Workers make these calls many times a second; FastAPI's routing and parameter handling cost more
than the engine's work for them. This ASGI layer answers exactly these paths with the same results,
errors and authentication as the documented routes (which stay in the OpenAPI schema), and hands
every other request on.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote_plus

from starlette.types import ASGIApp, Receive, Scope, Send

from flowkit.server._auth import Auth
from flowkit.server._errors import ApiError, error_body
from flowkit.server._service import Service

__all__ = ["FastPath"]

_POLL = "/api/tasks/poll/"
_BATCH = "/api/tasks/poll/batch/"
# Compact, as Starlette's JSONResponse answers the documented routes; one encoder (json.dumps with
# arguments builds a new one per call).
_encode = json.JSONEncoder(separators=(",", ":")).encode
_JSON = b"application/json"
_TEXT = b"text/plain; charset=utf-8"


def _query(raw: bytes) -> dict[str, str]:
    """A query string's parameters (the first value of each), as ``parse_qs`` reads them."""
    out: dict[str, str] = {}
    if not raw:
        return out
    for pair in raw.decode().split("&"):
        name, _, value = pair.partition("=")
        if not value:
            continue  # parse_qs drops blank values too
        if "%" in pair or "+" in pair:
            name, value = unquote_plus(name), unquote_plus(value)
        out.setdefault(name, value)
    return out


class FastPath:
    """Serves ``GET /api/tasks/poll[/batch]/{type}`` and ``POST /api/tasks``; passes the rest to ``app``."""

    def __init__(self, app: ASGIApp, service: Service, auth: Auth | None, max_body: int) -> None:
        self.app = app
        self.service = service
        self.auth = auth
        self.max_body = max_body  # checked here for the update's body: ``app`` checks the others

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path, method = scope["path"], scope["method"]
        if method == "POST" and path == "/api/tasks":
            handler: Any = self._update
        elif (
            method == "GET"
            and path.startswith(_POLL)
            and "/" not in path[len(_BATCH) if path.startswith(_BATCH) else len(_POLL) :]
        ):
            handler = self._poll
        else:
            await self.app(scope, receive, send)
            return
        try:
            if self.auth is not None:
                token = next((v.decode() for k, v in scope["headers"] if k == b"x-authorization"), None)
                if not self.auth.valid(token):
                    raise ApiError(
                        401,
                        "missing or invalid X-Authorization token (POST /api/token with keyId and keySecret)",
                        error="INVALID_TOKEN",
                    )
            status, content_type, body = await handler(scope, receive)
        except Exception as exc:  # the same JSON the routes answer with
            status, payload = error_body(exc)
            payload["instance"] = path
            content_type, body = b"application/json", json.dumps(payload).encode()
        headers = [(b"content-length", str(len(body)).encode())]
        if content_type:
            headers.append((b"content-type", content_type))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _poll(self, scope: Scope, receive: Receive) -> tuple[int, bytes | None, bytes]:
        path: str = scope["path"]
        batch = path.startswith(_BATCH)
        name = path[len(_BATCH) if batch else len(_POLL) :]
        query = _query(scope.get("query_string", b""))
        worker_id = query.get("workerid")
        try:
            count = int(query.get("count", "1")) if batch else 1
            timeout = int(query.get("timeout", "100" if batch else "0"))
        except ValueError as exc:
            raise ApiError(400, f"count and timeout must be whole numbers: {exc}") from exc
        if not 1 <= count <= 1000:
            raise ApiError(400, "count must be between 1 and 1000")
        tasks = await self.service.long_poll(name, worker_id, count, timeout)
        if batch:
            return 200, _JSON, _encode(tasks).encode()
        if not tasks:
            return 204, None, b""
        return 200, _JSON, _encode(tasks[0]).encode()

    async def _update(self, scope: Scope, receive: Receive) -> tuple[int, bytes | None, bytes]:
        limit = self.max_body
        for key, value in scope["headers"]:
            if key == b"content-length" and value.isdigit() and int(value) > limit:
                raise ApiError(413, f"request body over {limit} bytes")
        chunks, seen = [], 0
        while True:
            message = await receive()
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > limit:
                raise ApiError(413, f"request body over {limit} bytes")
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        try:
            result = json.loads(b"".join(chunks))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ApiError(400, f"malformed JSON body: {exc}") from exc
        if not isinstance(result, dict):
            raise ApiError(400, "the body must be a JSON object (TaskResult)")
        task_id = await self.service.update_task_async(result)
        return 200, _TEXT, task_id.encode()
