"""uvicorn's httptools protocol with one socket write per response instead of two.

uvicorn writes a response's status line and headers, then its body, each straight to the socket:
two ``send`` system calls, each holding the GIL through the loopback TCP stack (under the workers'
poll -> update stream they were most of the event loop's time). Here a connection's writes of one
event-loop turn go out together at its end: a response is one ``send``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["CoalescingHttpToolsProtocol"]


class _CoalescingTransport:
    """Holds a connection's writes until the end of the loop turn; everything else is the transport's."""

    __slots__ = ("_buffer", "_loop", "_transport")

    def __init__(self, transport: asyncio.BaseTransport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport: Any = transport  # an asyncio.Transport (a WriteTransport too)
        self._loop = loop
        self._buffer: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._buffer:
            self._loop.call_soon(self._flush)
        self._buffer.append(data)

    def _flush(self) -> None:
        if self._buffer:
            data = b"".join(self._buffer)
            self._buffer.clear()
            if not self._transport.is_closing():
                self._transport.write(data)

    def close(self) -> None:
        self._flush()  # what was written goes out before the connection closes
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    """:class:`HttpToolsProtocol` writing through a :class:`_CoalescingTransport`."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        wrapped: Any = _CoalescingTransport(transport, self.loop)
        super().connection_made(wrapped)
