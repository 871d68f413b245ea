"""OpenAI Responses streaming (``response.created`` … ``response.completed`` SSE) ↔ IR events.

The encoder keeps the finished output items because ``response.completed`` repeats the whole
response (the format requires it); deltas are still written as they arrive.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from .base import new_id, tag_signature, untag_signature
from .errors import openai_error_type
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
from .responses_custom import raw_input
from .responses_extras import ToolName, restore_call
from .responses_wire import FORMAT, REDACTED, incomplete_details, usage_from_ir, usage_to_ir
from .sse import SSEFramer

Framer = SSEFramer
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class StreamDecoder:
    """Responses stream events → IR events. One IR block per output item."""

    __slots__ = ("_blocks", "_next", "_open", "_summary", "_args_seen", "_tools")

    def __init__(self) -> None:
        self._blocks: dict[int, int] = {}  # output_index → IR index
        self._next = 0
        self._open: int | None = None
        self._summary: dict[int, int] = {}  # output_index → last summary_index seen
        self._args_seen: set[int] = set()
        self._tools = False

    def _block(self, oi: int, out: list[IREvent]) -> int:
        idx = self._blocks.get(oi)
        if idx is None:
            if self._open is not None:
                out.append(BlockStop(self._open))
            idx = self._blocks[oi] = self._open = self._next
            self._next += 1
        return idx

    def _stop(self, oi: int, out: list[IREvent]) -> None:
        idx = self._blocks.get(oi)
        if idx is not None and idx == self._open:
            out.append(BlockStop(idx))
            self._open = None

    def feed(self, event: dict[str, Any]) -> list[IREvent]:
        kind = event.get("type", "")
        out: list[IREvent] = []
        oi = event.get("output_index", 0)
        if kind == "response.output_text.delta" or kind == "response.refusal.delta":
            out.append(TextDelta(self._block(oi, out), event.get("delta", "")))
        elif kind == "response.function_call_arguments.delta":
            if oi in self._blocks and event.get("delta"):
                self._args_seen.add(oi)
                out.append(ToolCallDelta(self._blocks[oi], event["delta"]))
        elif kind in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
            idx = self._block(oi, out)
            si = event.get("summary_index", event.get("content_index", 0))
            text = event.get("delta", "")
            if self._summary.setdefault(oi, si) != si:
                self._summary[oi] = si
                text = "\n\n" + text  # summary parts are paragraphs of one thinking block
            out.append(ThinkingDelta(idx, text))
        elif kind == "response.custom_tool_call_input.delta":
            if oi in self._blocks and event.get("delta"):
                self._args_seen.add(oi)  # raw text streamed inside a JSON string: escape it
                out.append(ToolCallDelta(self._blocks[oi], _dumps(event["delta"])[1:-1]))
        elif kind == "response.output_item.added":
            item = event.get("item") or {}
            if item.get("type") in ("function_call", "custom_tool_call"):
                self._tools = True
                idx = self._block(oi, out)
                out.append(ToolCallStart(idx, item.get("call_id", ""), item.get("name", "")))
                if item["type"] == "custom_tool_call":
                    out.append(ToolCallDelta(idx, '{"input":"'))  # IR form: {"input": raw}
        elif kind == "response.output_item.done":
            self._item_done(oi, event.get("item") or {}, out)
        elif kind == "response.created":
            resp = event.get("response") or {}
            out.append(MessageStart(resp.get("id", ""), resp.get("model", "")))
        elif kind in ("response.completed", "response.incomplete"):
            resp = event.get("response") or {}
            if self._open is not None:
                out.append(BlockStop(self._open))
                self._open = None
            u = usage_to_ir(resp.get("usage"))
            out.append(UsageEvent(UsagePartial(u.input_tokens, u.output_tokens, u.cached_input_tokens,
                                               u.cache_creation_tokens, u.reasoning_tokens)))  # fmt: skip
            reason = ((resp.get("incomplete_details") or {}).get("reason")) or ""
            if kind == "response.incomplete":
                fin = FinishReason.CONTENT_FILTER if reason == "content_filter" else FinishReason.LENGTH
            else:
                fin = FinishReason.TOOL_CALLS if self._tools else FinishReason.STOP
            out.append(Finish(fin))
        elif kind == "response.failed":
            err = (event.get("response") or {}).get("error") or {}
            out.append(ErrorEvent(err.get("message") or "upstream response failed", 502, "api_error"))
        elif kind == "error":
            code = event.get("code") or ""
            status = 429 if "rate_limit" in str(code) else 500
            out.append(ErrorEvent(event.get("message") or "upstream error", status, "api_error"))
        return out

    def _item_done(self, oi: int, item: dict[str, Any], out: list[IREvent]) -> None:
        kind = item.get("type")
        if kind == "reasoning":
            enc = item.get("encrypted_content")
            if enc:
                sig, fmt = untag_signature(enc, FORMAT)
                if fmt == REDACTED:
                    if self._open is not None:
                        out.append(BlockStop(self._open))
                        self._open = None
                    idx = self._blocks[oi] = self._next
                    self._next += 1
                    out.append(RedactedThinkingBlock(idx, sig))
                    return
                out.append(ThinkingDelta(self._block(oi, out), "", sig, fmt))
        elif kind == "function_call" and oi not in self._args_seen and item.get("arguments"):
            if oi in self._blocks:
                out.append(ToolCallDelta(self._blocks[oi], item["arguments"]))
        elif kind == "custom_tool_call" and oi in self._blocks:
            if oi not in self._args_seen and item.get("input"):
                out.append(ToolCallDelta(self._blocks[oi], _dumps(item["input"])[1:-1]))
            out.append(ToolCallDelta(self._blocks[oi], '"}'))
        self._stop(oi, out)


class StreamEncoder:
    """IR events → Responses SSE events with sequence numbers, closed by response.completed."""

    __slots__ = ("model", "_rid", "_created", "_seq", "_started", "_output", "_cur", "_usage",
                 "_finish", "_closed", "_names")  # fmt: skip

    def __init__(self, model: str, *, id: str | None = None, names: Mapping[str, ToolName] | None = None) -> None:
        self.model = model
        self._names = names  # the client's namespaced and freeform tools (responses_extras)
        self._rid = id or ""
        self._created = int(time.time())
        self._seq = 0
        self._started = False
        self._output: list[dict[str, Any]] = []  # finished items, for response.completed
        self._cur: dict[str, Any] | None = None  # the item being streamed
        self._usage = Usage()
        self._finish: FinishReason | None = None
        self._closed = False

    def _ev(self, kind: str, body: str) -> bytes:
        """One SSE frame; ``body`` is the JSON members after type/sequence_number."""
        self._seq += 1
        return (
            "event: " + kind + '\ndata: {"type":"' + kind + '","sequence_number":'
            + str(self._seq - 1) + ("," + body if body else "") + "}\n\n"
        ).encode()  # fmt: skip

    def _response(self, status: str, **extra: Any) -> str:
        resp = {"id": self._rid, "object": "response", "created_at": self._created, "status": status,
                "model": self.model, "output": self._output if status != "in_progress" else [],
                "parallel_tool_calls": True, "tool_choice": "auto", "tools": [],
                "error": None, "incomplete_details": None, **extra}  # fmt: skip
        return '"response":' + _dumps(resp)

    def _start(self, id: str = "") -> list[bytes]:
        self._started = True
        if not self._rid:
            self._rid = id if id.startswith("resp_") else "resp_" + (id or new_id(""))
        body = self._response("in_progress")
        return [self._ev("response.created", body), self._ev("response.in_progress", body)]

    def _loc(self) -> str:
        cur = self._cur
        assert cur is not None
        return '"item_id":' + _dumps(cur["item"]["id"]) + ',"output_index":' + str(cur["oi"])

    def _open(self, index: int, item: dict[str, Any]) -> list[bytes]:
        out = self._close()
        self._cur = {"index": index, "oi": len(self._output), "item": item, "text": [], "part": False}
        out.append(self._ev("response.output_item.added", '"output_index":' + str(len(self._output))
                            + ',"item":' + _dumps(item)))  # fmt: skip
        return out

    def _close(self) -> list[bytes]:
        cur = self._cur
        if cur is None:
            return []
        self._cur = None
        item, loc, out = cur["item"], None, []
        loc = '"item_id":' + _dumps(item["id"]) + ',"output_index":' + str(cur["oi"])
        text = "".join(cur["text"])
        if item["type"] == "message":
            part = {"type": "output_text", "text": text, "annotations": []}
            out.append(self._ev("response.output_text.done", loc + ',"content_index":0,"text":' + _dumps(text) + ',"logprobs":[]'))
            out.append(self._ev("response.content_part.done", loc + ',"content_index":0,"part":' + _dumps(part)))
            item = {**item, "status": "completed", "content": [part]}
        elif item["type"] == "reasoning":
            if cur["part"]:
                part = {"type": "summary_text", "text": text}
                out.append(self._ev("response.reasoning_summary_text.done", loc + ',"summary_index":0,"text":' + _dumps(text)))
                out.append(self._ev("response.reasoning_summary_part.done", loc + ',"summary_index":0,"part":' + _dumps(part)))
                item = {**item, "summary": [part]}
        elif item["type"] == "function_call":
            item = {**item, "status": "completed", "arguments": text}
            out.append(self._ev("response.function_call_arguments.done", loc + ',"arguments":' + _dumps(text)))
        elif item["type"] == "custom_tool_call":
            item = {**item, "status": "completed", "input": raw_input(text or "{}")}
            out.append(self._ev("response.custom_tool_call_input.done", loc + ',"input":' + _dumps(item["input"])))
        self._output.append(item)
        out.append(self._ev("response.output_item.done", '"output_index":' + str(cur["oi"]) + ',"item":' + _dumps(item)))
        return out

    def feed(self, ev: IREvent) -> list[bytes]:
        if self._closed:
            return []
        if isinstance(ev, MessageStart):
            if ev.usage is not None:
                ev.usage.merge_into(self._usage)
            return [] if self._started else self._start(ev.id)
        out = [] if self._started else self._start()
        cur = self._cur
        match ev:
            case TextDelta():
                if cur is None or cur["index"] != ev.index:
                    item = {"id": f"msg_{self._rid[5:]}_{ev.index}", "type": "message",
                            "status": "in_progress", "role": "assistant", "content": []}  # fmt: skip
                    out += self._open(ev.index, item)
                    part = '"part":{"type":"output_text","text":"","annotations":[]}'
                    out.append(self._ev("response.content_part.added", self._loc() + ',"content_index":0,' + part))
                self._cur["text"].append(ev.text)  # type: ignore[index]
                out.append(self._ev("response.output_text.delta", self._loc() + ',"content_index":0,"delta":'
                                    + _dumps(ev.text) + ',"logprobs":[]'))  # fmt: skip
            case ThinkingDelta():
                if cur is None or cur["index"] != ev.index:
                    item = {"id": f"rs_{self._rid[5:]}_{ev.index}", "type": "reasoning", "summary": []}
                    out += self._open(ev.index, item)
                cur = self._cur
                assert cur is not None
                if ev.text:
                    if not cur["part"]:
                        cur["part"] = True
                        out.append(self._ev("response.reasoning_summary_part.added", self._loc()
                                            + ',"summary_index":0,"part":{"type":"summary_text","text":""}'))  # fmt: skip
                    cur["text"].append(ev.text)
                    out.append(self._ev("response.reasoning_summary_text.delta", self._loc()
                                        + ',"summary_index":0,"delta":' + _dumps(ev.text)))  # fmt: skip
                if ev.signature:
                    fmt = ev.signature_format or FORMAT
                    sig = ev.signature if fmt == FORMAT else tag_signature(ev.signature, fmt)
                    cur["item"]["encrypted_content"] = sig
            case ToolCallStart():
                item = {"id": f"fc_{self._rid[5:]}_{ev.index}", "type": "function_call", "status": "in_progress",
                        "call_id": ev.id, "name": ev.name, "arguments": ""}  # fmt: skip
                if self._names:
                    item = restore_call(item, self._names)
                    if item["type"] == "custom_tool_call":
                        item["input"] = ""  # the raw text is whole only at the end: sent then
                out += self._open(ev.index, item)
            case ToolCallDelta():
                if cur is not None and cur["index"] == ev.index and ev.arguments:
                    cur["text"].append(ev.arguments)
                    if cur["item"]["type"] == "function_call":
                        out.append(self._ev("response.function_call_arguments.delta", self._loc()
                                            + ',"delta":' + _dumps(ev.arguments)))  # fmt: skip
            case RedactedThinkingBlock():
                item = {"id": f"rs_{self._rid[5:]}_{ev.index}", "type": "reasoning", "summary": [],
                        "encrypted_content": tag_signature(ev.data, REDACTED)}  # fmt: skip
                out += self._open(ev.index, item)
                out += self._close()
            case BlockStop():
                if cur is not None and cur["index"] == ev.index:
                    out += self._close()
            case UsageEvent():
                ev.usage.merge_into(self._usage)
            case Finish():
                out += self._close()
                self._finish = ev.reason
            case ErrorEvent():
                out += self.error(ev.message, ev.status)
        return out

    def finish(self) -> list[bytes]:
        if self._closed:
            return []
        out = [] if self._started else self._start()
        out += self._close()
        self._closed = True
        fin = self._finish or FinishReason.STOP
        usage = usage_from_ir(self._usage)
        if fin in (FinishReason.LENGTH, FinishReason.CONTENT_FILTER):
            body = self._response("incomplete", usage=usage, incomplete_details=incomplete_details(fin))
            out.append(self._ev("response.incomplete", body))
        else:
            out.append(self._ev("response.completed", self._response("completed", usage=usage)))
        return out

    def error(self, message: str, status: int = 500) -> list[bytes]:
        """An ``error`` event then ``response.failed`` (Codex reads the latter's message)."""
        if self._closed:
            return []
        out = [] if self._started else self._start()
        self._closed = True
        code = "rate_limit_exceeded" if status == 429 else "server_error"
        out.append(self._ev("error", '"code":' + _dumps(openai_error_type(status) if status < 500 else code)
                            + ',"message":' + _dumps(message) + ',"param":null'))  # fmt: skip
        out.append(self._ev("response.failed", self._response("failed", error={"code": code, "message": message})))
        return out
