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
    TextDelta,
    ThinkingDelta,
    ToolCallDelta,
    ToolCallPart,
    ToolCallStart,
    UsageEvent,
    UsagePartial,
)
from .stream_blocks import BlockNumberer, WholeCallEncoder

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
        self._blocks = BlockNumberer()
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
            index = self._blocks.continue_block("thinking", out)
            out.append(ThinkingDelta(index, msg["thinking"]))
        if msg.get("content"):
            index = self._blocks.continue_block("text", out)
            out.append(TextDelta(index, msg["content"]))
        for call in msg.get("tool_calls") or []:
            index = self._blocks.whole_block(out)
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
                ToolCallStart(index, call_id, fn.get("name", "")),
                ToolCallDelta(index, args_s),
                BlockStop(index),
            ]
        if event.get("done"):
            self._done = True
            self._blocks.close(out)
            usage = UsagePartial(event.get("prompt_eval_count"), event.get("eval_count"))
            if usage.input_tokens is not None or usage.output_tokens is not None:
                out.append(UsageEvent(usage))
            if event.get("done_reason") == "length":
                reason = FinishReason.LENGTH
            else:
                reason = FinishReason.TOOL_CALLS if self._calls else FinishReason.STOP
            out.append(Finish(reason))
        return out


class StreamEncoder(WholeCallEncoder):
    """IR events → Ollama NDJSON lines."""

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

    def _text_chunk(self, text: str) -> bytes:
        return self._line({"content": text})

    def _thinking_chunks(self, ev: ThinkingDelta) -> list[bytes]:
        # A signature has no Ollama field and no Ollama model to check it.
        return [self._line({"thinking": ev.text})] if ev.text else []

    def _tool_call_chunk(self, call: ToolCallPart) -> bytes:
        function = {"name": call.name, "arguments": parse_arguments(call.arguments)}
        return self._line({"tool_calls": [{"function": function}]})

    def _last_chunk(self) -> bytes:
        reason = "length" if self._reason is FinishReason.LENGTH else "stop"
        return self._line(
            {},
            done=True,
            done_reason=reason,
            prompt_eval_count=self._usage.input_tokens,
            eval_count=self._usage.output_tokens,
        )

    def _error_chunk(self, message: str, status: int) -> bytes:
        return json.dumps({"error": message}, ensure_ascii=False).encode() + b"\n"
