"""One attempt: a call sent to one target, answered or failed before the first byte.

A failure here raises `AttemptFailed` carrying its classification, so the router can decide
whether to fall back. Once an `Outcome` is returned, the client owns the response.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from omniroute.engine import failures
from omniroute.engine.registry import Connection
from omniroute.engine.targets import Target
from omniroute.translate import StreamTranslator, error_body, get_format, ir, stream_error_event
from omniroute.translate import translate_request, translate_response

if TYPE_CHECKING:
    from omniroute.engine.router import Call

# Formats whose request body carries the model and the stream flag.
_BODY_MODEL_FORMATS = frozenset({"openai-chat", "openai-responses", "anthropic", "ollama"})
EMBEDDINGS = "openai-embeddings"
_STREAM_MEDIA = {"ollama": "application/x-ndjson"}


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
    ) -> None:
        self._response = response
        self._chunks = chunks
        self._first = first
        self.upstream_ms = upstream_ms
        self.cancelled = False
        self._finished = False
        if upstream_format == client_format:
            self._translator: StreamTranslator | None = None
            self._tap: UsageTap | None = UsageTap(upstream_format)
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
            self._tap.feed(chunk)
            return chunk
        return self._translator.feed(chunk)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            if self._first:
                out = self._convert(self._first)
                if out:
                    yield out
            async for chunk in self._chunks:
                out = self._convert(chunk)
                if out:
                    yield out
            self._finished = True
            if self._translator is not None:
                tail = self._translator.finish()
                if tail:
                    yield tail
        except (asyncio.CancelledError, GeneratorExit):
            self.cancelled = True
            raise

    def error(self, message: str, status: int) -> bytes:
        if self._translator is not None:
            return self._translator.error(message, status)
        return stream_error_event(self._client_format, status, message)

    async def aclose(self) -> None:
        if not self._finished and not self.cancelled:
            # Closed before the upstream finished without an error: the client went away.
            self.cancelled = self._response.is_stream_consumed is False
        await self._response.aclose()


class UsageTap:
    """Reads usage out of a stream that is passed through untouched."""

    __slots__ = ("_framer", "_decoder", "usage")

    def __init__(self, wire_format: str) -> None:
        module = get_format(wire_format)
        self._framer = module.Framer()
        self._decoder = module.StreamDecoder()
        self.usage = ir.Usage()

    def feed(self, chunk: bytes) -> None:
        for event in self._framer.feed(chunk):
            for ev in self._decoder.feed(event):
                if isinstance(ev, ir.UsageEvent):
                    ev.usage.merge_into(self.usage)
                elif isinstance(ev, ir.MessageStart) and ev.usage is not None:
                    ev.usage.merge_into(self.usage)


class Attempt:
    def __init__(self, call: Call, connection: Connection, target: Target, client: httpx.AsyncClient) -> None:
        self.call = call
        self.connection = connection
        self.target = target
        self.client = client
        self.upstream_format = connection.adapter.upstream_format(call.client_format)

    def _body(self) -> dict[str, Any]:
        call, fmt = self.call, self.upstream_format
        same = fmt == call.client_format
        body = dict(call.body) if same else translate_request(call.client_format, fmt, call.body)
        if fmt == EMBEDDINGS:
            body["model"] = self.target.model
        elif fmt in _BODY_MODEL_FORMATS:
            body["model"] = self.target.model
            body["stream"] = call.stream
            if call.stream and fmt == "openai-chat" and not same:
                # Translated streams need the upstream's usage to close the client's stream.
                body["stream_options"] = {"include_usage": True}
        elif fmt == "gemini":
            body.pop("model", None)  # the model is in the URL
        elif fmt == "gemini-cloudcode":
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
        payload = json.dumps(self._body(), ensure_ascii=False, separators=(",", ":")).encode()
        request = self.client.build_request("POST", url, content=payload, headers=self._headers())
        started = time.perf_counter()
        try:
            response = await self.client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise self._transport_failure(exc) from None
        upstream_ms = (time.perf_counter() - started) * 1000
        if response.status_code >= 400:
            await self._raise_status(response)
        if not call.stream:
            return await self._complete(response, upstream_ms)
        chunks = response.aiter_bytes()
        try:
            first = await anext(chunks)
        except StopAsyncIteration:
            first = b""
        except httpx.HTTPError as exc:
            await response.aclose()
            raise self._transport_failure(exc, before_first_byte=True) from None
        pipe = StreamPipe(
            response, chunks, first, self.upstream_format, call.client_format, self.target.model, upstream_ms
        )
        return Outcome(200, stream_media_type(call.client_format), pipe.usage, upstream_ms, stream=pipe)

    async def _complete(self, response: httpx.Response, upstream_ms: float) -> Outcome:
        try:
            content = await response.aread()
        except httpx.HTTPError as exc:
            raise self._transport_failure(exc, before_first_byte=True) from None
        finally:
            await response.aclose()
        try:
            data = json.loads(content)
        except ValueError:
            raise self._fail(
                failures.classify_status(502, now=time.time()),  # type: ignore[arg-type]
                "upstream answered with malformed JSON",
                502,
            ) from None
        usage = _usage_of(self.upstream_format, data)
        if self.upstream_format != self.call.client_format:
            content = json.dumps(
                translate_response(self.upstream_format, self.call.client_format, data),
                ensure_ascii=False,
                separators=(",", ":"),
            ).encode()
        return Outcome(200, "application/json", usage, upstream_ms, body=content)

    async def _raise_status(self, response: httpx.Response) -> None:
        try:
            content = await response.aread()
        except httpx.HTTPError:
            content = b""
        finally:
            await response.aclose()
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
    if wire_format == EMBEDDINGS:
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
