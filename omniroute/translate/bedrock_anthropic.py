"""Anthropic Messages on Amazon Bedrock's ``InvokeModel`` / ``InvokeModelWithResponseStream``.

The body is Anthropic's own, with ``anthropic_version: bedrock-2023-05-31`` and neither
``model`` (it is in the URL) nor ``stream`` (the streaming call is another path) nor
``metadata`` (Bedrock refuses keys it does not know). The answer is Anthropic's JSON; a stream
is an AWS event stream whose ``chunk`` events carry one Anthropic stream event each, base64
encoded in ``{"bytes": ...}`` (Bedrock Runtime API reference, ``PayloadPart``).

Everything else is the Anthropic module's: Claude Code's fields (``anthropic_beta``, thinking,
cache_control …) reach Claude on Bedrock unchanged, which the Converse API cannot promise.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from . import anthropic
from .eventstream import json_event
from .ir import IREvent, IRRequest
from .kiro_stream import Framer as _EventStreamFramer
from .sse import data_payloads

__all__ = ["Framer", "StreamDecoder", "StreamEncoder", "request_from_ir", "request_to_ir",
           "response_from_ir", "response_to_ir"]

FORMAT = "bedrock-anthropic"
ANTHROPIC_VERSION = "bedrock-2023-05-31"
_NOT_ON_BEDROCK = ("model", "stream", "metadata")
_ERROR_TYPES = {"throttlingexception": "rate_limit_error", "validationexception": "invalid_request_error",
                "accessdeniedexception": "permission_error", "modelstreamerrorexception": "api_error",
                "modeltimeoutexception": "api_error", "serviceunavailableexception": "overloaded_error",
                "internalserverexception": "api_error", "framingerror": "api_error"}  # fmt: skip

StreamDecoder = anthropic.StreamDecoder
response_to_ir = anthropic.response_to_ir
response_from_ir = anthropic.response_from_ir


def request_to_ir(body: dict[str, Any]) -> IRRequest:
    rest = {k: v for k, v in body.items() if k != "anthropic_version"}
    return anthropic.request_to_ir({"model": "", **rest})


def request_from_ir(ir: IRRequest) -> dict[str, Any]:
    body = {k: v for k, v in anthropic.request_from_ir(ir).items() if k not in _NOT_ON_BEDROCK}
    return {"anthropic_version": ANTHROPIC_VERSION, **body}


class Framer:
    """Event-stream bytes → the Anthropic stream events inside the ``chunk`` messages."""

    def __init__(self) -> None:
        self._events = _EventStreamFramer()

    def feed(self, chunk: bytes) -> list[dict[str, Any]]:
        return [e for m in self._events.feed(chunk) if (e := self._unwrap(m)) is not None]

    def flush(self) -> list[dict[str, Any]]:
        return [e for m in self._events.flush() if (e := self._unwrap(m)) is not None]

    @staticmethod
    def _unwrap(message: dict[str, Any]) -> dict[str, Any] | None:
        kind, name, data = message.get("message_type"), str(message.get("event") or ""), message.get("data") or {}
        if kind in ("error", "exception"):
            error_type = _ERROR_TYPES.get(name.lower(), "api_error")
            return {"type": "error", "error": {"type": error_type, "message": f"{name}: {data.get('message', '')}"}}
        if kind != "event" or name != "chunk" or not isinstance(data.get("bytes"), str):
            return None  # the end marker, or events Bedrock adds that carry no Anthropic event
        event = json.loads(base64.b64decode(data["bytes"]))
        return event if isinstance(event, dict) else None


def chunk_event(data: str) -> bytes:
    """One Anthropic stream event (its JSON text) as Bedrock's ``chunk`` message."""
    return json_event("chunk", {"bytes": base64.b64encode(data.encode()).decode()})


class StreamEncoder:
    """IR events → Anthropic stream events wrapped in ``chunk`` messages."""

    def __init__(self, model: str) -> None:
        self._inner = anthropic.StreamEncoder(model)

    @staticmethod
    def _wrap(frames: list[bytes]) -> list[bytes]:
        return [chunk_event(data) for data in data_payloads(b"".join(frames))] if frames else []

    def feed(self, ev: IREvent) -> list[bytes]:
        return self._wrap(self._inner.feed(ev))

    def finish(self) -> list[bytes]:
        return self._wrap(self._inner.finish())

    def error(self, message: str, status: int) -> list[bytes]:
        return self._wrap(self._inner.error(message, status))
