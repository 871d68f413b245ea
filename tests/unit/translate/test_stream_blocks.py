"""Block numbering and whole-tool-call buffering shared by the Gemini and Ollama streams:
the encoders send a call once it is complete, whichever event completes it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from omniroute.translate import gemini, ollama
from omniroute.translate.ir import (
    BlockStop,
    IREvent,
    MessageStart,
    TextDelta,
    ToolCallDelta,
    ToolCallStart,
)
from omniroute.translate.stream_blocks import BlockNumberer


def _gemini_items(data: bytes) -> list[tuple[str, Any]]:
    """("call", (name, args)) / ("text", text) per part of each Gemini SSE chunk."""
    items: list[tuple[str, Any]] = []
    for frame in (f for f in data.split(b"\n\n") if f):
        for part in json.loads(frame[len(b"data: ") :])["candidates"][0]["content"]["parts"]:
            if "functionCall" in part:
                items.append(("call", (part["functionCall"]["name"], part["functionCall"]["args"])))
            elif part.get("text"):
                items.append(("text", part["text"]))
    return items


def _ollama_items(data: bytes) -> list[tuple[str, Any]]:
    items: list[tuple[str, Any]] = []
    for line in data.splitlines():
        msg = json.loads(line)["message"]
        for call in msg.get("tool_calls") or []:
            items.append(("call", (call["function"]["name"], call["function"]["arguments"])))
        if msg["content"]:
            items.append(("text", msg["content"]))
    return items


ENCODERS = [
    pytest.param(lambda: gemini.StreamEncoder("gemini-2.5-pro"), _gemini_items, id="gemini"),
    pytest.param(lambda: ollama.StreamEncoder("qwen3"), _ollama_items, id="ollama"),
]


def _encode(make_encoder: Any, events: list[IREvent]) -> bytes:
    enc = make_encoder()
    return b"".join([b for ev in events for b in enc.feed(ev)] + enc.finish())


@pytest.mark.parametrize(("make_encoder", "items"), ENCODERS)
def test_call_is_sent_whole_when_its_block_stops(make_encoder: Any, items: Any) -> None:
    events: list[IREvent] = [
        MessageStart("m1", "x"),
        ToolCallStart(0, "call_1", "read"),
        ToolCallDelta(0, '{"pa'),
        ToolCallDelta(1, '"stray"'),  # another block's fragment is not mixed in
        ToolCallDelta(0, 'th": "a.py"}'),
        BlockStop(0),
        TextDelta(1, "done"),
    ]
    assert items(_encode(make_encoder, events)) == [
        ("call", ("read", {"path": "a.py"})),
        ("text", "done"),
    ]


@pytest.mark.parametrize(("make_encoder", "items"), ENCODERS)
def test_text_or_next_call_completes_an_unstopped_call(make_encoder: Any, items: Any) -> None:
    events: list[IREvent] = [
        ToolCallStart(0, "call_1", "first"),
        ToolCallDelta(0, '{"n": 1}'),
        ToolCallStart(1, "call_2", "second"),
        ToolCallDelta(1, '{"n": 2}'),
        TextDelta(2, "between"),
        ToolCallStart(3, "call_3", "last"),
        ToolCallDelta(3, "not json"),  # kept wrapped rather than dropped
    ]
    assert items(_encode(make_encoder, events)) == [
        ("call", ("first", {"n": 1})),
        ("call", ("second", {"n": 2})),
        ("text", "between"),
        ("call", ("last", {"_raw_arguments": "not json"})),  # sent by finish()
    ]


def test_block_numberer_continues_open_kind_and_gives_whole_blocks_their_own_index() -> None:
    blocks, out = BlockNumberer(), []
    assert blocks.continue_block("thinking", out) == 0
    assert blocks.continue_block("thinking", out) == 0
    assert blocks.continue_block("text", out) == 1
    assert out == [BlockStop(0)]
    assert blocks.whole_block(out) == 2
    assert out == [BlockStop(0), BlockStop(1)]
    assert blocks.continue_block("text", out) == 3
    blocks.close(out)
    blocks.close(out)  # closing twice stops the block once
    assert out == [BlockStop(0), BlockStop(1), BlockStop(3)]
