"""The API listener's HTTP protocol: uvicorn's httptools protocol plus a header-read timeout,
and a response head that goes out with the first piece of its body.

uvicorn closes a connection idle *between* requests (``timeout_keep_alive``), but has no limit
on a connection that never sends a request, or sends its headers a byte at a time (slowloris):
each would hold a socket and a protocol object forever. Here a client gets ``header_timeout``
seconds from connecting, and from the first byte of each next request, to finish the headers.

uvicorn writes a response's status line and headers as soon as the app starts the response,
then its body: two send() calls and two TCP segments for every reply. `HeadCork` holds the
head until the next write, or at the latest the end of the current event-loop turn.

A model call is cancelled when its client hangs up (`omniroute.api.hangup`). ASGI says so only
to a task waiting on ``receive()``; the scope extension `CLIENT_GONE` gives a future the
connection sets when it closes, so the watch costs a callback instead of a task per call.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# Scope extension: a future that is done once the client's connection closes.
CLIENT_GONE = "omniroute.client_gone"


class HeadCork:
    """The connection's transport, with a response head held back until the next write (or
    the end of this loop turn) so that both leave in one send; everything else delegates."""

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self._transport.write(held + data)
        elif data.startswith(b"HTTP/1.1 ") and not data.startswith(b"HTTP/1.1 100 "):
            self._held = data
            self._loop.call_soon(self.flush)
        else:
            self._transport.write(data)

    @property
    def transport(self) -> asyncio.Transport:
        return self._transport

    def flush(self) -> None:
        held, self._held = self._held, None
        if held is not None and not self._transport.is_closing():
            self._transport.write(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class HeaderTimeoutProtocol(HttpToolsProtocol):
    header_timeout: float = 15.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None
        self._gone: asyncio.Future[None] = self.loop.create_future()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.transport = HeadCork(transport, self.loop)  # type: ignore[assignment]
        self._arm_header_timer()

    def handle_websocket_upgrade(self) -> None:
        cork = self.transport
        if isinstance(cork, HeadCork):  # the WebSocket protocol gets the socket's own transport
            cork.flush()
            self.transport = cork.transport
        super().handle_websocket_upgrade()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.scope["extensions"] = {CLIENT_GONE: self._gone}  # type: ignore[typeddict-unknown-key]
        self._arm_header_timer()

    def on_headers_complete(self) -> None:
        self._disarm_header_timer()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        if not self._gone.done():
            self._gone.set_result(None)
        super().connection_lost(exc)

    def _arm_header_timer(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout, self._header_timed_out)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timed_out(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            # Nothing of a request has reached the app: a plain close, as nginx does.
            self.transport.close()


def protocol_class(header_timeout: float) -> type[HeaderTimeoutProtocol]:
    """A protocol class bound to ``header_timeout`` (uvicorn takes a class, not an instance)."""
    return type("HeaderTimeoutProtocol", (HeaderTimeoutProtocol,), {"header_timeout": header_timeout})


__all__ = ["CLIENT_GONE", "HeadCork", "HeaderTimeoutProtocol", "protocol_class"]
