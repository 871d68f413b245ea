"""Kiro (CodeWhisperer ``generateAssistantResponse``) stream ↔ IR.

The response body is an AWS event stream (:mod:`.eventstream`). Each message has headers
``:message-type`` (``event`` | ``error`` | ``exception``), ``:event-type`` /
``:exception-type`` / ``:error-code``, and a JSON payload. Event types and payloads, as
parsed by open-source Kiro gateways (hank9999/kiro.rs ``src/kiro/model/events``,
jwadow/kiro-gateway)::

    assistantResponseEvent  {"content": "text delta"}
    toolUseEvent            {"name", "toolUseId", "input": "<JSON fragment>" | {...}, "stop"?}
    reasoningContentEvent   {"text"?, "signature"?, "redactedContent"?}
    metadataEvent           {"tokenUsage": {"uncachedInputTokens", "outputTokens",
                             "cacheReadInputTokens", "cacheWriteInputTokens", "totalTokens"}}
    meteringEvent           {"unit", "usage"}   (credits, not tokens: no IR field)
    contextUsageEvent       {"contextUsagePercentage"}   (a percentage: no IR field)
    invalidStateEvent       {"reason", "message"}

Framer output: ``{"message_type", "event", "data"}``. Kiro has no explicit end-of-turn
event, so the Framer's ``flush()`` (and ``StreamDecoder.close()``) yields/handles a synthetic
``{"message_type": "end"}`` that closes the open block and emits ``Finish``.
"""

from __future__ import annotations

import json
from typing import Any

from .base import untag_signature
from .eventstream import EventStreamDecoder, EventStreamError, Message, json_event, json_exception
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

__all__ = ["END_EVENT", "Framer", "StreamDecoder", "StreamEncoder"]

END_EVENT: dict[str, Any] = {"message_type": "end"}
FORMAT = "kiro"
# Kiro serves Anthropic's Claude models: its own and Anthropic signatures are one family.
_OWN_SIGNATURES = ("kiro", "anthropic")
_EXCEPTION_STATUS = {
    "ValidationException": 400,
    "AccessDeniedException": 403,
    "ResourceNotFoundException": 404,
    "ThrottlingException": 429,
    "ServiceQuotaExceededException": 429,
    "FramingError": 502,  # ours: the upstream bytes were not a valid event stream
}
_STATUS_EXCEPTION = {400: "ValidationException", 403: "AccessDeniedException",
                     404: "ResourceNotFoundException", 429: "ThrottlingException"}  # fmt: skip


class Framer:
    """AWS event-stream bytes → ``{"message_type", "event", "data"}`` dicts (CRC-checked)."""

    def __init__(self) -> None:
        self._decoder = EventStreamDecoder()

    def feed(self, chunk: bytes) -> list[dict[str, Any]]:
        try:
            messages = self._decoder.feed(chunk)
        except EventStreamError as exc:
            return [
                {
                    "message_type": "exception",
                    "event": "FramingError",
                    "data": {"message": str(exc)},
                }
            ]
        return [self._parse(m) for m in messages]

    def flush(self) -> list[dict[str, Any]]:
        if self._decoder.pending:
            msg = f"stream ended inside a message ({self._decoder.pending} bytes left)"
            return [
                {"message_type": "exception", "event": "FramingError", "data": {"message": msg}}
            ]
        return [dict(END_EVENT)]

    @staticmethod
    def _parse(msg: Message) -> dict[str, Any]:
        h = msg.headers
        mtype = str(h.get(":message-type", "event"))
        name = h.get(":event-type") or h.get(":exception-type") or h.get(":error-code") or ""
        try:
            data = json.loads(msg.payload) if msg.payload else {}
        except ValueError:
            data = {"message": msg.payload.decode("utf-8", "replace")}
        if not isinstance(data, dict):
            data = {"value": data}
        if mtype == "error" and "message" not in data and h.get(":error-message"):
            data["message"] = str(h[":error-message"])
        return {"message_type": mtype, "event": str(name), "data": data}


