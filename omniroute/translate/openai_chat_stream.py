"""OpenAI Chat Completions streaming (``chat.completion.chunk`` SSE) ↔ IR events."""

from __future__ import annotations

import json
import time
from typing import Any

from .base import new_id
from .errors import error_body
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
from .sse import DONE, SSEFramer

Framer = SSEFramer

FINISH_TO_IR = {
    "stop": FinishReason.STOP,
    "length": FinishReason.LENGTH,
    "tool_calls": FinishReason.TOOL_CALLS,
    "function_call": FinishReason.TOOL_CALLS,
    "content_filter": FinishReason.CONTENT_FILTER,
}
# Chat has no "error" finish reason; an errored turn that still produced a body ends "stop".
FINISH_FROM_IR = {
    FinishReason.STOP: "stop",
    FinishReason.LENGTH: "length",
    FinishReason.TOOL_CALLS: "tool_calls",
    FinishReason.CONTENT_FILTER: "content_filter",
    FinishReason.ERROR: "stop",
}
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class StreamDecoder:
    """``chat.completion.chunk`` dicts → IR events.

    Chat streams have no block boundaries: a block ends when a delta of another kind (or
    another tool call index) arrives, or at finish_reason.
    """

    __slots__ = ("_started", "_next", "_open", "_open_kind", "_tools", "_ids", "_last_key", "_finished")

    def __init__(self) -> None:
        self._started = False
        self._next = 0  # next IR block index
        self._open: int | None = None
        self._open_kind = ""
        self._tools: dict[Any, int] = {}  # chat tool_calls[].index → IR index
        self._ids: dict[Any, str] = {}
        self._last_key: Any = 0
        self._finished = False

    def _switch(self, kind: str, out: list[IREvent]) -> int:
        if self._open is not None and self._open_kind == kind:
            return self._open
        if self._open is not None:
            out.append(BlockStop(self._open))
        self._open, self._open_kind = self._next, kind
        self._next += 1
        return self._open

    def feed(self, event: dict[str, Any]) -> list[IREvent]:
        out: list[IREvent] = []
        if "error" in event and not event.get("choices"):
            err = event["error"] if isinstance(event["error"], dict) else {"message": str(event["error"])}
            status = err.get("code") if isinstance(err.get("code"), int) else 500
            return [ErrorEvent(err.get("message") or "upstream error", status, err.get("type") or "api_error")]
        if event.get("type") in ("[DONE]", "_raw"):
            return out
        if not self._started:
            self._started = True
            out.append(MessageStart(event.get("id", ""), event.get("model", "")))
        for choice in event.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue  # n > 1 is rejected at request time; ignore stray choices
            delta = choice.get("delta") or {}
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if reasoning and isinstance(reasoning, str):
                out.append(ThinkingDelta(self._switch("thinking", out), reasoning))
            if delta.get("content"):
                out.append(TextDelta(self._switch("text", out), delta["content"]))
            if delta.get("refusal"):
                out.append(TextDelta(self._switch("text", out), delta["refusal"]))
            for call in delta.get("tool_calls") or ():
                self._tool_delta(call, out)
            reason = choice.get("finish_reason")
            if reason:
                if self._open is not None:
                    out.append(BlockStop(self._open))
                    self._open = None
                out.append(Finish(FINISH_TO_IR.get(reason, FinishReason.STOP)))
        usage = event.get("usage")
        if usage:
            out.append(UsageEvent(_usage(usage)))
        return out

    def _tool_delta(self, call: dict[str, Any], out: list[IREvent]) -> None:
        key: Any = call.get("index")
        cid = call.get("id")
        if key is None:
            # Some OpenAI-compatible servers omit the index: a new id means a new call, no id
            # continues the last one.
            key = f"id:{cid}" if cid else self._last_key
        elif cid and key in self._ids and self._ids[key] != cid:
            key = f"{key}:{cid}"  # a server that reuses index 0 for every call
        self._last_key = key
        fn = call.get("function") or {}
        idx = self._tools.get(key)
        if idx is None:
            if self._open is not None:
                out.append(BlockStop(self._open))
            idx = self._tools[key] = self._next
            self._ids[key] = cid or ""
            self._next += 1
            self._open, self._open_kind = idx, f"tool{key}"
            out.append(ToolCallStart(idx, call.get("id") or "", fn.get("name") or ""))
        if fn.get("arguments"):
            out.append(ToolCallDelta(idx, fn["arguments"]))


def _usage(u: dict[str, Any]) -> UsagePartial:
    return UsagePartial(
        input_tokens=u.get("prompt_tokens"),
        output_tokens=u.get("completion_tokens"),
        cached_input_tokens=(u.get("prompt_tokens_details") or {}).get("cached_tokens"),
        reasoning_tokens=(u.get("completion_tokens_details") or {}).get("reasoning_tokens"),
    )


