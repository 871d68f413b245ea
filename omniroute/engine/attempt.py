"""One attempt: a call sent to one target, answered or failed before the first byte.

A failure here raises `AttemptFailed` carrying its classification, so the router can decide
whether to fall back. Once an `Outcome` is returned, the client owns the response.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from omniroute.engine import failures
from omniroute.engine.redact import StreamRedactor, redact
from omniroute.engine.registry import Connection
from omniroute.engine.targets import Target
from omniroute.providers.pool import Upstream
from omniroute.translate import (
    StreamTranslator,
    error_body,
    get_format,
    ir,
    stream_error_event,
    translate_request,
    translate_response,
)
from omniroute.translate.formats import WireFormat

if TYPE_CHECKING:
    from omniroute.engine.calls import Call

# One encoder object: json.dumps builds a new JSONEncoder for every call with options.
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
# Formats whose request body carries the model and the stream flag.
_BODY_MODEL_FORMATS = frozenset({WireFormat.OPENAI_CHAT, WireFormat.OPENAI_RESPONSES, WireFormat.ANTHROPIC, WireFormat.OLLAMA})
_STREAM_MEDIA = {WireFormat.OLLAMA: "application/x-ndjson", WireFormat.KIRO: "application/vnd.amazon.eventstream"}


def stream_media_type(wire_format: str) -> str:
    return _STREAM_MEDIA.get(wire_format, "text/event-stream")


class AttemptFailed(Exception):
    def __init__(
        self,
        target: Target,
        classification: failures.Classification,
        message: str,
        status: int,
        upstream_format: str,
        upstream_body: Any = None,
    ) -> None:
        super().__init__(message)
        self.target = target
        self.classification = classification
        self.message = message
        self.status = status
        self.upstream_format = upstream_format
        self.upstream_body = upstream_body

    @property
    def client_status(self) -> int:
        return self.status if self.status >= 400 else 502

    def client_body(self, client_format: str) -> dict[str, Any]:
        if client_format == self.upstream_format and isinstance(self.upstream_body, dict):
            return self.upstream_body
        return error_body(client_format, self.client_status, self.message)


@dataclass(slots=True)
class Outcome:
    status: int
    media_type: str
    usage: ir.Usage
    upstream_ms: float
    body: bytes | None = None
    stream: StreamPipe | None = None


class StreamPipe:
    """Upstream stream bytes → client stream bytes, tracking usage on the way."""

    def __init__(
        self,
        response: httpx.Response,
        chunks: AsyncIterator[bytes],
        first: bytes,
        upstream_format: str,
        client_format: str,
        model: str,
        upstream_ms: float,
        strip_usage: bool = False,
    ) -> None:
        self._response = response
        self._chunks = chunks
        self._first = first
        self.upstream_ms = upstream_ms
        if upstream_format == client_format:
            self._translator: StreamTranslator | None = None
            self._tap: UsageTap | None = UsageTap(upstream_format, strip_usage)
        else:
            self._translator = StreamTranslator(upstream_format, client_format, model, accumulate=True)
            self._tap = None
        self._client_format = client_format

    @property
    def usage(self) -> ir.Usage:
        if self._tap is not None:
            return self._tap.usage
        acc = self._translator.accumulator if self._translator else None
        return acc.response.usage if acc is not None else ir.Usage()

    def _convert(self, chunk: bytes) -> bytes:
        if self._translator is None:
            assert self._tap is not None
            return self._tap.feed(chunk)
        return self._translator.feed(chunk)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self._first:
            out = self._convert(self._first)
            if out:
                yield out
        async for chunk in self._chunks:
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
        await self._response.aclose()


# Bytes in an SSE event that mark the events which can carry usage: a passthrough stream is
# only split into events, and only events with a mark are JSON-decoded. Compact and one-space
# JSON; OpenAI's `"usage":null` (every chunk when include_usage is on) is not a mark.
_USAGE_MARKS: dict[str, re.Pattern[bytes]] = {
    WireFormat.OPENAI_CHAT: re.compile(rb'"usage": ?\{'),
    WireFormat.OPENAI_RESPONSES: re.compile(rb'"usage": ?\{'),
    WireFormat.ANTHROPIC: re.compile(rb'"usage"'),
    WireFormat.GEMINI: re.compile(rb'"usageMetadata"'),
}
_NULL_USAGE = b',"usage":null'


class UsageTap:
    """Reads usage out of a stream that is passed through to the client.

    SSE formats with known usage events are cut at event boundaries (blank lines) and only
    events carrying a usage mark are parsed; other formats go through their full decoder. With
    ``strip_usage`` (an OpenAI chat client that did not ask for usage; we asked on its behalf
    to log tokens) the usage-only chunk and the ``"usage":null`` fields are taken out again, so
    the client gets what it asked for. Only whole events are passed on, so an error event
    after a broken upstream never lands inside half an event.
    """

    __slots__ = ("_decoder", "_framer", "_marks", "_strip", "_tail", "usage")

    def __init__(self, wire_format: str, strip_usage: bool = False) -> None:
        module = get_format(wire_format)
        self._decoder = module.StreamDecoder()
        self._marks = _USAGE_MARKS.get(wire_format)
        self._framer = module.Framer() if self._marks is None else None
        self._strip = strip_usage and wire_format == WireFormat.OPENAI_CHAT
        self._tail = b""  # the bytes after the last event boundary seen
        self.usage = ir.Usage()

    def feed(self, chunk: bytes) -> bytes:
        """Note usage in ``chunk``; returns the bytes for the client."""
        if self._framer is not None:
            for event in self._framer.feed(chunk):
                self._note(event)
            return chunk
        data = self._tail + chunk if self._tail else chunk
        if b"\r" in data:
            data = data.replace(b"\r\n", b"\n")  # a CR split from its LF stays in the tail
        cut = data.rfind(b"\n\n") + 2
        if cut < 2:
            self._tail = data
            return b""
        complete, self._tail = data[:cut], data[cut:]
        return self._events(complete)

    def finish(self) -> bytes:
        """At upstream EOF: a last event the upstream did not end with a blank line."""
        if self._framer is not None:
            flush = getattr(self._framer, "flush", None)
            for event in flush() if flush is not None else ():
                self._note(event)
            return b""
        tail, self._tail = self._tail, b""
        if not tail.strip():
            return tail
        return self._events(tail + b"\n\n")

    def _events(self, complete: bytes) -> bytes:
        marks = self._marks
        assert marks is not None
        if marks.search(complete) is None:
            return complete.replace(_NULL_USAGE, b"") if self._strip else complete
        kept = []
        for frame in complete.split(b"\n\n"):
            if frame and marks.search(frame) is not None:
                event = _frame_json(frame)
                if event is not None:
                    self._note(event)
                    if self._strip and event.get("usage") and not event.get("choices"):
                        continue  # the usage-only chunk the client did not ask for
            if frame:
                kept.append(frame)
        if not self._strip:
            return complete
        return b"".join(frame.replace(_NULL_USAGE, b"") + b"\n\n" for frame in kept)

    def _note(self, event: dict[str, Any]) -> None:
        for ev in self._decoder.feed(event):
            if isinstance(ev, ir.UsageEvent) or (isinstance(ev, ir.MessageStart) and ev.usage is not None):
                ev.usage.merge_into(self.usage)


def _frame_json(frame: bytes) -> dict[str, Any] | None:
    """The JSON object in one SSE frame's data lines (None if it holds none)."""
    lines = [line[5:].removeprefix(b" ") for line in frame.split(b"\n") if line.startswith(b"data:")]
    try:
        event = json.loads(b"\n".join(lines))
    except ValueError:
        return None
    return event if isinstance(event, dict) else None


