"""Conductor's error JSON (``ErrorResponse``, ``ApplicationExceptionMapper``) for every failure."""

from __future__ import annotations

import json
import logging
import socket
from typing import Any

from flowkit.errors import (
    DefinitionError,
    FlowkitError,
    InputError,
    NotFoundError,
    OperationNotAllowedError,
    StoreError,
)

__all__ = ["ApiError", "error_body", "status_for"]

_log = logging.getLogger("flowkit.server")
_INSTANCE = socket.gethostname()


class ApiError(FlowkitError):
    """A request the API refuses, with the HTTP status Conductor answers it with."""

    def __init__(self, status: int, message: str, error: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error = error  # the code the SDKs read from a 401 ("INVALID_TOKEN": fetch a new token)


def status_for(exc: BaseException) -> int:
    """The HTTP status Conductor's ``ApplicationExceptionMapper`` gives this kind of error."""
    if isinstance(exc, ApiError):
        return exc.status
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, StoreError):
        return 503  # another process holds the store: the client may try again
    if isinstance(exc, OperationNotAllowedError):
        return 409  # Conductor's ConflictException for illegal state changes
    if isinstance(exc, DefinitionError | InputError | json.JSONDecodeError | ValueError | TypeError | KeyError):
        return 400
    return 500


def error_body(exc: BaseException) -> tuple[int, dict[str, Any]]:
    """``(status, ErrorResponse JSON)``; an unexpected error is logged and answered without its trace."""
    status = status_for(exc)
    if status >= 500:
        _log.error("internal error", exc_info=exc)
        message = f"internal error: {type(exc).__name__}: {exc}"
    else:
        message = str(exc) if not isinstance(exc, KeyError) else f"missing field {exc}"
    body: dict[str, Any] = {
        "status": status,
        "code": {
            400: "INVALID_INPUT",
            401: "UNAUTHORIZED",
            404: "NOT_FOUND",
            409: "CONFLICT",
            413: "INVALID_INPUT",
        }.get(status, "INTERNAL_ERROR"),
        "message": message,
        "instance": _INSTANCE,
        "retryable": status == 503,
    }
    if isinstance(exc, ApiError) and exc.error:
        body["error"] = exc.error
    return status, body
