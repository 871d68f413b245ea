"""Zed's hosted LLM service (llm.zed.dev): its request envelope and the reply it expects.

Sources: zed-industries/zed, ``crates/cloud_llm_client/src/cloud_llm_client.rs``
(``CompletionBody``, ``CompletionEvent``, the ``x-zed-*`` header names) and
``crates/language_models/src/provider/cloud.rs`` (``perform_llm_completion``,
``response_lines``, ``map_cloud_completion_events``).

Request: ``POST /completions`` with ``{"thread_id"?, "prompt_id"?, "provider", "model",
"provider_request"}``, where ``provider`` is ``anthropic``, ``open_ai``, ``google`` or ``x_ai``
and ``provider_request`` is that provider's own request body: Anthropic Messages, OpenAI
Responses (chat completions before Zed moved to Responses, and always for xAI), or a Gemini
``GenerateContentRequest``. Zed always streams.

Reply: not the provider's SSE. Zed reads the body line by line, each line one JSON event: the
``data:`` payload of a provider stream event. When the request says
``x-zed-client-supports-status-messages`` and the reply says
``x-zed-server-supports-status-messages``, each line is a ``CompletionEvent`` instead:
``{"event": <provider event>}`` or ``{"status": ...}``; a client that also says
``x-zed-client-supports-stream-ended-request-completion-status`` treats a stream without a
final ``{"status": "stream_ended"}`` as cut off. A failed call is a non-2xx reply whose body is
``{"code", "message"}`` (Zed shows ``message``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from omniroute.bridge.wire import (
    json_object,
)
from omniroute.translate.formats import WireFormat
from omniroute.translate.sse import SSEDecoder

# Zed's `LanguageModelProvider` (snake_case on the wire) → the payload's wire format.
ZED_PROVIDERS: dict[str, WireFormat] = {
    "anthropic": WireFormat.ANTHROPIC, "open_ai": WireFormat.OPENAI_CHAT, "google": WireFormat.GEMINI, "x_ai": WireFormat.OPENAI_CHAT,
}
H_CLIENT_STATUS = "x-zed-client-supports-status-messages"
H_CLIENT_STREAM_ENDED = "x-zed-client-supports-stream-ended-request-completion-status"
H_SERVER_STATUS = "x-zed-server-supports-status-messages"
LINES_CONTENT_TYPE = "application/x-ndjson"
_DUMPS = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class ZedEnvelopeError(ValueError):
    """A ``/completions`` body that is not Zed's envelope; the message says what is wrong."""


class UnknownZedProvider(ZedEnvelopeError):
    """A well-formed envelope naming a provider this bridge cannot translate."""


def _inner_format(provider: str, provider_request: Mapping[str, Any] | None) -> WireFormat | None:
    fmt = ZED_PROVIDERS.get(provider)
    # Zed's OpenAI models moved from chat completions to the Responses API; the body says which.
    if provider == "open_ai" and provider_request and "input" in provider_request \
            and "messages" not in provider_request:
        return WireFormat.OPENAI_RESPONSES
    return fmt


def zed_inner_format(body: bytes | str | Mapping[str, Any] | None) -> WireFormat | None:
    """Wire format of the provider payload inside a Zed ``/completions`` body."""
    data = json_object(body)
    if not data:
        return None
    inner = data.get("provider_request")
    return _inner_format(str(data.get("provider")), inner if isinstance(inner, Mapping) else None)


@dataclass(frozen=True, slots=True)
class ZedCompletion:
    provider: str
    model: str
    inner_format: WireFormat
    provider_request: Mapping[str, Any]

    def engine_body(self) -> bytes:
        """The provider payload alone: what the engine takes in ``inner_format``."""
        return _DUMPS(self.provider_request).encode()


def parse_completion(body: bytes | str | Mapping[str, Any] | None) -> ZedCompletion:
    """Unwrap a ``/completions`` body; ZedEnvelopeError says what is missing or wrong."""
    data = json_object(body)
    if data is None:
        raise ZedEnvelopeError("the body of a Zed completion must be a JSON object")
    provider = data.get("provider")
    if not isinstance(provider, str) or not provider:
        raise ZedEnvelopeError("'provider' is required (anthropic, open_ai, google or x_ai)")
    inner = data.get("provider_request")
    if not isinstance(inner, Mapping):
        raise ZedEnvelopeError("'provider_request' is required and must be a JSON object")
    fmt = _inner_format(provider, inner)
    if fmt is None:
        known = ", ".join(ZED_PROVIDERS)
        raise UnknownZedProvider(f"Zed provider {provider!r} is not routable (routable: {known})")
    model = data.get("model")
    if not isinstance(model, str) or not model:
        raise ZedEnvelopeError("'model' is required and must be a non-empty string")
    return ZedCompletion(provider, model, fmt, inner)


def error_body(status: int, body: bytes | str | None) -> bytes:
    """An error reply (the engine's, in the payload's format) as Zed's ``{"code", "message"}``.

    Zed turns ``code`` values it does not know into an error for the HTTP status, showing
    ``message``; so the status carries the kind and the message the engine's explanation.
    """
    data = json_object(body)
    message: Any = None
    if data is not None:
        error = data.get("error")
        message = error.get("message") if isinstance(error, Mapping) else error
        message = message or data.get("message")
    if not isinstance(message, str) or not message:
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else (body or "")
        message = text.strip() or f"HTTP {status}"
    return _DUMPS({"code": f"http_{status}", "message": message}).encode()


@dataclass(frozen=True, slots=True)
class ZedReplyFormat:
    """How this Zed client wants its stream: plain event lines, or ``CompletionEvent`` lines."""

    status_messages: bool = False
    stream_ended: bool = False

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> ZedReplyFormat:
        def said(name: str) -> bool:
            return headers.get(name, "").strip().lower() not in ("", "false", "0")

        status = said(H_CLIENT_STATUS)
        return cls(status_messages=status, stream_ended=status and said(H_CLIENT_STREAM_ENDED))

    def response_headers(self) -> dict[str, str]:
        headers = {"content-type": LINES_CONTENT_TYPE}
        if self.status_messages:
            headers[H_SERVER_STATUS] = "true"
        return headers


class ZedLineFramer:
    """A ``flow.response.stream`` callable: the engine's SSE → the JSON lines Zed reads.

    ``before`` is a stream callable already on the flow (the inspector's tee), which keeps
    seeing the engine's SSE. mitmproxy calls with ``b""`` once at the end of the stream.
    """

    __slots__ = ("_before", "_reply", "_sse")

    def __init__(self, reply: ZedReplyFormat, before: Callable[[bytes], bytes] | None = None) -> None:
        self._reply = reply
        self._before = before
        self._sse = SSEDecoder()

    def __call__(self, chunk: bytes) -> list[bytes]:
        end = not chunk
        if self._before is not None:
            chunk = self._before(chunk)
        events = self._sse.feed(chunk) + (self._sse.flush() if end else [])
        lines = [line for _, data in events if (line := self._line(data))]
        if end and self._reply.stream_ended:
            lines.append(b'{"status":"stream_ended"}\n')
        # A list, never b"": mitmproxy would send an empty chunk, which ends a chunked body.
        return [b"".join(lines)] if lines else []

    def _line(self, data: str) -> bytes | None:
        if not data or data == "[DONE]":  # chat completions' terminator is not an event
            return None
        try:
            event = json.loads(data)
        except ValueError:
            return None  # the engine only emits JSON events; anything else would break Zed's parser
        if self._reply.status_messages:
            event = {"event": event}
        return _DUMPS(event).encode() + b"\n"
