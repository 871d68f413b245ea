"""Ollama /api/chat: golden tests from the documented examples (docs.ollama.com/api/chat:
"Chat request (with tools)", "Chat request (streaming)", thinking) in both directions."""

from __future__ import annotations

import json

import pytest

from omniroute.translate import ollama
from omniroute.translate.errors import TranslationError
from omniroute.translate.ir import (
    ErrorEvent,
    Finish,
    FinishReason,
    ImagePart,
    IRRequest,
    IRResponse,
    Message,
    Reasoning,
    ResponseFormat,
    TextPart,
    ThinkingPart,
    Tool,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
    Usage,
)

from .strategies_ext import decode_stream

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_current_weather",
        "description": "Get the current weather for a location",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string", "description": "e.g. San Francisco, CA"},
                "format": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["location", "format"],
        },
    },
}
PNG = "iVBORw0KGgoAAAANSUhEUg=="

REQUEST = {
    "model": "llama3.2",
    "messages": [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "What is the weather today in Paris?", "images": [PNG]},
        {
            "role": "assistant",
            "content": "",
            "thinking": "I should call the tool.",
            "tool_calls": [
                {
                    "function": {
                        "name": "get_current_weather",
                        "arguments": {"format": "celsius", "location": "Paris, FR"},
                    }
                }
            ],
        },
        {"role": "tool", "content": "22 degrees", "tool_name": "get_current_weather"},
    ],
    "tools": [WEATHER],
    "format": "json",
    "options": {
        "temperature": 0.1,
        "top_k": 20,
        "num_predict": 128,
        "stop": ["\n\n"],
        "num_ctx": 8192,
    },
    "think": True,
    "keep_alive": "5m",
    "stream": False,
}


def test_request_to_ir_golden() -> None:
    ir = ollama.request_to_ir(REQUEST)
    assert ir.system == [TextPart("You are terse.")]
    user, assistant, result = ir.messages
    assert user.content == [
        TextPart("What is the weather today in Paris?"),
        ImagePart(data=PNG, media_type="image/png"),
    ]
    assert assistant.content == [
        ThinkingPart("I should call the tool."),
        ToolCallPart(
            "call_2_0", "get_current_weather", '{"format":"celsius","location":"Paris, FR"}'
        ),
    ]
    assert result == Message(
        "user", [ToolResultPart("call_2_0", [TextPart("22 degrees")], name="get_current_weather")]
    )
    assert ir.tools == [
        Tool(
            "get_current_weather",
            "Get the current weather for a location",
            WEATHER["function"]["parameters"],
        )
    ]
    s = ir.sampling
    assert (s.temperature, s.top_k, s.max_tokens, s.stop) == (0.1, 20, 128, ["\n\n"])
    assert ir.response_format == ResponseFormat("json_object")
    assert ir.reasoning == Reasoning(enabled=True)
    assert ir.stream is False
    assert ir.metadata == {"num_ctx": 8192, "keep_alive": "5m"} and ir.metadata_format == "ollama"


def test_request_round_trip_is_identity_for_ollama() -> None:
    assert ollama.request_from_ir(ollama.request_to_ir(REQUEST)) == REQUEST


def test_stream_defaults_to_true() -> None:
    assert ollama.request_to_ir({"model": "m", "messages": []}).stream is True


def test_tool_results_pair_by_name_not_order() -> None:
    body = {
        "model": "m",
        "messages": [
            {"role": "user", "content": "go"},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {"function": {"name": "a", "arguments": {}}},
                    {"function": {"name": "b", "arguments": {}}},
                ],
            },
            {"role": "tool", "content": "B", "tool_name": "b"},
            {"role": "tool", "content": "A", "tool_name": "a"},
        ],
    }
    results = ollama.request_to_ir(body).messages[2].content
    assert [(r.tool_call_id, r.content[0].text) for r in results] == [
        ("call_1_1", "B"),
        ("call_1_0", "A"),
    ]


def test_request_from_ir_features_and_refusals() -> None:
    ir = IRRequest(
        model="qwen3",
        messages=[
            Message("user", [TextPart("hi "), ImagePart(url="data:image/jpeg;base64,/9j/AA==")]),
            Message("assistant", [ToolCallPart("toolu_1", "f", '{"x":1}')]),
            Message("user", [ToolResultPart("toolu_1", [TextPart("done")]), TextPart("thanks")]),
        ],
        tools=[Tool("f", None, {"type": "object"})],
        tool_choice=ToolChoice("none"),
        response_format=ResponseFormat("json_schema", schema={"type": "object", "properties": {}}),
        reasoning=Reasoning(enabled=True, effort="high"),
    )
    body = ollama.request_from_ir(ir)
    assert body["messages"] == [
        {"role": "user", "content": "hi ", "images": ["/9j/AA=="]},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"function": {"name": "f", "arguments": {"x": 1}}}],
        },
        {"role": "tool", "content": "done"},
        {"role": "user", "content": "thanks"},
    ]
    assert "tools" not in body  # tool_choice none = tools not offered
    assert body["format"] == {"type": "object", "properties": {}} and body["think"] == "high"
    with pytest.raises(TranslationError) as exc:
        ollama.request_from_ir(
            IRRequest(messages=[Message("user", [ImagePart(url="https://x/y.png")])])
        )
    assert exc.value.field == "messages[0].content[0]"
    with pytest.raises(TranslationError, match="tool_choice"):
        ollama.request_from_ir(IRRequest(tools=ir.tools, tool_choice=ToolChoice("required")))


