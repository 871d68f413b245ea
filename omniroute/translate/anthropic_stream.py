"""Anthropic Messages streaming (``message_start`` … ``message_stop`` SSE) ↔ IR events."""

from __future__ import annotations

import json
from typing import Any

from .anthropic_json import JSON_TOOL
from .anthropic_wire import FORMAT, STOP_FROM_IR, STOP_TO_IR, client_signature
from .base import new_id, untag_signature
from .errors import anthropic_error_type
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
from .sse import SSEFramer

Framer = SSEFramer

_ERROR_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "overloaded_error": 529,
}
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _usage(u: dict[str, Any]) -> UsagePartial:
    """Anthropic usage → IR (Anthropic's input_tokens excludes cache reads and writes)."""
    cached = u.get("cache_read_input_tokens")
    created = u.get("cache_creation_input_tokens")
    inp = u.get("input_tokens")
    details = u.get("output_tokens_details") or {}
    return UsagePartial(
        input_tokens=None if inp is None else inp + (cached or 0) + (created or 0),
        output_tokens=u.get("output_tokens"),
        cached_input_tokens=cached,
        cache_creation_tokens=created,
        reasoning_tokens=details.get("thinking_tokens"),
    )


def usage_to_ir(u: dict[str, Any]) -> Usage:
    usage = Usage()
    _usage(u).merge_into(usage)
    return usage


def usage_from_ir(u: Usage) -> dict[str, Any]:
    out: dict[str, Any] = {
        "input_tokens": max(0, u.input_tokens - u.cached_input_tokens - u.cache_creation_tokens),
        "output_tokens": u.output_tokens,
        "cache_creation_input_tokens": u.cache_creation_tokens,
        "cache_read_input_tokens": u.cached_input_tokens,
    }
    if u.reasoning_tokens:
        out["output_tokens_details"] = {"thinking_tokens": u.reasoning_tokens}
    return out


class StreamDecoder:
    """Anthropic stream events → IR events (indexes renumbered, redacted blocks whole).

    A call of ``anthropic_json.JSON_TOOL`` streams as the answer's text (see that module).
    """

    __slots__ = ("_input", "_json", "_map", "_next", "_skip", "_tools")

    def __init__(self) -> None:
        self._map: dict[int, int] = {}
        self._next = 0
        self._skip: set[int] = set()  # upstream indexes with no IR block (redacted, unknown)
        self._input: dict[str, Any] = {}  # message_start usage, to complete message_delta's
        self._json: set[int] = set()  # upstream indexes of JSON_TOOL calls, read as text
        self._tools = False  # a client tool was called

    def _index(self, upstream: int) -> int:
        idx = self._map[upstream] = self._next
        self._next += 1
        return idx

    def feed(self, event: dict[str, Any]) -> list[IREvent]:
        kind = event.get("type")
        if kind == "content_block_delta":
            up = event.get("index", 0)
            if up in self._skip or up not in self._map:
                return []
            idx = self._map[up]
            d = event.get("delta") or {}
            dk = d.get("type")
            if dk == "text_delta":
                return [TextDelta(idx, d.get("text", ""))]
            if dk == "input_json_delta":
                if not d.get("partial_json"):
                    return []
                if up in self._json:
                    return [TextDelta(idx, d["partial_json"])]
                return [ToolCallDelta(idx, d["partial_json"])]
            if dk == "thinking_delta":
                return [ThinkingDelta(idx, d.get("thinking", ""))]
            if dk == "signature_delta":
                sig, fmt = untag_signature(d.get("signature") or "", FORMAT)
                return [ThinkingDelta(idx, "", sig, fmt)]
            return []  # citations_delta: no IR equivalent, text already carries the content
        if kind == "content_block_start":
            up = event.get("index", 0)
            block = event.get("content_block") or {}
            bk = block.get("type")
            if bk == "redacted_thinking":
                self._skip.add(up)
                return [RedactedThinkingBlock(self._index(up), block.get("data", ""))]
            if bk == "tool_use" and block.get("name") == JSON_TOOL:
                self._json.add(up)
                idx = self._index(up)
                # Some Anthropic-format providers send the whole input here, with no deltas.
                return [TextDelta(idx, _dumps(block["input"]))] if block.get("input") else []
            if bk == "tool_use":
                self._tools = True
                return [ToolCallStart(self._index(up), block.get("id", ""), block.get("name", ""))]
            if bk == "text":
                idx = self._index(up)
                return [TextDelta(idx, block["text"])] if block.get("text") else []
            if bk == "thinking":
                idx = self._index(up)
                return [ThinkingDelta(idx, block.get("thinking", ""))] if block.get("thinking") else []
            self._skip.add(up)
            err = f"content block type {bk!r} cannot be translated"
            return [ErrorEvent(err, 502, "api_error")]
        if kind == "content_block_stop":
            up = event.get("index", 0)
            if up in self._skip or up not in self._map:
                return []
            return [BlockStop(self._map[up])]
        if kind == "message_start":
            msg = event.get("message") or {}
            self._input = msg.get("usage") or {}
            return [MessageStart(msg.get("id", ""), msg.get("model", ""), _usage(self._input))]
        if kind == "message_delta":
            out: list[IREvent] = []
            if event.get("usage"):
                out.append(UsageEvent(_usage({**self._input, **event["usage"]})))
            d = event.get("delta") or {}
            if d.get("stop_reason"):
                reason = STOP_TO_IR.get(d["stop_reason"], FinishReason.STOP)
                if reason == FinishReason.TOOL_CALLS and self._json and not self._tools:
                    reason = FinishReason.STOP
                out.append(Finish(reason, d.get("stop_sequence")))
            return out
        if kind == "error" or (kind is None and "error" in event):
            err = event.get("error") or {}
            etype = err.get("type", "api_error")
            return [ErrorEvent(err.get("message", "upstream error"), _ERROR_STATUS.get(etype, 500), etype)]
        return []  # ping, message_stop, [DONE]


