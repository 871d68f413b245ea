"""Gemini / Cloud Code streams (``streamGenerateContent?alt=sse``): golden decode of an
upstream stream at every chunking, encoder output parsed chunk by chunk by the google-genai
SDK, mid-stream errors in Google's error shape."""

from __future__ import annotations

import json
from typing import Any

import pytest
from google.genai import types as gt

from omniroute.translate import gemini, gemini_cloudcode
from omniroute.translate.ir import ErrorEvent, Finish, FinishReason, Usage

from .strategies_ext import decode_stream, encode_stream
from .test_gemini import IR_ANSWER


@pytest.mark.parametrize("module", [gemini, gemini_cloudcode])
def test_stream_encoder_chunks_parsed_by_sdk(module) -> None:
    data = b"".join(encode_stream(module, IR_ANSWER))
    frames = [json.loads(f[len(b"data: ") :]) for f in data.split(b"\n\n") if f]
    texts, calls, usage = [], [], None
    for frame in frames:
        chunk = frame["response"] if module is gemini_cloudcode else frame
        parsed = gt.GenerateContentResponse.model_validate(chunk)
        for part in parsed.candidates[0].content.parts or []:
            if part.text and not part.thought:
                texts.append(part.text)
        calls += [(c.id, c.name, c.args) for c in parsed.function_calls or []]
        usage = parsed.usage_metadata or usage
    assert "".join(texts) == "Let me check."
    assert calls == [("toolu_42", "find_theaters", {"location": "Mountain View, CA"})]
    assert usage.prompt_token_count == 100 and usage.thoughts_token_count == 15
    assert frames[-1]["response" if module is gemini_cloudcode else "candidates"]
    # and our own decoder reads it back at any chunking
    _, back = decode_stream(module, data, [1, 50, 51, 200])
    assert back.content == IR_ANSWER.content and back.usage == IR_ANSWER.usage


_UPSTREAM_CHUNKS: list[dict[str, Any]] = [
    {
        "candidates": [
            {"content": {"role": "model", "parts": [{"text": "Plan: search", "thought": True}]}}
        ],
        "usageMetadata": {"promptTokenCount": 9, "totalTokenCount": 9},
        "modelVersion": "gemini-2.5-pro",
        "responseId": "s1",
    },
    {
        "candidates": [{"content": {"role": "model", "parts": [{"text": "Sure"}]}}],
        "responseId": "s1",
    },
    {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [
                        {
                            "functionCall": {
                                "name": "find_theaters",
                                "args": {"location": "Mountain View, CA"},
                            },
                            "thoughtSignature": "c2ln",
                        }
                    ],
                },
                "finishReason": "STOP",
            }
        ],
        "usageMetadata": {
            "promptTokenCount": 9,
            "candidatesTokenCount": 6,
            "thoughtsTokenCount": 4,
            "totalTokenCount": 19,
        },
        "responseId": "s1",
    },
]
# CRLF line ends, as Google's front ends send them.
UPSTREAM_SSE = b"".join(b"data: " + json.dumps(c).encode() + b"\r\n\r\n" for c in _UPSTREAM_CHUNKS)


def test_stream_decoder_golden_every_split() -> None:
    baseline, merged = decode_stream(gemini, UPSTREAM_SSE, [])
    for cut in range(0, len(UPSTREAM_SSE), 13):
        assert decode_stream(gemini, UPSTREAM_SSE, [cut, cut + 5])[0] == baseline
    assert [type(e).__name__ for e in baseline] == [
        "MessageStart",
        "ThinkingDelta",
        "UsageEvent",
        "BlockStop",
        "TextDelta",
        "BlockStop",
        "ThinkingDelta",
        "BlockStop",
        "ToolCallStart",
        "ToolCallDelta",
        "BlockStop",
        "UsageEvent",
        "Finish",
    ]
    assert baseline[-1] == Finish(FinishReason.TOOL_CALLS)
    assert merged.usage == Usage(input_tokens=9, output_tokens=10, reasoning_tokens=4)
    call = merged.content[-1]
    assert (call.name, json.loads(call.arguments)) == (
        "find_theaters",
        {"location": "Mountain View, CA"},
    )
    # Gemini → Gemini keeps the signature on the function call.
    enc = gemini.StreamEncoder("gemini-2.5-pro")
    out = b"".join(b for e in baseline for b in enc.feed(e)) + b"".join(enc.finish())
    fc_frame = next(json.loads(f[6:]) for f in out.split(b"\n\n") if b"functionCall" in f)
    assert fc_frame["candidates"][0]["content"]["parts"][0]["thoughtSignature"] == "c2ln"


def test_stream_errors() -> None:
    d = gemini.StreamDecoder()
    err = d.feed(
        {"error": {"code": 429, "message": "Resource exhausted", "status": "RESOURCE_EXHAUSTED"}}
    )
    assert err == [ErrorEvent("Resource exhausted", 429)]
    enc = gemini_cloudcode.StreamEncoder("m")
    (frame,) = enc.feed(ErrorEvent("upstream died", 503))
    assert json.loads(frame[6:]) == {
        "error": {"code": 503, "message": "upstream died", "status": "UNAVAILABLE"}
    }
    assert enc.finish() == []
