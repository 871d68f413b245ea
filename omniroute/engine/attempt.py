"""One attempt: a call sent to one target, answered or failed before the first byte.

A failure here raises `AttemptFailed` carrying its classification, so the router can decide
whether to fall back. Once an `Outcome` is returned, the client owns the response.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from omniroute.engine import failures, media
from omniroute.engine.limits import (
    DEFAULT_LIMITS,
    ERROR_BODY_CAP,
    LimitExceeded,
    UpstreamLimits,
    Watchdog,
    body_chunks,
    read_capped,
)
from omniroute.engine.redact import StreamRedactor, redact
from omniroute.engine.registry import Connection
from omniroute.engine.request_shaping import NO_SHAPING, Shaping
from omniroute.engine.stream_pipe import StreamPipe, stream_media_type
from omniroute.engine.targets import Target
from omniroute.providers.cloud_auth import AuthorizationFailed
from omniroute.providers.pool import Upstream
from omniroute.translate import (
    client_tool_names,
    error_body,
    get_format,
    ir,
    translate_request,
    translate_response,
)
from omniroute.translate.formats import PASSTHROUGH, WireFormat

if TYPE_CHECKING:
    from omniroute.engine.calls import Call

# One encoder object: json.dumps builds a new JSONEncoder for every call with options.
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
# Formats whose request body carries the model and the stream flag.
_BODY_MODEL_FORMATS = frozenset({"openai-chat", "openai-responses", "anthropic", "ollama"})

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


class Attempt:
    def __init__(
        self, call: Call, connection: Connection, target: Target, upstream: Upstream,
        limits: UpstreamLimits = DEFAULT_LIMITS, shaping: Shaping = NO_SHAPING,
    ) -> None:
        self.call = call
        self.connection = connection
        self.target = target
        self.upstream = upstream
        self.limits = limits
        self.shaping = shaping  # the user's system prompt, thinking budget, payload rules
        self.upstream_format = connection.adapter.upstream_format(call.client_format, target.model)
        self.strip_usage = False  # set by _body: usage asked for on the client's behalf

    def _body(self) -> dict[str, Any]:
        call, fmt = self.call, self.upstream_format
        same = fmt == call.client_format
        body = dict(call.body) if same else translate_request(call.client_format, fmt, call.body)
        if fmt in PASSTHROUGH:
            body["model"] = self.target.model
        elif fmt in _BODY_MODEL_FORMATS:
            body["model"] = self.target.model
            body["stream"] = call.stream
            if call.stream and fmt == "openai-chat":
                # Usage is only in an OpenAI chat stream when asked for: translated streams
                # need it to close the client's stream, usage rows always need it.
                options = body.get("stream_options")
                if not (isinstance(options, dict) and options.get("include_usage")):
                    body["stream_options"] = {**(options if isinstance(options, dict) else {}), "include_usage": True}
                    self.strip_usage = same
        elif fmt == "gemini":
            body.pop("model", None)  # the model is in the URL
        elif fmt == "gemini-cloudcode":
            body["model"] = self.target.model
        return body

    def _names(self) -> dict[str, Any] | None:
        """What gives a translated reply the client's own tool names back (Codex namespaces)."""
        call = self.call
        return None if self.upstream_format == call.client_format else client_tool_names(call.client_format, call.body)

    def _payload(self) -> tuple[bytes, str]:
        body = self.shaping.apply(self.upstream_format, self.target.model, self._body())
        body = self.connection.adapter.finish_body(self.upstream_format, body)
        if self.upstream_format == WireFormat.OPENAI_TRANSCRIPTIONS:
            return media.encode_form(body)
        return _dumps(body).encode(), "application/json"

    def _headers(self, content_type: str) -> dict[str, str]:
        # A connection with per-request auth never sends its secret as a static header.
        connection = self.connection
        headers = connection.adapter.headers(None if connection.auth is not None else connection.api_key)
        headers["content-type"] = content_type
        if self.upstream_format == self.call.client_format:
            headers.update(self.call.ctx.forward_headers)
        return headers

    def _fail(self, classification: failures.Classification, message: str, status: int, body: Any = None) -> AttemptFailed:
        return AttemptFailed(self.target, classification, message, status, self.upstream_format, body)

    async def _authorized_post(self, url: str, payload: bytes, headers: dict[str, str]) -> httpx.Response:
        """Sign or add a token (cloud providers), then send."""
        assert self.connection.auth is not None
        headers = await self.connection.auth.authorize("POST", url, payload, headers, self.upstream.proxy)
        return await self.upstream.post(url, payload, headers)

    async def run(self) -> Outcome:
        watchdog = Watchdog(self.limits.first_byte_s, self.limits.first_byte_exceeded())
        try:
            return await self._run(watchdog)
        except BaseException:
            watchdog.close()
            raise

    async def _run(self, watchdog: Watchdog) -> Outcome:
        adapter, call = self.connection.adapter, self.call
        connection = self.connection
        url = adapter.endpoint(connection.url, self.upstream_format, self.target.model, call.stream, connection.extra)
        payload, content_type = self._payload()
        headers = self._headers(content_type)
        started = time.perf_counter()
        try:
            sending = self.upstream.post(url, payload, headers) if connection.auth is None else (
                self._authorized_post(url, payload, headers))  # the deadline covers a token fetch
            response = await watchdog.wait(sending)
        except AuthorizationFailed as exc:
            raise self._fail(failures.classify_status(401, now=time.time()),  # type: ignore[arg-type]
                             f"{connection.name}: {exc}", 401) from None
        except httpx.HTTPError as exc:
            raise self._transport_failure(exc) from None
        except LimitExceeded as exc:
            raise self._limit_failure(exc) from None
        upstream_ms = (time.perf_counter() - started) * 1000
        if response.status_code >= 400:
            await self._raise_status(response, watchdog)
        if not call.stream:
            outcome = await self._complete(response, upstream_ms, watchdog)
            watchdog.close()
            return outcome
        chunks = body_chunks(response)
        if (redactor := StreamRedactor.for_secret(self.connection.api_key)) is not None:
            chunks = redactor.wrap(chunks)  # an echoed key
        pipe = StreamPipe(
            response, chunks, self.upstream_format, call.client_format, self.target.model,
            upstream_ms, self.strip_usage, watchdog=watchdog, limits=self.limits, names=self._names(),
        )
        try:
            await pipe.prime()
        except httpx.HTTPError as exc:
            await response.aclose()
            raise self._transport_failure(exc, before_first_byte=True) from None
        except LimitExceeded as exc:
            await response.aclose()
            raise self._limit_failure(exc) from None
        except BaseException:  # cancelled (the client left) while waiting: free the connection
            await response.aclose()
            raise
        return Outcome(200, stream_media_type(call.client_format), pipe.usage, upstream_ms, stream=pipe)

    async def _complete(self, response: httpx.Response, upstream_ms: float, watchdog: Watchdog) -> Outcome:
        try:
            content = await read_capped(response, self.limits.max_body_bytes, watchdog, self.limits.body_exceeded())
        except httpx.HTTPError as exc:
            raise self._transport_failure(exc, before_first_byte=True) from None
        except LimitExceeded as exc:
            raise self._limit_failure(exc) from None
        finally:
            await response.aclose()
        content = redact(content, self.connection.api_key)  # an echoed key
        if media.answers_binary(self.upstream_format):
            media_type = response.headers.get("content-type", "application/octet-stream")
            return Outcome(200, media_type, ir.Usage(), upstream_ms, body=content)
        try:
            data = json.loads(content)
            usage = _usage_of(self.upstream_format, data)
            if self.upstream_format != self.call.client_format:
                content = _dumps(translate_response(self.upstream_format, self.call.client_format, data,
                                                    self._names())).encode()
        except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
            # The upstream's fault, not the client's: a 502 (and fallback), never a 400.
            raise self._fail(
                failures.classify_status(502, now=time.time()),  # type: ignore[arg-type]
                f"upstream answered with a malformed {self.upstream_format} response ({exc.__class__.__name__})",
                502,
            ) from None
        return Outcome(200, "application/json", usage, upstream_ms, body=content)

    async def _raise_status(self, response: httpx.Response, watchdog: Watchdog) -> None:
        try:
            content = await read_capped(response, ERROR_BODY_CAP, watchdog, None)
        except (httpx.HTTPError, LimitExceeded):
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

    def _limit_failure(self, exc: LimitExceeded) -> AttemptFailed:
        """Past a limit before the first byte: a timeout, or a malformed (oversize) reply."""
        if exc.is_timeout:
            classification = failures.classify_transport(failures.TransportError.READ_TIMEOUT)
        else:
            classification = failures.classify_status(502, now=time.time())  # type: ignore[assignment]
        return self._fail(classification, f"{self.connection.name}: {exc.message}", exc.status)

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
    if wire_format in PASSTHROUGH:
        return media.usage_of(wire_format, data)
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
