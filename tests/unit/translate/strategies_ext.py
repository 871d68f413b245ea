"""Helpers for the Gemini / Cloud Code / Ollama / Kiro tests, on top of ``strategies``.

* ``ir_events(resp)``: the IR stream a well-behaved decoder would produce for ``resp``, so a
  response can be pushed through an encoder → bytes → Framer → decoder loop.
* ``stream_through(module, resp, cuts)``: that loop, with the byte stream cut at arbitrary
  offsets, merged back into an IRResponse.
* ``base64_only``: conversations without URL images (Ollama and Kiro take inline images only).
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from types import ModuleType
from typing import Any

from omniroute.translate.base import ResponseAccumulator
from omniroute.translate.ir import (
    BlockStop,
    Finish,
    ImagePart,
    IREvent,
    IRRequest,
    IRResponse,
    Message,
    MessageStart,
    RedactedThinkingBlock,
    RedactedThinkingPart,
    TextDelta,
    TextPart,
    ThinkingDelta,
    ThinkingPart,
    ToolCallDelta,
    ToolCallPart,
    ToolCallStart,
    UsageEvent,
    UsagePartial,
)


def ir_events(resp: IRResponse, split_text: int = 3) -> list[IREvent]:
    """IRResponse → IR stream events (text split into a few deltas, arguments in two)."""
    u = resp.usage
    events: list[IREvent] = [MessageStart(resp.id, resp.model)]
    for i, part in enumerate(resp.content):
        if isinstance(part, TextPart):
            step = max(1, len(part.text) // split_text)
            events += [
                TextDelta(i, part.text[k : k + step]) for k in range(0, len(part.text), step)
            ]
        elif isinstance(part, ThinkingPart):
            events.append(ThinkingDelta(i, part.text))
            if part.signature:
                events.append(ThinkingDelta(i, "", part.signature, part.signature_format))
        elif isinstance(part, RedactedThinkingPart):
            events.append(RedactedThinkingBlock(i, part.data))
        elif isinstance(part, ToolCallPart):
            half = len(part.arguments) // 2
            events += [
                ToolCallStart(i, part.id, part.name),
                ToolCallDelta(i, part.arguments[:half]),
                ToolCallDelta(i, part.arguments[half:]),
            ]
        events.append(BlockStop(i))
    events.append(Finish(resp.finish_reason))
    events.append(
        UsageEvent(
            UsagePartial(
                u.input_tokens,
                u.output_tokens,
                u.cached_input_tokens,
                u.cache_creation_tokens,
                u.reasoning_tokens,
            )
        )
    )
    return events


def encode_stream(module: ModuleType, resp: IRResponse) -> list[bytes]:
    enc = module.StreamEncoder(resp.model)
    out: list[bytes] = []
    for ev in ir_events(resp):
        out += enc.feed(ev)
    return out + enc.finish()


def decode_stream(
    module: ModuleType, data: bytes, cuts: list[int]
) -> tuple[list[IREvent], IRResponse]:
    """Feed ``data`` to the module's Framer cut at ``cuts``; decode; accumulate."""
    framer, decoder, acc = module.Framer(), module.StreamDecoder(), ResponseAccumulator()
    bounds = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    events: list[IREvent] = []
    parsed: list[dict[str, Any]] = []
    for a, b in itertools.pairwise(bounds):
        parsed += framer.feed(data[a:b])
    if hasattr(framer, "flush"):
        parsed += framer.flush()
    for obj in parsed:
        events += decoder.feed(obj)
    for ev in events:
        acc.feed(ev)
    return events, acc.result()


def stream_through(module: ModuleType, resp: IRResponse, cuts: list[int]) -> IRResponse:
    return decode_stream(module, b"".join(encode_stream(module, resp)), cuts)[1]


def base64_only(ir: IRRequest) -> IRRequest:
    """The same conversation with URL images replaced by inline ones."""

    def fix(part: Any) -> Any:
        if isinstance(part, ImagePart) and part.data is None:
            return ImagePart(data="iVBORw0KGgo=", media_type="image/png")
        return part

    return replace(ir, messages=[Message(m.role, [fix(p) for p in m.content]) for m in ir.messages])
