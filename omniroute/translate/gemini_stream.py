"""Gemini ``streamGenerateContent?alt=sse`` ↔ IR stream events.

Every SSE ``data:`` line is a complete ``GenerateContentResponse`` whose candidate parts are
*deltas*: text and thought text arrive in pieces, a ``functionCall`` arrives whole in one
part, ``finishReason`` and cumulative ``usageMetadata`` ride on the last chunk(s). A
mid-stream failure arrives as a Google error object ``{"error": {code, message, status}}``.
"""

from __future__ import annotations

import json
from typing import Any

from . import sse
from .base import parse_arguments
from .errors import error_body
from .gemini_wire import (
    finish_from_ir,
    finish_to_ir,
    own_signature,
    response_call_id,
    signature_from_client,
    usage_from_ir,
    usage_partial,
)
from .ir import (
    BlockStop,
    ErrorEvent,
    Finish,
    IREvent,
    MessageStart,
    TextDelta,
    ThinkingDelta,
    ToolCallDelta,
    ToolCallPart,
    ToolCallStart,
    UsageEvent,
)
from .stream_blocks import BlockNumberer, WholeCallEncoder

__all__ = ["Framer", "StreamDecoder", "StreamEncoder"]

# Gemini streams are plain SSE; the shared framer already turns ``data:`` lines into dicts.
Framer = sse.SSEFramer


class StreamDecoder:
    """Parsed Gemini stream chunks → IR events (one open block at a time)."""

    _error_format = "gemini"

    def __init__(self, model: str = "") -> None:
        self._model = model
        self._started = False
        self._done = False
        self._blocks = BlockNumberer()
        self._calls = 0
        self._id = ""

    def _unwrap(self, event: dict[str, Any]) -> dict[str, Any]:
        """The GenerateContentResponse inside an event (Cloud Code wraps it)."""
        return event

    def feed(self, event: dict[str, Any]) -> list[IREvent]:
        if self._done or event.get("type") == "[DONE]":
            return []
        if isinstance(event.get("error"), dict):
            err = event["error"]
            self._done = True
            return [ErrorEvent(err.get("message", "upstream error"), int(err.get("code") or 500))]
        if event.get("type") == "_raw":
            self._done = True
            return [ErrorEvent(f"unparseable upstream event: {event.get('data', '')[:200]}", 502)]
        chunk = self._unwrap(event)
        out: list[IREvent] = []
        if not self._started:
            self._started = True
            self._id = chunk.get("responseId", "")
            out.append(MessageStart(id=self._id, model=chunk.get("modelVersion") or self._model))
        candidates = chunk.get("candidates") or []
        cand = candidates[0] if candidates else {}
        for part in (cand.get("content") or {}).get("parts") or []:
            self._part(part, out)
        partial = usage_partial(chunk.get("usageMetadata"))
        if partial is not None:
            out.append(UsageEvent(partial))
        reason = cand.get("finishReason")
        blocked = (chunk.get("promptFeedback") or {}).get("blockReason")
        if reason or blocked:
            self._blocks.close(out)
            out.append(Finish(finish_to_ir(reason or "SAFETY", self._calls > 0)))
        return out

    def _part(self, part: dict[str, Any], out: list[IREvent]) -> None:
        sig, family = part.get("thoughtSignature"), None
        if sig:
            sig, family = signature_from_client(sig)
        if part.get("thought"):
            index = self._blocks.continue_block("thinking", out)
            out.append(ThinkingDelta(index, part.get("text", ""), sig, family))
            return
        if sig:
            # Signature on a normal part: a signature-only thinking block placed before it
            # (mirrors gemini_wire.parts_to_ir so streamed and non-streamed agree).
            index = self._blocks.whole_block(out)
            out += [ThinkingDelta(index, "", sig, family), BlockStop(index)]
        if "text" in part:
            if part["text"]:
                index = self._blocks.continue_block("text", out)
                out.append(TextDelta(index, part["text"]))
        elif "functionCall" in part:
            call = part["functionCall"]
            index = self._blocks.whole_block(out)
            seed = self._id or json.dumps(call, sort_keys=True)
            call_id = call.get("id") or response_call_id(seed, self._calls)
            self._calls += 1
            args = json.dumps(call.get("args") or {}, ensure_ascii=False, separators=(",", ":"))
            out += [
                ToolCallStart(index, call_id, call.get("name", "")),
                ToolCallDelta(index, args),
                BlockStop(index),
            ]
        else:
            kinds = ",".join(sorted(part)) or "empty part"
            out.append(ErrorEvent(f"unsupported Gemini output part ({kinds})", 502))
            self._done = True


class StreamEncoder(WholeCallEncoder):
    """IR events → Gemini SSE chunks (``data: {GenerateContentResponse}``)."""

    _error_format = "gemini"

    def __init__(self, model: str, response_id: str = "") -> None:
        super().__init__(model)
        self._id = response_id
        self._pending_sig: str | None = None
        self._thought_text: set[int] = set()  # thinking blocks that carried text

    def _wrap(self, chunk: dict[str, Any]) -> dict[str, Any]:
        return chunk

    def _chunk(self, parts: list[dict[str, Any]], **cand: Any) -> bytes:
        if parts and self._pending_sig is not None:
            parts[0]["thoughtSignature"] = self._pending_sig
            self._pending_sig = None
        usage = cand.pop("_usage", None)
        body: dict[str, Any] = {
            "candidates": [{"content": {"role": "model", "parts": parts}, "index": 0, **cand}],
            "modelVersion": self._model,
        }
        if self._id:
            body["responseId"] = self._id
        if usage is not None:
            body["usageMetadata"] = usage
        return sse.encode(self._wrap(body))

    def _start(self, ev: MessageStart) -> None:
        self._id = self._id or ev.id
        super()._start(ev)

    def _text_chunk(self, text: str) -> bytes:
        return self._chunk([{"text": text}])

    def _thinking_chunks(self, ev: ThinkingDelta) -> list[bytes]:
        if ev.signature:
            # Going to a Gemini client: foreign signatures travel base64-wrapped.
            sig = own_signature(ev.signature, ev.signature_format, to_client=True)
            ev = ThinkingDelta(ev.index, ev.text, sig)
        if ev.text:
            self._thought_text.add(ev.index)
            part: dict[str, Any] = {"text": ev.text, "thought": True}
            if ev.signature:
                part["thoughtSignature"] = ev.signature
            return [self._chunk([part])]
        if ev.signature and ev.index in self._thought_text:
            return [self._chunk([{"text": "", "thought": True, "thoughtSignature": ev.signature}])]
        if ev.signature:
            self._pending_sig = ev.signature  # belongs to the next part
        return []

    def _tool_call_chunk(self, call: ToolCallPart) -> bytes:
        args = parse_arguments(call.arguments)  # invalid JSON is kept wrapped, not dropped
        return self._chunk([{"functionCall": {"id": call.id, "name": call.name, "args": args}}])

    def _last_chunk(self) -> bytes:
        usage = usage_from_ir(self._usage)
        return self._chunk([{"text": ""}], finishReason=finish_from_ir(self._reason), _usage=usage)

    def _error_chunk(self, message: str, status: int) -> bytes:
        return sse.encode(error_body(self._error_format, status, message))