RESPONSE = {
    "model": "llama3.2",
    "created_at": "2024-07-22T20:33:28.123648Z",
    "message": {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {
                "function": {
                    "name": "get_current_weather",
                    "arguments": {"format": "celsius", "location": "Paris, FR"},
                }
            }
        ],
    },
    "done_reason": "stop",
    "done": True,
    "total_duration": 885095291,
    "load_duration": 3753500,
    "prompt_eval_count": 122,
    "prompt_eval_duration": 328493000,
    "eval_count": 33,
    "eval_duration": 552222000,
}


def test_response_to_ir_golden() -> None:
    r = ollama.response_to_ir(RESPONSE)
    (call,) = r.content
    assert (call.name, json.loads(call.arguments)) == (
        "get_current_weather",
        {"format": "celsius", "location": "Paris, FR"},
    )
    assert call.id == ollama.response_to_ir(RESPONSE).content[0].id  # deterministic
    assert r.finish_reason is FinishReason.TOOL_CALLS
    assert r.usage == Usage(input_tokens=122, output_tokens=33)
    assert r.created == 1721680408
    assert (
        ollama.response_to_ir(
            {**RESPONSE, "done_reason": "length", "message": {"content": "x"}}
        ).finish_reason
        is FinishReason.LENGTH
    )


def test_response_from_ir_golden() -> None:
    ir = IRResponse(
        id="x",
        model="llama3.2",
        created=1721680408,
        content=[ThinkingPart("hmm", "sig", "anthropic"), TextPart("Paris: 22C")],
        usage=Usage(10, 4, cached_input_tokens=3),
        finish_reason=FinishReason.LENGTH,
    )
    assert ollama.response_from_ir(ir) == {
        "model": "llama3.2",
        "created_at": "2024-07-22T20:33:28Z",
        "message": {"role": "assistant", "content": "Paris: 22C", "thinking": "hmm"},
        "done": True,
        "done_reason": "length",
        "prompt_eval_count": 10,
        "eval_count": 4,
    }


STREAM = b"".join(
    json.dumps(line).encode() + b"\n"
    for line in [
        {
            "model": "qwen3",
            "created_at": "2025-05-01T10:00:00Z",
            "message": {"role": "assistant", "content": "", "thinking": "Let me"},
            "done": False,
        },
        {
            "model": "qwen3",
            "created_at": "2025-05-01T10:00:01Z",
            "message": {"role": "assistant", "content": "", "thinking": " think."},
            "done": False,
        },
        {
            "model": "qwen3",
            "created_at": "2025-05-01T10:00:02Z",
            "message": {"role": "assistant", "content": "The", "images": None},
            "done": False,
        },
        {
            "model": "qwen3",
            "created_at": "2025-05-01T10:00:03Z",
            "message": {"role": "assistant", "content": " sky"},
            "done": False,
        },
        {
            "model": "qwen3",
            "created_at": "2025-05-01T10:00:04Z",
            "message": {
                "role": "assistant",
                "content": "",
                "tool_calls": [{"function": {"name": "lookup", "arguments": {"q": "sky"}}}],
            },
            "done": False,
        },
        {
            "model": "qwen3",
            "created_at": "2025-05-01T10:00:05Z",
            "message": {"role": "assistant", "content": ""},
            "done": True,
            "done_reason": "stop",
            "prompt_eval_count": 26,
            "eval_count": 282,
        },
    ]
)


def test_stream_decoder_golden_every_split() -> None:
    baseline, merged = decode_stream(ollama, STREAM, [])
    for cut in range(len(STREAM)):
        assert decode_stream(ollama, STREAM, [cut])[0] == baseline
    assert [type(e).__name__ for e in baseline] == [
        "MessageStart",
        "ThinkingDelta",
        "ThinkingDelta",
        "BlockStop",
        "TextDelta",
        "TextDelta",
        "BlockStop",
        "ToolCallStart",
        "ToolCallDelta",
        "BlockStop",
        "UsageEvent",
        "Finish",
    ]
    assert baseline[-1] == Finish(FinishReason.TOOL_CALLS)
    assert merged.content[:2] == [ThinkingPart("Let me think."), TextPart("The sky")]
    assert merged.usage == Usage(26, 282)


def test_stream_encoder_lines() -> None:
    events, _ = decode_stream(ollama, STREAM, [])
    enc = ollama.StreamEncoder("qwen3")
    lines = [json.loads(b) for e in events for b in enc.feed(e)] + [
        json.loads(b) for b in enc.finish()
    ]
    assert [ln["message"].get("thinking") for ln in lines[:2]] == ["Let me", " think."]
    assert lines[4]["message"]["tool_calls"] == [
        {"function": {"name": "lookup", "arguments": {"q": "sky"}}}
    ]
    last = lines[-1]
    assert (last["done"], last["done_reason"], last["prompt_eval_count"], last["eval_count"]) == (
        True,
        "stop",
        26,
        282,
    )
    assert all(not ln["done"] for ln in lines[:-1])


def test_stream_errors() -> None:
    dec = ollama.StreamDecoder()
    assert dec.feed({"error": "model 'x' not found"}) == [ErrorEvent("model 'x' not found", 500)]
    enc = ollama.StreamEncoder("m")
    assert enc.feed(ErrorEvent("boom", 502)) == [b'{"error": "boom"}\n']
    assert enc.finish() == []
    framer = ollama.Framer()
    assert framer.feed(b"not json\n") == [{"type": "_raw", "data": "not json"}]