def usage_to_ir(u: dict[str, Any] | None) -> Usage:
    usage = Usage()
    if u:
        _usage(u).merge_into(usage)
    return usage


def usage_from_ir(u: Usage) -> dict[str, Any]:
    return {
        "prompt_tokens": u.input_tokens,
        "completion_tokens": u.output_tokens,
        "total_tokens": u.input_tokens + u.output_tokens,
        "prompt_tokens_details": {"cached_tokens": u.cached_input_tokens},
        "completion_tokens_details": {"reasoning_tokens": u.reasoning_tokens},
    }


class StreamEncoder:
    """IR events → ``chat.completion.chunk`` SSE frames, closed with usage and ``[DONE]``.

    Chunks are formatted from a precomputed prefix (id, created, model never change within a
    stream) so each event costs one small ``json.dumps`` of the delta.
    """

    __slots__ = ("model", "_prefix", "_started", "_tools", "_usage", "_finish", "_closed")

    def __init__(self, model: str, *, id: str | None = None, created: int | None = None) -> None:
        self.model = model
        self._prefix = ""
        self._started = False
        self._tools: dict[int, int] = {}  # IR index → chat tool_calls index
        self._usage = Usage()
        self._finish: str | None = None
        self._closed = False
        if id is not None:
            self._set_prefix(id, created)

    def _set_prefix(self, id: str, created: int | None) -> None:
        self._prefix = (
            '{"id":' + _dumps(id or new_id("chatcmpl-")) + ',"object":"chat.completion.chunk",'
            '"created":' + str(created or int(time.time())) + ',"model":' + _dumps(self.model)
            + ',"choices":['
        )  # fmt: skip

    def _chunk(self, delta: str, finish: str | None = None) -> bytes:
        fin = "null" if finish is None else '"' + finish + '"'
        return (
            "data: " + self._prefix + '{"index":0,"delta":' + delta
            + ',"logprobs":null,"finish_reason":' + fin + "}]}\n\n"
        ).encode()  # fmt: skip

    def _start(self, id: str = "") -> list[bytes]:
        self._started = True
        if not self._prefix:
            self._set_prefix(id, None)
        return [self._chunk('{"role":"assistant","content":""}')]

    def feed(self, ev: IREvent) -> list[bytes]:
        if self._closed:
            return []
        out = [] if self._started else self._start(ev.id if isinstance(ev, MessageStart) else "")
        match ev:
            case TextDelta():
                out.append(self._chunk('{"content":' + _dumps(ev.text) + "}"))
            case ThinkingDelta():
                if ev.text:
                    out.append(self._chunk('{"reasoning_content":' + _dumps(ev.text) + "}"))
            case ToolCallStart():
                n = self._tools[ev.index] = len(self._tools)
                call = {"index": n, "id": ev.id, "type": "function",
                        "function": {"name": ev.name, "arguments": ""}}  # fmt: skip
                out.append(self._chunk('{"tool_calls":[' + _dumps(call) + "]}"))
            case ToolCallDelta():
                n = self._tools.get(ev.index, 0)
                out.append(self._chunk(
                    '{"tool_calls":[{"index":' + str(n) + ',"function":{"arguments":'
                    + _dumps(ev.arguments) + "}}]}"
                ))  # fmt: skip
            case UsageEvent():
                ev.usage.merge_into(self._usage)
            case MessageStart():
                if ev.usage is not None:
                    ev.usage.merge_into(self._usage)
            case Finish():
                self._finish = FINISH_FROM_IR[ev.reason]
            case RedactedThinkingBlock() | BlockStop():
                pass  # chat has no block boundaries and no place for encrypted reasoning
            case ErrorEvent():
                return out + self.error(ev.message, ev.status)
        return out

    def finish(self) -> list[bytes]:
        if self._closed:
            return []
        out = [] if self._started else self._start()
        self._closed = True
        finish = self._finish or ("tool_calls" if self._tools else "stop")
        out.append(self._chunk("{}", finish))
        usage = usage_from_ir(self._usage)
        out.append(("data: " + self._prefix + '],"usage":' + _dumps(usage) + "}\n\n").encode())
        out.append(DONE)
        return out

    def error(self, message: str, status: int = 500) -> list[bytes]:
        """An ``{"error": …}`` data frame (the SDK raises APIError on it), then ``[DONE]``."""
        if self._closed:
            return []
        self._closed = True
        body = error_body("openai-chat", status, message)
        return [("data: " + _dumps(body) + "\n\n").encode(), DONE]
