"""What the tutorial notebooks share: the sample images, and a stand-in for the service kitchensink calls."""

from __future__ import annotations

import http.server
import json
import threading
from pathlib import Path
from typing import Any

__all__ = ["SAMPLES", "SEARCH_ANSWER", "elasticsearch_stand_in"]

SAMPLES = Path(__file__).resolve().parents[2] / "notebooks" / "images"
"""The sample images that ship with the repository (made by scripts/make_sample_images.py)."""

SEARCH_ANSWER: dict[str, Any] = {
    "took": 1,
    "hits": {
        "total": {"value": 2, "relation": "eq"},
        "hits": [
            {"_index": "conductor", "_id": "wf-1", "_source": {"workflowId": "wf-1", "status": "COMPLETED"}},
            {"_index": "conductor", "_id": "wf-2", "_source": {"workflowId": "wf-2", "status": "FAILED"}},
        ],
    },
}
"""What :func:`elasticsearch_stand_in` answers: an Elasticsearch ``_search`` result with two workflows."""


def elasticsearch_stand_in(answer: dict[str, Any] | None = None) -> str:
    """Serve an Elasticsearch-like ``_search`` answer on a free 127.0.0.1 port; returns its base URL.

    Conductor's ``kitchensink.json`` ends with an HTTP task asking Elasticsearch on localhost:9200
    for recent workflows. This stand-in answers every GET with ``answer`` (default
    :data:`SEARCH_ANSWER`), so the workflow runs where no Elasticsearch does. The server runs on
    a daemon thread for the rest of the process.
    """
    body = json.dumps(answer if answer is not None else SEARCH_ANSWER).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
            return None  # no request lines on stderr (a notebook would show them as errors)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, name="flowkit-search-stand-in", daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}"