class Attempt:
    def __init__(self, call: Call, connection: Connection, target: Target, upstream: Upstream) -> None:
        self.call = call
        self.connection = connection
        self.target = target
        self.upstream = upstream
        self.upstream_format = connection.adapter.upstream_format(call.client_format)
        self.strip_usage = False  # set by _body: usage asked for on the client's behalf

    def _body(self) -> dict[str, Any]:
        call, fmt = self.call, self.upstream_format
        same = fmt == call.client_format
        body = dict(call.body) if same else translate_request(call.client_format, fmt, call.body)
        if fmt == WireFormat.OPENAI_EMBEDDINGS:
            body["model"] = self.target.model
        elif fmt in _BODY_MODEL_FORMATS:
            body["model"] = self.target.model
            body["stream"] = call.stream
            if call.stream and fmt == WireFormat.OPENAI_CHAT:
                # Usage is only in an OpenAI chat stream when asked for: translated streams
                # need it to close the client's stream, usage rows always need it.
                options = body.get("stream_options")
                if not (isinstance(options, dict) and options.get("include_usage")):
                    body["stream_options"] = {**(options if isinstance(options, dict) else {}), "include_usage": True}
                    self.strip_usage = same
        elif fmt == WireFormat.GEMINI:
            body.pop("model", None)  # the model is in the URL
        elif fmt == WireFormat.GEMINI_CLOUDCODE:
            body["model"] = self.target.model
        return body

    def _headers(self) -> dict[str, str]:
        headers = self.connection.adapter.headers(self.connection.api_key)
        headers["content-type"] = "application/json"
        if self.upstream_format == self.call.client_format:
            headers.update(self.call.ctx.forward_headers)
        return headers

    def _fail(self, classification: failures.Classification, message: str, status: int, body: Any = None) -> AttemptFailed:
        return AttemptFailed(self.target, classification, message, status, self.upstream_format, body)

    async def run(self) -> Outcome:
        adapter, call = self.connection.adapter, self.call
        url = adapter.endpoint(self.connection.url, self.upstream_format, self.target.model, call.stream)
        payload = _dumps(self._body()).encode()
        started = time.perf_counter()
        try:
            response = await self.upstream.post(url, payload, self._headers())
        except httpx.HTTPError as exc:
            raise self._transport_failure(exc) from None
        upstream_ms = (time.perf_counter() - started) * 1000
        if response.status_code >= 400:
            await self._raise_status(response)
        if not call.stream:
            return await self._complete(response, upstream_ms)
        # Raw bytes unless the upstream compressed them: one generator layer less per event.
        encoded = response.headers.get("content-encoding", "identity") != "identity"
        chunks = response.aiter_bytes() if encoded else response.aiter_raw()
        try:
            first = await anext(chunks)
        except StopAsyncIteration:
            first = b""
        except httpx.HTTPError as exc:
            await response.aclose()
            raise self._transport_failure(exc, before_first_byte=True) from None
        except BaseException:  # cancelled (the client left) while waiting: free the connection
            await response.aclose()
            raise
        if (redactor := StreamRedactor.for_secret(self.connection.api_key)) is not None:
            first, chunks = redactor.feed(first), redactor.wrap(chunks)  # an echoed key
        pipe = StreamPipe(
            response, chunks, first, self.upstream_format, call.client_format, self.target.model,
            upstream_ms, self.strip_usage,
        )
        return Outcome(200, stream_media_type(call.client_format), pipe.usage, upstream_ms, stream=pipe)

    async def _complete(self, response: httpx.Response, upstream_ms: float) -> Outcome:
        try:
            content = await response.aread()
        except httpx.HTTPError as exc:
            raise self._transport_failure(exc, before_first_byte=True) from None
        finally:
            await response.aclose()
        content = redact(content, self.connection.api_key)  # an echoed key
        try:
            data = json.loads(content)
            usage = _usage_of(self.upstream_format, data)
            if self.upstream_format != self.call.client_format:
                content = _dumps(translate_response(self.upstream_format, self.call.client_format, data)).encode()
        except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
            # The upstream's fault, not the client's: a 502 (and fallback), never a 400.
            raise self._fail(
                failures.classify_status(502, now=time.time()),  # type: ignore[arg-type]
                f"upstream answered with a malformed {self.upstream_format} response ({exc.__class__.__name__})",
                502,
            ) from None
        return Outcome(200, "application/json", usage, upstream_ms, body=content)

    async def _raise_status(self, response: httpx.Response) -> None:
        try:
            content = await response.aread()
        except httpx.HTTPError:
            content = b""
        finally:
            await response.aclose()
        # Providers echo a refused key back; it must not reach the client, the usage row or logs.
        content = redact(content, self.connection.api_key)
        status = response.status_code
        body: Any
        try:
            body = json.loads(content) if content else None
        except ValueError:
            body = None
        classification = failures.classify_status(
            status, response.headers, now=time.time(), body=content.decode("utf-8", "replace")
        )
        assert classification is not None
        message = f"{self.connection.name} answered {status}: {_upstream_message(body, content)}"
        raise self._fail(classification, message, status, body)

    def _transport_failure(self, exc: BaseException, before_first_byte: bool = False) -> AttemptFailed:
        kind = failures.transport_error_of(exc) or failures.TransportError.CONNECT_ERROR
        if before_first_byte and kind not in (failures.TransportError.READ_TIMEOUT,):
            kind = failures.TransportError.RESET_BEFORE_FIRST_BYTE
        classification = failures.classify_transport(kind)
        status = 504 if "TIMEOUT" in kind.name else 502
        return self._fail(
            classification, f"{self.connection.name}: {kind.value.replace('_', ' ')} ({exc.__class__.__name__})", status
        )


def _usage_of(wire_format: str, data: Any) -> ir.Usage:
    if wire_format == WireFormat.OPENAI_EMBEDDINGS:
        tokens = (data.get("usage") or {}).get("prompt_tokens", 0) if isinstance(data, dict) else 0
        return ir.Usage(input_tokens=int(tokens or 0))
    return get_format(wire_format).response_to_ir(data).usage


def _upstream_message(body: Any, content: bytes) -> str:
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            message = error.get("message") or error.get("msg")
            if isinstance(message, str):
                return message[:500]
        elif isinstance(error, str):
            return error[:500]
        if isinstance(body.get("message"), str):
            return body["message"][:500]
    text = content.decode("utf-8", "replace").strip()
    return text[:300] or "(empty body)"
