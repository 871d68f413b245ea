"""Amazon Bedrock ``ConverseStream`` ↔ IR.

The response body is an AWS event stream (:mod:`.eventstream`), framed by the same CRC-checked
:class:`~.kiro_stream.Framer` as Kiro's (``{"message_type", "event", "data"}`` dicts, a
synthetic ``{"message_type": "end"}`` at EOF). Event types and payloads (Bedrock Runtime API
reference, ``ConverseStreamOutput``)::

    messageStart       {"role": "assistant"}
    contentBlockStart  {"contentBlockIndex", "start": {"toolUse": {"toolUseId", "name"}}}
    contentBlockDelta  {"contentBlockIndex", "delta": {"text"} | {"toolUse": {"input": "<JSON
                        fragment>"}} | {"reasoningContent": {"text"} | {"signature"} |
                        {"redactedContent": "<base64>"}}}
    contentBlockStop   {"contentBlockIndex"}
    messageStop        {"stopReason", "additionalModelResponseFields"?}
    metadata           {"usage": {"inputTokens", "outputTokens", "totalTokens",
                        "cacheReadInputTokens"?, "cacheWriteInputTokens"?}, "metrics"}

Every payload may carry a ``"p"`` padding field (it hides the event sizes); it is ignored.
Exceptions arrive as ``:message-type: exception`` messages (``throttlingException``,
``validationException``, ``modelStreamErrorException``, ``internalServerException``,
``serviceUnavailableException``).
"""

from __future__ import annotations

import json
from typing import Any

from .base import untag_signature
from .eventstream import json_event, json_exception
from .ir import (
    BlockStop,
    ErrorEvent,
    Finish,
    FinishReason,
    IREvent,
    MessageStart,
    RedactedThinkingBlock,
    TextDelta,
    ThinkingDelta,
    ToolCallDelta,
    ToolCallStart,
    Usage,
    UsageEvent,
    UsagePartial,
)
from .kiro_stream import Framer

__all__ = [
    "FORMAT",
    "OWN_SIGNATURES",
    "SIGNATURE_FAMILY",
    "STOP_FROM_IR",
    "STOP_TO_IR",
    "Framer",
    "StreamDecoder",
    "StreamEncoder",
    "usage_from_ir",
    "usage_to_ir",
]

FORMAT = "bedrock"
# The signatures in Converse answers are Claude's, valid on every platform serving Claude
# (Anthropic's API, Bedrock, Vertex AI), so they are tagged and accepted as Anthropic's.
OWN_SIGNATURES = ("anthropic", "bedrock")
SIGNATURE_FAMILY = "anthropic"
STOP_TO_IR = {
    "end_turn": FinishReason.STOP,
    "stop_sequence": FinishReason.STOP,
    "max_tokens": FinishReason.LENGTH,
    "model_context_window_exceeded": FinishReason.LENGTH,
    "tool_use": FinishReason.TOOL_CALLS,
    "guardrail_intervened": FinishReason.CONTENT_FILTER,
    "content_filtered": FinishReason.CONTENT_FILTER,
}
STOP_FROM_IR = {
    FinishReason.STOP: "end_turn",
    FinishReason.LENGTH: "max_tokens",
    FinishReason.TOOL_CALLS: "tool_use",
    FinishReason.CONTENT_FILTER: "content_filtered",
    FinishReason.ERROR: "end_turn",
}
# Exception names as Bedrock sends them in a stream (lower camel) and in an HTTP error's
# x-amzn-ErrorType (upper camel): both map to the status the HTTP API would have used.
_EXCEPTION_STATUS = {
    "validationexception": 400,
    "accessdeniedexception": 403,
    "resourcenotfoundexception": 404,
    "modelnotreadyexception": 429,
    "throttlingexception": 429,
    "servicequotaexceededexception": 429,
    "modelstreamerrorexception": 424,
    "modeltimeoutexception": 408,
    "serviceunavailableexception": 503,
    "internalserverexception": 500,
    "framingerror": 502,  # ours: the upstream bytes were not a valid event stream
}
_STATUS_EXCEPTION = {400: "validationException", 403: "accessDeniedException",
                     404: "resourceNotFoundException", 429: "throttlingException",
                     503: "serviceUnavailableException"}  # fmt: skip


