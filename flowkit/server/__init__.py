"""``flowkit serve``: Conductor OSS's REST API on flowkit's engine and store.

Conductor's SDK workers poll ``/api/tasks/poll/{taskType}`` and answer with ``POST /api/tasks``;
clients register definitions and start and steer executions through ``/api/metadata`` and
``/api/workflow``. SIMPLE tasks with no in-process worker wait in a task queue for those pollers.
Needs the ``server`` extra (``pip install 'flowkit[server]'``).
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

from flowkit.errors import InputError
from flowkit.server._auth import Auth
from flowkit.server._service import Service

__all__ = ["Auth", "Service", "create_app", "serve"]


def create_app(service: Service, *, auth: Auth | None = None, max_body: int | None = None) -> Any:
    """The ASGI app for ``service`` (needs FastAPI: the ``server`` extra)."""
    from flowkit.server._app import MAX_BODY
    from flowkit.server._app import create_app as build

    return build(service, auth=auth, max_body=max_body or MAX_BODY)


def is_loopback(host: str) -> bool:
    """True when ``host`` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        try:
            return all(ipaddress.ip_address(info[4][0]).is_loopback for info in socket.getaddrinfo(host, None))
        except OSError:
            return False


def serve(
    store: Any = None,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    auth: Auth | None = None,
    workers: Any = None,
    log_level: str = "warning",
) -> None:
    """Serve Conductor's API on ``host:port`` until interrupted.

    Raises:
        InputError: ``host`` is not a loopback address and no ``auth`` is given.
    """
    if not is_loopback(host) and auth is None:
        raise InputError(
            f"refusing to serve on {host}: beyond this machine the API needs authentication. Fix: keep "
            "--host 127.0.0.1, or set FLOWKIT_SERVER_KEY_ID and FLOWKIT_SERVER_KEY_SECRET (clients then "
            "use Conductor's key/secret token flow)"
        )
    try:
        import uvicorn
    except ImportError as exc:
        raise InputError("flowkit serve needs the server extra. Fix: pip install 'flowkit[server]'") from exc
    service = Service(store, workers=workers)
    try:
        uvicorn.run(
            create_app(service, auth=auth),
            host=host,
            port=port,
            log_level=log_level,
            timeout_keep_alive=75,
            timeout_graceful_shutdown=2,
            # Per-request work a local API does not need: no access log line, no X-Forwarded-*
            # rewriting (no proxy in front of a loopback server), no Server header.
            access_log=False,
            proxy_headers=False,
            server_header=False,
        )
    finally:
        service.close()
