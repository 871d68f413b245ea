"""A streamed upstream reply on its way to the client: each chunk converted to the client's
format (or passed through with its usage tapped), under the attempt's watchdog and limits."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx

from omniroute.engine.limits import DEFAULT_LIMITS, UpstreamLimits, Watchdog
from omniroute.engine.usage_tap import UsageTap
from omniroute.translate import StreamTranslator, ir, stream_error_event

_STREAM_MEDIA = {"ollama": "application/x-ndjson", "kiro": "application/vnd.amazon.eventstream"}


def stream_media_type(wire_format: str) -> str:
    return _STREAM_MEDIA.get(wire_format, "text/event-stream")


class StreamPipe:
    """Upstream stream bytes → client stream bytes, tracking usage on the way.

    Reads go through the attempt's watchdog; ``prime`` reads until the client's first bytes
    are ready (under the first-byte deadline), then every complete upstream event restarts
    the idle window, and the bytes of one event may not exceed ``max_event_bytes``.
    """

    def __init__(
        self,
        response: httpx.Response,
        chunks: AsyncIterator[bytes],
        upstream_format: str,
        client_format: str,
        model: str,
        upstream_ms: float,
        strip_usage: bool = False,
        *,
        watchdog: Watchdog,
        names: dict[str, Any] | None = None,
        limits: UpstreamLimits = DEFAULT_LIMITS,
    ) -> None:
        self._response = response
        self._chunks = chunks
        self._first = b""
        self._eof = False
        self._watchdog = watchdog
        self._limits = limits
        self._events = 0  # complete upstream events seen by the converter
        self._partial = 0  # bytes read since the last complete event
        self.upstream_ms = upstream_ms
        self._translator: StreamTranslator | None = None
        self._tap: UsageTap | None = None
        self._converter: StreamTranslator | UsageTap
        if upstream_format == client_format:
            self._tap = self._converter = UsageTap(upstream_format, strip_usage)
        else:
            self._translator = self._converter = StreamTranslator(
                upstream_format, client_format, model, accumulate=True, names=names)
        self._client_format = client_format

    @property
    def usage(self) -> ir.Usage:
        if self._tap is not None:
            return self._tap.usage
        acc = self._translator.accumulator if self._translator else None
        return acc.response.usage if acc is not None else ir.Usage()

    def _convert(self, chunk: bytes) -> bytes:
        converter = self._converter
        out = converter.feed(chunk)
        if converter.events != self._events:
            self._events = converter.events
            self._partial = 0
            self._watchdog.progress()
        else:
            self._partial += len(chunk)
            if self._partial > self._limits.max_event_bytes:
                raise self._limits.event_exceeded()
        return out

    async def _next(self) -> bytes | None:
        """The next upstream chunk, or None at its end."""
        if self._eof:
            return None
        try:
            return await self._watchdog.wait(anext(self._chunks))
        except StopAsyncIteration:
            self._eof = True
            return None

    async def prime(self) -> None:
        """Read until there are bytes for the client (or the upstream ended), so a failure
        before that is still one the router can fall back from; then streaming limits apply."""
        while (chunk := await self._next()) is not None:
            out = self._convert(chunk)
            if out:
                self._first = out
                break
        self._watchdog.streaming(self._limits.idle_s, self._limits.idle_exceeded())

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self._first:
            first, self._first = self._first, b""
            yield first
        while (chunk := await self._next()) is not None:
            out = self._convert(chunk)
            if out:
                yield out
        if self._translator is not None:
            tail = self._translator.finish()
        else:
            assert self._tap is not None
            tail = self._tap.finish()
        if tail:
            yield tail

    def error(self, message: str, status: int) -> bytes:
        if self._translator is not None:
            return self._translator.error(message, status)
        return stream_error_event(self._client_format, status, message)

    async def aclose(self) -> None:
        self._watchdog.close()
        await self._response.aclose()
