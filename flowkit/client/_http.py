"""HTTP to a Conductor server: keep-alive connections, token auth, and Conductor's errors as flowkit errors.

Only the standard library (``http.client``): connecting to a server needs no extra install. One
connection per thread is kept open and reused, reopened once when the server closed it.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import urllib.parse
from typing import Any

from flowkit.errors import FlowkitError, InputError, NotFoundError, OperationNotAllowedError

__all__ = ["AuthError", "Connection", "ServerError", "UnreachableError"]


class ServerError(FlowkitError):
    """A Conductor server answered a request with an error (``status`` is its HTTP status)."""

    def __init__(self, message: str, *, status: int = 0, url: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.url = url


class UnreachableError(ServerError):
    """Nothing answered at the server's address (not started, wrong host or port, or it stopped)."""


class AuthError(ServerError):
    """The server refused the credentials (HTTP 401 or 403)."""


class Connection:
    """Requests to one Conductor server (``url`` is its root, e.g. ``http://127.0.0.1:8080``).

    With ``key_id`` and ``key_secret`` a token is fetched from ``POST /api/token`` (as Conductor's
    SDKs do) and sent as ``X-Authorization``; on a 401 the token is fetched again once.
    """

    def __init__(
        self, url: str, *, key_id: str | None = None, key_secret: str | None = None, timeout: float = 30.0
    ) -> None:
        root = url.rstrip("/")
        if root.endswith("/api"):  # the SDKs' server_api_url form
            root = root[: -len("/api")]
        parts = urllib.parse.urlsplit(root)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InputError(
                f"server URL {url!r} is not an http(s) URL. Fix: pass the server's address, e.g. http://127.0.0.1:8080"
            )
        self.url = root
        self._scheme, self._host, self._port = parts.scheme, parts.hostname, parts.port
        self._prefix = parts.path
        self.timeout = timeout
        self._key = (key_id, key_secret) if key_id or key_secret else None
        self._token: str | None = None
        self._local = threading.local()

    # ------------------------------------------------------------------ requests
    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        timeout: float | None = None,
    ) -> Any:
        """Send one request to ``/api`` + ``path``; the answer's JSON (or its text, or None when empty).

        Raises:
            UnreachableError: nothing answers at the server's address.
            AuthError: the server wants (other) credentials.
            NotFoundError: HTTP 404 (an unknown workflow, execution or task).
            OperationNotAllowedError: HTTP 409 (Conductor's conflict: the state does not allow it).
            ServerError: any other error answer.

        """
        if self._key is not None and self._token is None:
            self._login()
        status, text = self._send(method, "/api" + path, params, body, timeout)
        if status == 401 and self._key is not None:
            self._login()  # the token expired (or the server restarted): once more with a new one
            status, text = self._send(method, "/api" + path, params, body, timeout)
        if status >= 400:
            raise self._error(method, path, status, text)
        if not text:
            return None
        try:
            return json.loads(text)
        except ValueError:
            return text

    def health(self) -> None:
        """Check that the server answers (``GET /health``, which any Conductor server has).

        Raises:
            UnreachableError: nothing answers.

        """
        self._send("GET", "/health", None, None, min(self.timeout, 10.0))

    def _login(self) -> None:
        assert self._key is not None
        key_id, key_secret = self._key
        status, text = self._send("POST", "/api/token", None, {"keyId": key_id, "keySecret": key_secret}, None)
        if status >= 400:
            raise AuthError(
                f"{self.url} refused the key {key_id!r} (HTTP {status} from POST /api/token: {_message(text)}). "
                "Fix: pass the key id and secret the server was started with "
                "(flowkit serve reads FLOWKIT_SERVER_KEY_ID and FLOWKIT_SERVER_KEY_SECRET).",
                status=status,
                url=self.url + "/api/token",
            )
        try:
            self._token = str(json.loads(text)["token"])
        except (ValueError, KeyError, TypeError):
            raise ServerError(
                f"{self.url}/api/token answered without a token: {text[:200]!r}. Fix: check the URL is a Conductor server.",
                status=status,
                url=self.url + "/api/token",
            ) from None

    def _send(
        self, method: str, path: str, params: dict[str, Any] | None, body: Any, timeout: float | None
    ) -> tuple[int, str]:
        target = self._prefix + path
        if params:
            query = {k: _query_value(v) for k, v in params.items() if v is not None}
            if query:
                target += "?" + urllib.parse.urlencode(query)
        headers = {"Accept": "application/json, text/plain"}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self._token is not None:
            headers["X-Authorization"] = self._token
        for attempt in (0, 1):
            connection = self._connection(timeout)
            try:
                connection.request(method, target, body=payload, headers=headers)
                response = connection.getresponse()
                data = response.read()
                if response.will_close:
                    self._drop()
                return response.status, data.decode("utf-8", "replace")
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                self._drop()  # a kept-alive connection the server closed: open a new one, once
                if attempt:
                    raise self._unreachable(exc) from None
            except TimeoutError:
                self._drop()
                raise ServerError(
                    f"{self.url} did not answer {method} {path} within {timeout or self.timeout:g} s. "
                    "Fix: check the server is not overloaded, or pass a longer timeout to flowkit.connect.",
                    url=self.url + path,
                ) from None
            except (OSError, http.client.HTTPException) as exc:
                self._drop()
                raise self._unreachable(exc) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _connection(self, timeout: float | None) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is None:
            kind = http.client.HTTPSConnection if self._scheme == "https" else http.client.HTTPConnection
            connection = kind(self._host, self._port, timeout=self.timeout)
            self._local.connection = connection
        wanted = self.timeout if timeout is None else timeout
        connection.timeout = wanted
        if connection.sock is not None:
            connection.sock.settimeout(wanted)
        return connection

    def _drop(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None

    def close(self) -> None:
        """Close this thread's connection (others close when their threads end)."""
        self._drop()

    # ------------------------------------------------------------------ errors
    def _unreachable(self, exc: BaseException) -> UnreachableError:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else f"{type(exc).__name__}: {exc}"
        if isinstance(exc, socket.gaierror):
            why = f"cannot resolve host {self._host!r}"
        return UnreachableError(
            f"cannot reach the Conductor server at {self.url} ({why}). Fix: start it (flowkit serve --port "
            f"{self._port or 8080}) or give the server's URL (flowkit.connect(url), flowkit worker --server URL).",
            url=self.url,
        )

    def _error(self, method: str, path: str, status: int, text: str) -> FlowkitError:
        message = _message(text)
        where = f"{method} {self.url}/api{path}"
        if status in (401, 403):
            fix = (
                "pass key_id and key_secret to flowkit.connect (flowkit serve takes them from FLOWKIT_SERVER_KEY_ID "
                "and FLOWKIT_SERVER_KEY_SECRET)"
                if self._key is None
                else "check the key id and secret, and that this key may do this"
            )
            return AuthError(f"{where}: HTTP {status}, {message}. Fix: {fix}.", status=status, url=where)
        if status == 404:
            return NotFoundError(
                f"{where}: HTTP 404, {message}. Fix: check the name or id (client.search() lists executions, "
                "client.register(definition) registers a workflow)."
            )
        if status == 409:
            return OperationNotAllowedError(f"{message} ({where}: HTTP 409)")
        if status in (400, 413, 422):
            return InputError(f"{where}: HTTP {status}, {message}")
        return ServerError(f"{where}: HTTP {status}, {message}", status=status, url=where)


def _message(text: str) -> str:
    """The ``message`` of Conductor's ErrorResponse JSON, else the text itself (shortened)."""
    try:
        body = json.loads(text)
    except ValueError:
        return text.strip()[:300] or "no message"
    if isinstance(body, dict):
        return str(body.get("message") or body.get("detail") or body.get("error") or body)[:500]
    return str(body)[:300]


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
