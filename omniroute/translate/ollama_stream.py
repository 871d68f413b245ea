"""Ollama ``/api/chat`` streaming ↔ IR: newline-delimited JSON, one chat response per line.

Each line is ``{model, created_at, message: {role, content, thinking?, tool_calls?}, done}``
with content/thinking as deltas and tool calls whole; the last line has ``done: true``,
``done_reason`` and the counters (``prompt_eval_count``, ``eval_count``). Errors arrive as
``{"error": "..."}`` lines (docs.ollama.com/api/chat, "Streaming responses").
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, datetime
from typing import Any

from .base import parse_arguments
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

__all__ = ["Framer", "StreamDecoder", "StreamEncoder", "call_id_for_response"]


def call_id_for_response(created_at: str, k: int) -> str:
    """Deterministic id for the k-th tool call of a response (Ollama sends none)."""
    return "call_" + hashlib.sha256(f"{created_at}:{k}".encode()).hexdigest()[:16]


class Framer:
    """NDJSON bytes → dicts; a line split across chunks is held until its newline."""

    def __init__(self) -> None:
        self._buf = b""

    def feed(self, chunk: bytes) -> list[dict[str, Any]]:
        self._buf += chunk
        *lines, self._buf = self._buf.split(b"\n")
        return [self._parse(line) for line in lines if line.strip()]

    def flush(self) -> list[dict[str, Any]]:
        line, self._buf = self._buf, b""
        return [self._parse(line)] if line.strip() else []

    @staticmethod
    def _parse(line: bytes) -> dict[str, Any]:
        try:
            obj = json.loads(line)
        except ValueError:
            obj = None
        if not isinstance(obj, dict):
            return {"type": "_raw", "data": line.decode("utf-8", "replace")}
        return obj


class StreamDecoder:
    def __init__(self, model: str = "") -> None:
        self._model = model
        self._started = False
        self._done = False
        self._index = -1
        self._open: str | None = None
        self._calls = 0

    def feed(self, event: dict[str, Any]) -> list[IREvent]:
        if self._done:
            return []
        if "error" in event:
            self._done = True
            return [ErrorEvent(str(event["error"]), 500)]
        if event.get("type") == "_raw":
            self._done = True
            return [ErrorEvent(f"unparseable upstream line: {event.get('data', '')[:200]}", 502)]
        out: list[IREvent] = []
        created_at = event.get("created_at", "")
        if not self._started:
            self._started = True
            digest = hashlib.sha256(f"{event.get('model')}:{created_at}".encode()).hexdigest()
            out.append(
                MessageStart(id="ollama-" + digest[:16], model=event.get("model") or self._model)
            )
        msg = event.get("message") or {}
        if msg.get("thinking"):
            self._ensure("thinking", out)
            out.append(ThinkingDelta(self._index, msg["thinking"]))
        if msg.get("content"):
            self._ensure("text", out)
            out.append(TextDelta(self._index, msg["content"]))
        for call in msg.get("tool_calls") or []:
            self._close(out)
            self._index += 1
            fn = call.get("function", {})
            args = fn.get("arguments")
            args_s = (
                args
                if isinstance(args, str)
                else json.dumps(args or {}, ensure_ascii=False, separators=(",", ":"))
            )
            call_id = call.get("id") or call_id_for_response(created_at, self._calls)
            self._calls += 1
            out += [
                ToolCallStart(self._index, call_id, fn.get("name", "")),
                ToolCallDelta(self._index, args_s),
                BlockStop(self._index),
            ]
        if event.get("done"):
            self._done = True
            self._close(out)
            usage = UsagePartial(event.get("prompt_eval_count"), event.get("eval_count"))
            if usage.input_tokens is not None or usage.output_tokens is not None:
                out.append(UsageEvent(usage))
            if event.get("done_reason") == "length":
                reason = FinishReason.LENGTH
            else:
                reason = FinishReason.TOOL_CALLS if self._calls else FinishReason.STOP
            out.append(Finish(reason))
        return out

    def _ensure(self, kind: str, out: list[IREvent]) -> None:
        if self._open != kind:
            self._close(out)
            self._index += 1
            self._open = kind

    def _close(self, out: list[IREvent]) -> None:
        if self._open is not None:
            out.append(BlockStop(self._index))
            self._open = None


class StreamEncoder:
    """IR events → Ollama NDJSON lines."""

    def __init__(self, model: str) -> None:
        self._model = model
        self._usage = Usage()
        self._reason = FinishReason.STOP
        self._tool: list[Any] | None = None
        self._done = False

    def _line(self, message: dict[str, Any], **extra: Any) -> bytes:
        obj = {
            "model": self._model,
            "created_at": datetime.fromtimestamp(time.time(), UTC)
            .isoformat()
            .replace("+00:00", "Z"),
            "message": {"role": "assistant", "content": "", **message},
            "done": False,
            **extra,
        }
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"

    def feed(self, ev: IREvent) -> list[bytes]:
        if self._done:
            return []
        out: list[bytes] = []
        match ev:
            case MessageStart():
                self._model = self._model or ev.model
                if ev.usage is not None:
                    ev.usage.merge_into(self._usage)
            case TextDelta():
                self._flush_tool(out)
                if ev.text:
                    out.append(self._line({"content": ev.text}))
            case ThinkingDelta():
                self._flush_tool(out)
                if ev.text:  # a signature has no Ollama field and no Ollama model to check it
                    out.append(self._line({"thinking": ev.text}))
            case RedactedThinkingBlock():
                pass  # opaque to everyone but its issuer
            case ToolCallStart():
                self._flush_tool(out)
                self._tool = [ev.index, ev.name, []]
            case ToolCallDelta():
                if self._tool is not None and self._tool[0] == ev.index:
                    self._tool[2].append(ev.arguments)
            case BlockStop():
                if self._tool is not None and self._tool[0] == ev.index:
                    self._flush_tool(out)
            case UsageEvent():
                ev.usage.merge_into(self._usage)
            case Finish():
                self._reason = ev.reason
            case ErrorEvent():
                out += self.error(ev.message, ev.status)
        return out

    def _flush_tool(self, out: list[bytes]) -> None:
        if self._tool is None:
            return
        _, name, frags = self._tool
        self._tool = None
        call = {"function": {"name": name, "arguments": parse_arguments("".join(frags))}}
        out.append(self._line({"tool_calls": [call]}))

    def finish(self) -> list[bytes]:
        if self._done:
            return []
        self._done = True
        out: list[bytes] = []
        self._flush_tool(out)
        reason = "length" if self._reason is FinishReason.LENGTH else "stop"
        out.append(
            self._line(
                {},
                done=True,
                done_reason=reason,
                prompt_eval_count=self._usage.input_tokens,
                eval_count=self._usage.output_tokens,
            )
        )
        return out

    def error(self, message: str, status: int) -> list[bytes]:
        if self._done:
            return []
        self._done = True
        return [json.dumps({"error": message}, ensure_ascii=False).encode() + b"\n"]