def usage_to_ir(usage: dict[str, Any]) -> UsagePartial:
    """Bedrock's inputTokens leaves out cache reads and writes (as Anthropic's does)."""
    read, write = usage.get("cacheReadInputTokens") or 0, usage.get("cacheWriteInputTokens") or 0
    return UsagePartial(
        input_tokens=(usage.get("inputTokens") or 0) + read + write,
        output_tokens=usage.get("outputTokens"),
        cached_input_tokens=read,
        cache_creation_tokens=write,
    )


def usage_from_ir(u: Usage) -> dict[str, Any]:
    uncached = max(u.input_tokens - u.cached_input_tokens - u.cache_creation_tokens, 0)
    out = {"inputTokens": uncached, "outputTokens": u.output_tokens,
           "totalTokens": u.input_tokens + u.output_tokens}  # fmt: skip
    if u.cached_input_tokens:
        out["cacheReadInputTokens"] = u.cached_input_tokens
    if u.cache_creation_tokens:
        out["cacheWriteInputTokens"] = u.cache_creation_tokens
    return out


def exception_status(name: str) -> int:
    return _EXCEPTION_STATUS.get(name.lower(), 500)


class StreamDecoder:
    def __init__(self, model: str = "") -> None:
        self._model = model
        self._started = False
        self._done = False
        self._index = -1
        self._open: str | None = None  # "text" | "thinking" | "tool"
        self._blocks: dict[int, int] = {}  # Bedrock contentBlockIndex → IR index
        self._stop: str | None = None
        self._calls = 0

    def feed(self, event: dict[str, Any]) -> list[IREvent]:
        if self._done:
            return []
        out: list[IREvent] = []
        if not self._started:
            self._started = True
            out.append(MessageStart(id="", model=self._model))
        mtype, name, data = event.get("message_type", "event"), str(event.get("event") or ""), event.get("data") or {}
        if mtype == "end":
            self._done = True
            self._close(out)
            if self._stop is None:  # no messageStop: the upstream ended early
                self._stop = "tool_use" if self._calls else "end_turn"
            out.append(Finish(STOP_TO_IR.get(self._stop, FinishReason.STOP)))
        elif mtype in ("error", "exception"):
            self._done = True
            message = data.get("message") or data.get("Message") or name or "upstream error"
            out.append(ErrorEvent(f"{name}: {message}" if name else message, exception_status(name)))
        elif name == "contentBlockStart":
            start = (data.get("start") or {}).get("toolUse")
            if isinstance(start, dict):
                self._close(out)
                self._index += 1
                self._open = "tool"
                self._calls += 1
                self._blocks[data.get("contentBlockIndex", self._index)] = self._index
                out.append(ToolCallStart(self._index, start.get("toolUseId", ""), start.get("name", "")))
        elif name == "contentBlockDelta":
            self._delta(data, out)
        elif name == "contentBlockStop":
            if self._blocks.get(data.get("contentBlockIndex", -1)) == self._index:
                self._close(out)
        elif name == "messageStop":
            self._stop = data.get("stopReason") or "end_turn"
        elif name == "metadata" and isinstance(data.get("usage"), dict):
            out.append(UsageEvent(usage_to_ir(data["usage"])))
        return out

    def _delta(self, data: dict[str, Any], out: list[IREvent]) -> None:
        delta = data.get("delta") or {}
        where = data.get("contentBlockIndex", 0)
        if "text" in delta:
            if delta["text"]:
                self._ensure("text", where, out)
                out.append(TextDelta(self._index, delta["text"]))
        elif isinstance(delta.get("toolUse"), dict):
            frag = delta["toolUse"].get("input")
            if isinstance(frag, dict | list):
                frag = json.dumps(frag, ensure_ascii=False, separators=(",", ":"))
            if frag and self._open == "tool":
                out.append(ToolCallDelta(self._index, frag))
        elif isinstance(delta.get("reasoningContent"), dict):
            rc = delta["reasoningContent"]
            if rc.get("redactedContent"):
                self._close(out)
                self._index += 1
                self._blocks[where] = self._index
                out.append(RedactedThinkingBlock(self._index, rc["redactedContent"]))
            elif rc.get("text") or rc.get("signature"):
                self._ensure("thinking", where, out)
                sig = rc.get("signature")
                out.append(ThinkingDelta(self._index, rc.get("text", ""), sig, SIGNATURE_FAMILY if sig else None))

    def _ensure(self, kind: str, where: int, out: list[IREvent]) -> None:
        if self._open != kind or self._blocks.get(where) != self._index:
            self._close(out)
            self._index += 1
            self._open = kind
            self._blocks[where] = self._index

    def _close(self, out: list[IREvent]) -> None:
        if self._open is not None:
            out.append(BlockStop(self._index))
            self._open = None


