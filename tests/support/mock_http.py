"""HTTP plumbing of the mock provider: stream framing, abrupt connection close, responses."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from tests.support.mock_faults import Fault
from tests.support.mock_formats import Event, dumps, error_body, format_seconds

JSON = dict[str, Any]
Framing = Literal["sse", "ndjson", "json_array"]
# Where the outermost layer stashes uvicorn's own ``send``; its owner holds the transport,
# which is how a reset closes the real socket rather than just ending the ASGI response.
RAW_SEND = "omniroute.mock.raw_send"


def transport_of(scope: Scope) -> asyncio.Transport | None:
    owner = getattr(scope.get(RAW_SEND), "__self__", None)
    return getattr(owner, "transport", None)


def client_gone(scope: Scope) -> bool:
    owner = getattr(scope.get(RAW_SEND), "__self__", None)
    return bool(getattr(owner, "disconnected", False))


class MockConnectionReset(ConnectionResetError):
    """Raised only when the server's transport is unreachable; uvicorn then drops the socket."""


async def abort_connection(scope: Scope, receive: Receive | None, mode: str | None) -> None:
    """Close the client's TCP connection now: a FIN mid-body, or with ``rst`` a TCP reset."""
    transport = transport_of(scope)
    if transport is None:
        raise MockConnectionReset("mock reset")
    if mode == "rst":
        sock = transport.get_extra_info("socket")
        if sock is not None:  # linger 0 makes close() send RST instead of FIN
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    else:
        transport.close()
    if receive is not None and scope["type"] == "http":
        # Let uvicorn see the disconnect before we return, or it logs an incomplete response.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2):
                while (await receive())["type"] != "http.disconnect":
                    pass


