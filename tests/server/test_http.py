"""The server's HTTP layer over raw sockets: a response's writes go out together, and all of them.

`flowkit serve` holds a connection's writes until the end of the event-loop turn (one `send` per
response): pipelined requests, a response before `Connection: close`, a large body and a malformed
request must still reach the client whole and in order.
"""

from __future__ import annotations

import json
import socket

from tests.server.serving import Server, server_fixture  # noqa: F401 - fixture


def _read_until_closed(sock: socket.socket) -> bytes:
    sock.settimeout(10)
    chunks = []
    while True:
        data = sock.recv(65536)
        if not data:
            return b"".join(chunks)
        chunks.append(data)


def _responses(raw: bytes) -> list[tuple[bytes, bytes]]:
    """Split HTTP/1.1 responses with Content-Length bodies: (status line, body) each."""
    out = []
    while raw:
        head, _, rest = raw.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        length = next(int(v) for k, _, v in (h.partition(b": ") for h in lines[1:]) if k.lower() == b"content-length")
        out.append((lines[0], rest[:length]))
        raw = rest[length:]
    return out


def test_pipelined_requests_answered_in_order_and_close_flushes_the_last(server: Server) -> None:
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(
            b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /api/tasks/poll/nobody_polls_this?workerid=w HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /api/tasks/queue/sizes?taskType=nobody_polls_this HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        got = _responses(_read_until_closed(sock))
    assert [status for status, _ in got] == [b"HTTP/1.1 200 OK", b"HTTP/1.1 204 No Content", b"HTTP/1.1 200 OK"]
    assert json.loads(got[2][1]) == {"nobody_polls_this": 0}


def test_large_body_arrives_whole(server: Server) -> None:
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(b"GET /openapi.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        ((status, body),) = _responses(_read_until_closed(sock))
    assert status == b"HTTP/1.1 200 OK"
    assert len(body) > 20_000
    assert "/api/tasks/poll/{task_type}" in json.loads(body)["paths"]


def test_malformed_request_gets_its_400_before_the_close(server: Server) -> None:
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        raw = _read_until_closed(sock)
    assert raw.startswith(b"HTTP/1.1 400 Bad Request")