class StreamDecoder:
    def __init__(self, model: str = "") -> None:
        self._model = model
        self._started = False
        self._done = False
        self._index = -1
        self._open: str | None = None  # "text" | "thinking" | "tool"
        self._tool_id: str | None = None
        self._calls = 0

    def close(self) -> list[IREvent]:
        """End of the byte stream (same as feeding ``END_EVENT``)."""
        return self.feed(dict(END_EVENT))

    def feed(self, event: dict[str, Any]) -> list[IREvent]:
        if self._done:
            return []
        out: list[IREvent] = []
        if not self._started:
            self._started = True
            out.append(MessageStart(id="", model=self._model))
        mtype, name, data = (
            event.get("message_type", "event"),
            event.get("event"),
            event.get("data") or {},
        )
        if mtype == "end":
            self._done = True
            self._close(out)
            out.append(Finish(FinishReason.TOOL_CALLS if self._calls else FinishReason.STOP))
        elif mtype in ("error", "exception") or name == "invalidStateEvent":
            self._done = True
            message = data.get("message") or data.get("reason") or str(name) or "upstream error"
            out.append(
                ErrorEvent(
                    f"{name}: {message}" if name else message, _EXCEPTION_STATUS.get(str(name), 500)
                )
            )
        else:
            self._event(str(name), data, out)
        return out

    def _event(self, name: str, data: dict[str, Any], out: list[IREvent]) -> None:
        # Some Kiro versions nest the payload under its own event name.
        if isinstance(data.get(name), dict):
            data = data[name]
        if name == "assistantResponseEvent":
            if data.get("content"):
                self._ensure("text", out)
                out.append(TextDelta(self._index, data["content"]))
        elif name == "reasoningContentEvent":
            if data.get("redactedContent"):
                self._close(out)
                self._index += 1
                out.append(RedactedThinkingBlock(self._index, data["redactedContent"]))
            elif data.get("text") or data.get("signature"):
                self._ensure("thinking", out)
                sig = data.get("signature")
                out.append(
                    ThinkingDelta(self._index, data.get("text", ""), sig, FORMAT if sig else None)
                )
        elif name == "toolUseEvent":
            self._tool_event(data, out)
        elif name == "metadataEvent" and isinstance(data.get("tokenUsage"), dict):
            tu = data["tokenUsage"]
            read, write = tu.get("cacheReadInputTokens") or 0, tu.get("cacheWriteInputTokens") or 0
            out.append(
                UsageEvent(
                    UsagePartial(
                        input_tokens=(tu.get("uncachedInputTokens") or 0) + read + write,
                        output_tokens=tu.get("outputTokens"),
                        cached_input_tokens=read,
                        cache_creation_tokens=write,
                    )
                )
            )
        # meteringEvent, contextUsageEvent, messageMetadataEvent …: nothing the IR carries.

    def _tool_event(self, data: dict[str, Any], out: list[IREvent]) -> None:
        tool_id = data.get("toolUseId", "")
        if self._open != "tool" or self._tool_id != tool_id:
            self._close(out)
            self._index += 1
            self._open, self._tool_id = "tool", tool_id
            self._calls += 1
            out.append(ToolCallStart(self._index, tool_id, data.get("name", "")))
        frag = data.get("input")
        if isinstance(frag, dict | list):
            frag = json.dumps(frag, ensure_ascii=False, separators=(",", ":"))
        if frag:
            out.append(ToolCallDelta(self._index, frag))
        if data.get("stop"):
            self._close(out)

    def _ensure(self, kind: str, out: list[IREvent]) -> None:
        if self._open != kind:
            self._close(out)
            self._index += 1
            self._open = kind

    def _close(self, out: list[IREvent]) -> None:
        if self._open is not None:
            out.append(BlockStop(self._index))
            self._open, self._tool_id = None, None


_event = json_event


class StreamEncoder:
    """IR events → Kiro event-stream messages."""

    def __init__(self, model: str) -> None:
        self._model = model
        self._usage = Usage()
        self._usage_seen = False
        self._tools: dict[int, tuple[str, str]] = {}
        self._done = False

    def feed(self, ev: IREvent) -> list[bytes]:
        if self._done:
            return []
        match ev:
            case TextDelta() if ev.text:
                return [_event("assistantResponseEvent", {"content": ev.text})]
            case ThinkingDelta():
                payload: dict[str, Any] = {"text": ev.text} if ev.text else {}
                if ev.signature:
                    sig, family = untag_signature(ev.signature, ev.signature_format or FORMAT)
                    if family in _OWN_SIGNATURES:  # others cannot be verified by Kiro's Claude
                        payload["signature"] = sig
                return [_event("reasoningContentEvent", payload)] if payload else []
            case RedactedThinkingBlock():
                return [_event("reasoningContentEvent", {"redactedContent": ev.data})]
            case ToolCallStart():
                self._tools[ev.index] = (ev.id, ev.name)
                return [_event("toolUseEvent", {"name": ev.name, "toolUseId": ev.id})]
            case ToolCallDelta() if ev.index in self._tools and ev.arguments:
                tid, name = self._tools[ev.index]
                return [
                    _event("toolUseEvent", {"name": name, "toolUseId": tid, "input": ev.arguments})
                ]
            case BlockStop() if ev.index in self._tools:
                tid, name = self._tools.pop(ev.index)
                return [_event("toolUseEvent", {"name": name, "toolUseId": tid, "stop": True})]
            case MessageStart() if ev.usage is not None:
                ev.usage.merge_into(self._usage)
            case UsageEvent():
                self._usage_seen = True
                ev.usage.merge_into(self._usage)
            case ErrorEvent():
                return self.error(ev.message, ev.status)
        # Finish: Kiro has no end-of-turn event; the stream simply ends after finish().
        return []

    def finish(self) -> list[bytes]:
        if self._done:
            return []
        self._done = True
        out = [
            _event("toolUseEvent", {"name": name, "toolUseId": tid, "stop": True})
            for tid, name in self._tools.values()
        ]
        self._tools.clear()
        if self._usage_seen:
            u = self._usage
            uncached = max(u.input_tokens - u.cached_input_tokens - u.cache_creation_tokens, 0)
            usage = {
                "uncachedInputTokens": uncached,
                "cacheReadInputTokens": u.cached_input_tokens,
                "cacheWriteInputTokens": u.cache_creation_tokens,
                "outputTokens": u.output_tokens,
                "totalTokens": u.input_tokens + u.output_tokens,
            }
            out.append(_event("metadataEvent", {"tokenUsage": usage}))
        return out

    def error(self, message: str, status: int) -> list[bytes]:
        if self._done:
            return []
        self._done = True
        return [json_exception(_STATUS_EXCEPTION.get(status, "InternalServerException"), message)]