def encode_stream(events: Sequence[Event | JSON], framing: Framing,
                  malformed: str | None) -> list[bytes]:
    """Frame events as bytes, one chunk per event; ``malformed`` breaks event #1 (or #0).

    ``json`` truncates that event's payload; ``sse`` breaks the framing around it (no blank
    line after an SSE event, no newline after an NDJSON line, no comma in a JSON array).
    """
    bad = min(1, len(events) - 1) if malformed else -1
    out: list[bytes] = []
    for i, event in enumerate(events):
        data, name = (event.data, event.name) if isinstance(event, Event) else (event, None)
        payload = data if isinstance(data, str) else dumps(data)
        if malformed == "json" and i == bad:
            payload = payload[: max(1, len(payload) // 2)]
        broken = malformed == "sse" and i == bad
        if framing == "sse":
            head = f"event: {name}\n" if name else ""
            chunk = f"{head}data: {payload}\n" + ("" if broken else "\n")
        elif framing == "ndjson":
            chunk = payload + ("" if broken else "\n")
        else:  # Gemini without alt=sse: one JSON array, streamed element by element
            broken_before = malformed == "sse" and i == bad and i > 0
            chunk = ("[" if i == 0 else ("\r\n" if broken_before else ",\r\n")) + payload
            if i == len(events) - 1 and not (malformed == "sse" and len(events) == 1):
                chunk += "]"
        out.append(chunk.encode())
    return out


@dataclass(slots=True)
class Stream:
    """A streamed answer: events plus how to frame them."""

    events: Sequence[Event | JSON]
    framing: Framing = "sse"


_PIECE = 64 * 1024


def padding(size: int, head: bytes, tail: bytes) -> Iterator[bytes]:
    """``head`` + ``size`` filler bytes + ``tail``, in pieces: the mock never holds it whole."""
    yield head
    while size > 0:
        yield b"x" * min(size, _PIECE)
        size -= _PIECE
    yield tail


def dripped(chunks: Sequence[bytes] | Iterator[bytes], whole: int) -> Iterator[bytes]:
    """The first ``whole`` chunks as they are, then every byte on its own."""
    for i, chunk in enumerate(chunks):
        if i < whole:
            yield chunk
        else:
            yield from (chunk[j:j + 1] for j in range(len(chunk)))


class _Sent:
    """What a slow or huge reply managed to send before the client hung up (recorded)."""

    def __init__(self, entry: JSON | None) -> None:
        self.entry = entry if entry is not None else {}
        self.entry.update(sent_bytes=0, client_disconnected=False)

    async def send(self, scope: Scope, send: Send, piece: bytes) -> bool:
        """Send ``piece``; False once the client is gone."""
        await send({"type": "http.response.body", "body": piece, "more_body": True})
        # A write to a reset socket neither fails nor waits: yield, so the loop can run the
        # connection_lost that tells us the client is gone.
        await asyncio.sleep(0)
        if client_gone(scope):
            self.entry["client_disconnected"] = True
            return False
        self.entry["sent_bytes"] += len(piece)
        return True


class SlowBodyResponse(Response):
    """A non-streamed JSON reply sent in pieces: dripped byte by byte and/or padded."""

    def __init__(self, result: JSON, fault: Fault, entry: JSON | None) -> None:
        self.status_code, self.background = 200, None
        self.raw_headers = [(b"content-type", b"application/json")]
        body = dumps(result).encode()
        pieces: Iterator[bytes] = iter((body,))
        if fault.pad_bytes:
            pieces = padding(fault.pad_bytes, b'{"padding":"', b'",' + body[1:])
        if fault.drip_ms:
            pieces = dripped(list(pieces), 0)
        self.pieces, self.delay, self.sent = pieces, (fault.drip_ms or 0) / 1000, _Sent(entry)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        for i, piece in enumerate(self.pieces):
            if i and self.delay:
                await asyncio.sleep(self.delay)
            if not await self.sent.send(scope, send, piece):
                return
        await send({"type": "http.response.body", "body": b"", "more_body": False})


class StreamResponse(Response):
    """Sends one chunk per event, honouring event delays, resets, malformation, drips, padding."""

    def __init__(self, stream: Stream, fault: Fault, event_delay: float, entry: JSON | None = None) -> None:
        # Response.__init__ would set a Content-Length; a stream is chunked instead.
        self.status_code = 200
        self.background = None
        media = {"sse": "text/event-stream; charset=utf-8", "ndjson": "application/x-ndjson",
                 "json_array": "application/json; charset=utf-8"}[stream.framing]
        self.raw_headers = [(b"content-type", media.encode()), (b"cache-control", b"no-cache")]
        self.chunks = encode_stream(stream.events, stream.framing, fault.malformed)
        self.fault, self.event_delay = fault, event_delay
        self.entry = entry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        if self.fault.drip_ms or self.fault.pad_bytes:
            await self._slow(scope, send)
            return
        limit = self.fault.reset_after
        for i, chunk in enumerate(self.chunks):
            if limit is not None and i >= limit:
                break
            if i and self.event_delay:
                await asyncio.sleep(self.event_delay)
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            if client_gone(scope):
                return
        if limit is not None:
            await abort_connection(scope, receive, self.fault.reset_mode)
            return
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _slow(self, scope: Scope, send: Send) -> None:
        """Padding (a huge first event) and/or a drip, piece by piece."""
        sent = _Sent(self.entry)
        fault, chunks = self.fault, list(self.chunks)
        pieces: Iterator[bytes] = iter(chunks)
        if fault.pad_bytes:
            pad = padding(fault.pad_bytes, b'data: {"type":"padding","padding":"', b'"}\n\n')
            pieces = (piece for part in (pad, chunks) for piece in part)
        delay = (fault.drip_ms or 0) / 1000
        if fault.drip_ms:
            pieces = dripped(chunks, fault.drip_after or 0)
        for i, piece in enumerate(pieces):
            if i and delay and len(piece) == 1:
                await asyncio.sleep(delay)
            if not await sent.send(scope, send, piece):
                return
        await send({"type": "http.response.body", "body": b"", "more_body": False})


class ResetResponse(Response):
    """Drops the connection without any response bytes (a reset on a non-streamed call)."""

    def __init__(self, mode: str | None) -> None:
        self.mode, self.background = mode, None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await abort_connection(scope, receive, self.mode)


def error_response(api: str, status: int, message: str,
                   retry_after: float | None = None) -> JSONResponse:
    headers = {"retry-after": format_seconds(retry_after)} if retry_after is not None else None
    return JSONResponse(error_body(api, status, message), status, headers=headers)


def parse_body(raw: bytes) -> tuple[Any, str | None]:
    if not raw:
        return None, None
    try:
        return json.loads(raw), None
    except ValueError as exc:
        return None, f"request body is not valid JSON: {exc}"