event_bytes = json_event


class StreamEncoder:
    """IR events → ConverseStream event-stream messages."""

    def __init__(self, model: str) -> None:
        self._model = model
        self._usage = Usage()
        self._open: int | None = None
        self._stop = "end_turn"
        self._started = False
        self._done = False

    def _start(self) -> list[bytes]:
        if self._started:
            return []
        self._started = True
        return [event_bytes("messageStart", {"role": "assistant"})]

    def _block(self, index: int) -> list[bytes]:
        """Close the open block when a delta arrives for another one (tolerated by the IR)."""
        if self._open is None or self._open == index:
            self._open = index
            return []
        out = [event_bytes("contentBlockStop", {"contentBlockIndex": self._open})]
        self._open = index
        return out

    def _delta(self, index: int, delta: dict[str, Any]) -> list[bytes]:
        return [*self._start(), *self._block(index),
                event_bytes("contentBlockDelta", {"contentBlockIndex": index, "delta": delta})]  # fmt: skip

    def feed(self, ev: IREvent) -> list[bytes]:
        if self._done:
            return []
        match ev:
            case MessageStart():
                if ev.usage is not None:
                    ev.usage.merge_into(self._usage)
                return self._start()
            case TextDelta() if ev.text:
                return self._delta(ev.index, {"text": ev.text})
            case ThinkingDelta():
                out: list[bytes] = []
                if ev.text:
                    out += self._delta(ev.index, {"reasoningContent": {"text": ev.text}})
                if ev.signature:
                    sig, family = untag_signature(ev.signature, ev.signature_format or FORMAT)
                    if family in OWN_SIGNATURES:
                        out += self._delta(ev.index, {"reasoningContent": {"signature": sig}})
                return out
            case RedactedThinkingBlock():
                out = self._delta(ev.index, {"reasoningContent": {"redactedContent": ev.data}})
                out.append(event_bytes("contentBlockStop", {"contentBlockIndex": ev.index}))
                self._open = None
                return out
            case ToolCallStart():
                start = {"toolUse": {"toolUseId": ev.id, "name": ev.name}}
                out = [*self._start(), *self._block(ev.index)]
                out.append(event_bytes("contentBlockStart", {"contentBlockIndex": ev.index, "start": start}))
                return out
            case ToolCallDelta() if ev.arguments:
                return self._delta(ev.index, {"toolUse": {"input": ev.arguments}})
            case BlockStop() if ev.index == self._open:
                self._open = None
                return [event_bytes("contentBlockStop", {"contentBlockIndex": ev.index})]
            case UsageEvent():
                ev.usage.merge_into(self._usage)
            case Finish():
                self._stop = STOP_FROM_IR.get(ev.reason, "end_turn")
            case ErrorEvent():
                return self.error(ev.message, ev.status)
        return []

    def finish(self) -> list[bytes]:
        if self._done:
            return []
        self._done = True
        out = self._start()
        if self._open is not None:
            out.append(event_bytes("contentBlockStop", {"contentBlockIndex": self._open}))
            self._open = None
        out.append(event_bytes("messageStop", {"stopReason": self._stop}))
        out.append(event_bytes("metadata", {"usage": usage_from_ir(self._usage), "metrics": {"latencyMs": 0}}))
        return out

    def error(self, message: str, status: int) -> list[bytes]:
        if self._done:
            return []
        self._done = True
        return [json_exception(_STATUS_EXCEPTION.get(status, "internalServerException"), message)]
