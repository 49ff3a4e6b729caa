"""The HTTP system task's worker (Conductor's ``HttpTask``), on the standard library's HTTP client."""

from __future__ import annotations

import json
from typing import Any

from flowkit.workers._worker import Outcome, Task, Worker

__all__ = ["builtin_workers", "http_request"]


def http_request(task: Task) -> Outcome:
    """Perform ``http_request`` (or the input itself) and map the response as Conductor does."""
    import urllib.error
    import urllib.request

    data = task.input_data
    nested = data.get("http_request")
    request = nested if isinstance(nested, dict) else data
    uri, method = request.get("uri"), str(request.get("method") or "GET").upper()
    if not uri:
        return Outcome("FAILED", {}, "Missing HTTP URI. See documentation for HttpTask for required input parameters")
    scheme = str(uri).partition(":")[0].strip().lower() if ":" in str(uri) else ""
    if scheme not in ("http", "https"):
        # urllib also opens file:// and ftp:// URLs; Conductor's HttpTask speaks only HTTP(S)
        reason = f"HTTP task URI must start with http:// or https://, not {str(uri)[:200]!r}"
        return Outcome("FAILED", {"response": reason}, reason)
    headers = {str(k): str(v) for k, v in (request.get("headers") or {}).items()}
    headers.setdefault("Accept", request.get("accept") or "application/json")
    body = request.get("body")
    payload = None
    if body is not None:
        headers.setdefault("Content-Type", request.get("contentType") or "application/json")
        payload = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    timeout = (int(request.get("connectionTimeOut") or 3000) + int(request.get("readTimeOut") or 3000)) / 1000
    req = urllib.request.Request(str(uri), data=payload, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - user-configured URL
            status, reason, raw, resp_headers = resp.status, resp.reason, resp.read(), list(resp.headers.items())
    except urllib.error.HTTPError as exc:
        status, reason, raw, resp_headers = exc.code, exc.reason, exc.read(), list((exc.headers or {}).items())
    except (urllib.error.URLError, OSError, ValueError) as exc:
        # Conductor: the exception text becomes the response and the reason.
        text = f"{type(exc).__name__}: {getattr(exc, 'reason', exc)} ({method} {uri})"
        return Outcome("FAILED", {"response": text}, f"Failed to invoke HTTP task due to: {text}")
    text = raw.decode("utf-8", errors="replace")
    try:
        parsed: Any = json.loads(text) if text else None
    except ValueError:
        parsed = text
    answer_headers: dict[str, list[str]] = {}
    for name, value in resp_headers:  # Conductor answers every header as a list of values
        answer_headers.setdefault(name, []).append(value)
    response = {"body": parsed, "headers": answer_headers, "statusCode": status, "reasonPhrase": str(reason)}
    if 200 <= status < 300:
        return Outcome("COMPLETED", {"response": response})
    return Outcome("FAILED", {"response": response}, text or f"HTTP {status} {reason}")


class _Builtin(Worker):
    def execute(self, task: Task) -> Outcome:
        try:
            return self.fn(task)  # type: ignore[no-any-return]
        except Exception as exc:  # a broken request fails the task, never the runner
            return Outcome("FAILED", {}, f"{type(exc).__name__}: {exc}")


_BUILTIN: dict[str, Worker] = {}


def builtin_workers() -> dict[str, Worker]:
    """Workers for system task types that do IO (by task type)."""
    if not _BUILTIN:
        _BUILTIN["HTTP"] = _Builtin(http_request, "HTTP")
    return _BUILTIN
