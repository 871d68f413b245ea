"""Server-sent events: encoding helpers and an incremental decoder / Framer.

The decoder follows the WHATWG event-stream rules that matter for model APIs: lines end in
LF, CRLF or CR (possibly split across chunks), ``data:`` lines accumulate, a blank line
dispatches, ``:`` lines are comments, one optional space after the colon is stripped.
"""

from __future__ import annotations

import json
from typing import Any

_DUMPS = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def encode(data: dict[str, Any] | str, event: str | None = None) -> bytes:
    """One SSE frame. ``data`` dicts are JSON-encoded compactly (no newlines inside)."""
    payload = data if isinstance(data, str) else _DUMPS(data)
    if event:
        return b"event: " + event.encode() + b"\ndata: " + payload.encode() + b"\n\n"
    return b"data: " + payload.encode() + b"\n\n"


DONE = b"data: [DONE]\n\n"


class SSEDecoder:
    """Incremental SSE parser: ``feed(bytes)`` → list of ``(event, data)`` as they complete."""

    __slots__ = ("_buf", "_data", "_event", "_held", "_pending_cr")

    def __init__(self) -> None:
        self._buf = b""
        self._held: list[bytes] = []  # later chunks of an unfinished line, not yet joined
        self._event: str | None = None
        self._data: list[str] = []
        self._pending_cr = False

    def feed(self, chunk: bytes) -> list[tuple[str | None, str]]:
        if self._buf and not self._pending_cr and b"\n" not in chunk and b"\r" not in chunk:
            self._held.append(chunk)  # mid-line: joined once the line ends (linear, not quadratic)
            return []
        if self._held:
            self._buf = b"".join((self._buf, *self._held))
            self._held = []
        if self._pending_cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]  # the LF of a CRLF split across chunks
        self._pending_cr = False
        buf = self._buf + chunk
        if b"\r" in buf:
            self._pending_cr = buf.endswith(b"\r")
            buf = buf.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = buf.split(b"\n")
        self._buf = lines.pop()  # incomplete last line (empty if chunk ended on a newline)
        out: list[tuple[str | None, str]] = []
        for raw in lines:
            if not raw:
                if self._data or self._event is not None:
                    out.append((self._event, "\n".join(self._data)))
                self._event, self._data = None, []
                continue
            line = raw.decode("utf-8", errors="replace")
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            if value.startswith(" "):
                value = value[1:]
            if name == "data":
                self._data.append(value)
            elif name == "event":
                self._event = value
        return out

    def flush(self) -> list[tuple[str | None, str]]:
        """Dispatch what is left at end of stream (a final event without a blank line)."""
        out = self.feed(b"\n\n") if (self._buf or self._data) else []
        return out


class SSEFramer:
    """Framer for SSE formats: raw bytes → parsed JSON event dicts.

    ``data: [DONE]`` becomes ``{"type": "[DONE]"}``. The SSE event name is added as
    ``"event"`` only when the JSON lacks a ``"type"`` (Anthropic and Responses repeat the name
    in ``type``; OpenAI chat errors arrive as ``event: error`` without one). Non-JSON data is
    surfaced as ``{"type": "_raw", "data": ...}`` so a decoder can report it, not lose it.
    """

    __slots__ = ("_sse",)

    def __init__(self) -> None:
        self._sse = SSEDecoder()

    def feed(self, chunk: bytes) -> list[dict[str, Any]]:
        return [self._parse(ev, data) for ev, data in self._sse.feed(chunk)]

    def flush(self) -> list[dict[str, Any]]:
        return [self._parse(ev, data) for ev, data in self._sse.flush()]

    @staticmethod
    def _parse(event: str | None, data: str) -> dict[str, Any]:
        if data == "[DONE]":
            return {"type": "[DONE]"}
        try:
            obj = json.loads(data)
        except ValueError:
            return {"type": "_raw", "event": event, "data": data}
        if not isinstance(obj, dict):
            return {"type": "_raw", "event": event, "data": data}
        if event and "type" not in obj:
            obj["event"] = event
        return obj


class JSONFramer:
    """Framer for message transports that deliver one JSON event per message (the Codex
    Responses WebSocket: one ``response.*`` object per text frame). ``feed`` takes one whole
    message; use it via ``StreamTranslator(..., framer=JSONFramer())``."""

    __slots__ = ()

    def feed(self, chunk: bytes) -> list[dict[str, Any]]:
        return [SSEFramer._parse(None, chunk.decode("utf-8", errors="replace"))] if chunk.strip() else []


def data_payloads(frames: bytes) -> list[str]:
    """The ``data:`` payloads of complete SSE frames (encoder output → WebSocket text frames)."""
    out: list[str] = []
    for ev, data in SSEDecoder().feed(frames):
        if data and data != "[DONE]":
            out.append(data)
    return out