class StreamEncoder:
    """IR events → Anthropic SSE, closed with ``message_delta`` (usage) and ``message_stop``."""

    __slots__ = ("model", "_id", "_started", "_open", "_open_kind", "_next", "_usage",
                 "_finish", "_stop_seq", "_closed", "_has_tool")  # fmt: skip

    def __init__(self, model: str, *, id: str | None = None) -> None:
        self.model = model
        self._id = id
        self._started = False
        self._open: int | None = None  # IR index of the open block
        self._open_kind = ""
        self._next = 0  # next Anthropic block index
        self._usage = Usage()
        self._finish: Finish | None = None
        self._stop_seq: str | None = None
        self._closed = False
        self._has_tool = False

    def _start(self, id: str = "") -> list[bytes]:
        self._started = True
        usage = usage_from_ir(self._usage)
        msg = {"id": self._id or id or new_id("msg_"), "type": "message", "role": "assistant",
               "model": self.model, "content": [], "stop_reason": None, "stop_sequence": None,
               "usage": usage}  # fmt: skip
        return [b'event: message_start\ndata: {"type":"message_start","message":' + _dumps(msg).encode() + b"}\n\n"]

    def _close(self) -> list[bytes]:
        if self._open is None:
            return []
        self._open = None
        return [b'event: content_block_stop\ndata: {"type":"content_block_stop","index":'
                + str(self._next - 1).encode() + b"}\n\n"]  # fmt: skip

    def _open_block(self, index: int, kind: str, block: dict[str, Any]) -> list[bytes]:
        out = self._close()
        self._open, self._open_kind = index, kind
        self._next += 1
        out.append(b'event: content_block_start\ndata: {"type":"content_block_start","index":'
                   + str(self._next - 1).encode() + b',"content_block":' + _dumps(block).encode()
                   + b"}\n\n")  # fmt: skip
        return out

    def _delta(self, delta: str) -> bytes:
        return (
            'event: content_block_delta\ndata: {"type":"content_block_delta","index":'
            + str(self._next - 1) + ',"delta":' + delta + "}\n\n"
        ).encode()

    def feed(self, ev: IREvent) -> list[bytes]:
        if self._closed:
            return []
        if isinstance(ev, MessageStart):
            if ev.usage is not None:
                ev.usage.merge_into(self._usage)
            return [] if self._started else self._start(ev.id)
        out = [] if self._started else self._start()
        match ev:
            case TextDelta():
                if self._open != ev.index:
                    out += self._open_block(ev.index, "text", {"type": "text", "text": ""})
                out.append(self._delta('{"type":"text_delta","text":' + _dumps(ev.text) + "}"))
            case ThinkingDelta():
                if self._open != ev.index:
                    out += self._open_block(ev.index, "thinking", {"type": "thinking", "thinking": "", "signature": ""})
                if ev.text:
                    out.append(self._delta('{"type":"thinking_delta","thinking":' + _dumps(ev.text) + "}"))
                if ev.signature:
                    sig = client_signature(ev.signature, ev.signature_format)
                    out.append(self._delta('{"type":"signature_delta","signature":' + _dumps(sig) + "}"))
            case ToolCallStart():
                self._has_tool = True
                out += self._open_block(ev.index, "tool", {"type": "tool_use", "id": ev.id, "name": ev.name, "input": {}})
            case ToolCallDelta():
                if self._open == ev.index and ev.arguments:
                    out.append(self._delta('{"type":"input_json_delta","partial_json":' + _dumps(ev.arguments) + "}"))
            case RedactedThinkingBlock():
                out += self._open_block(ev.index, "redacted", {"type": "redacted_thinking", "data": ev.data})
                out += self._close()
            case BlockStop():
                if self._open == ev.index:
                    out += self._close()
            case UsageEvent():
                ev.usage.merge_into(self._usage)
            case Finish():
                out += self._close()
                self._finish = ev
            case ErrorEvent():
                out += self.error(ev.message, ev.status)
        return out

    def finish(self) -> list[bytes]:
        if self._closed:
            return []
        out = [] if self._started else self._start()
        out += self._close()
        self._closed = True
        fin = self._finish
        if fin is None:
            stop = "tool_use" if self._has_tool else "end_turn"
            seq = None
        else:
            seq = fin.stop_sequence
            stop = "stop_sequence" if seq else STOP_FROM_IR[fin.reason]
        usage = usage_from_ir(self._usage)
        delta = {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": seq}, "usage": usage}
        out.append(b"event: message_delta\ndata: " + _dumps(delta).encode() + b"\n\n")
        out.append(b'event: message_stop\ndata: {"type":"message_stop"}\n\n')
        return out

    def error(self, message: str, status: int = 500) -> list[bytes]:
        """An ``event: error`` frame (the SDK raises on it); the stream ends there."""
        if self._closed:
            return []
        self._closed = True
        body = {"type": "error", "error": {"type": anthropic_error_type(status), "message": message}}
        return [b"event: error\ndata: " + _dumps(body).encode() + b"\n\n"]
