"""Golden tests: OpenAI Chat Completions ↔ IR ↔ the other formats (examples after OpenAI's
function-calling and vision docs)."""

from __future__ import annotations

import json

import pytest

from omniroute.translate import (
    StreamTranslator,
    TranslationError,
    translate_request,
    translate_response,
)
from omniroute.translate import openai_chat as oc
from omniroute.translate.ir import FinishReason, ImagePart, TextPart, ToolResultPart

# Multi-turn with parallel tool calls, images (url + base64), tool results.
CHAT = {
    "model": "gpt-4o",
    "messages": [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": [
            {"type": "text", "text": "What's the weather like in Paris and Bogotá? Also describe this."},
            {"type": "image_url", "image_url": {"url": "https://upload.wikimedia.org/a.jpg", "detail": "high"}},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_12345xyz", "type": "function", "function": {"name": "get_weather", "arguments": "{\"location\":\"Paris, France\"}"}},
            {"id": "call_67890abc", "type": "function", "function": {"name": "get_weather", "arguments": "{\"location\":\"Bogotá, Colombia\"}"}}]},
        {"role": "tool", "tool_call_id": "call_12345xyz", "content": "15°C"},
        {"role": "tool", "tool_call_id": "call_67890abc", "content": "18°C"},
        {"role": "assistant", "content": "Paris is 15°C, Bogotá 18°C."},
        {"role": "user", "content": "Thanks!"},
    ],
    "tools": [{"type": "function", "function": {
        "name": "get_weather", "description": "Get current temperature for a given location.",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"],
                       "additionalProperties": False}, "strict": True}}],
    "tool_choice": "required",
    "temperature": 0.2,
    "max_tokens": 500,
    "stop": "\n\n\n",
    "user": "user-1234",
    "store": True,
}  # fmt: skip


def test_chat_to_ir() -> None:
    ir = oc.request_to_ir(CHAT)
    assert [p.text for p in ir.system] == ["You are a helpful assistant."]
    assert [m.role for m in ir.messages] == ["user", "assistant", "user", "assistant", "user"]
    imgs = [p for p in ir.messages[0].content if isinstance(p, ImagePart)]
    assert imgs[0].url == "https://upload.wikimedia.org/a.jpg" and imgs[0].detail == "high"
    assert imgs[1].data == "iVBORw0KGgo=" and imgs[1].media_type == "image/png"
    results = ir.messages[2].content
    assert all(isinstance(r, ToolResultPart) for r in results)  # consecutive tool messages merged
    assert [r.tool_call_id for r in results] == ["call_12345xyz", "call_67890abc"]  # type: ignore[union-attr]
    assert ir.sampling.stop == ["\n\n\n"] and ir.tool_choice.mode == "required"
    assert ir.metadata == {"user": "user-1234", "store": True}


def test_chat_to_anthropic() -> None:
    out = translate_request("openai-chat", "anthropic", CHAT)
    assert out["system"] == "You are a helpful assistant."
    assert out["messages"][0]["content"][1] == {"type": "image", "source": {"type": "url", "url": "https://upload.wikimedia.org/a.jpg"}}
    assert out["messages"][0]["content"][2]["source"] == {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}
    assert [b["id"] for b in out["messages"][1]["content"]] == ["call_12345xyz", "call_67890abc"]
    assert out["messages"][1]["content"][1]["input"] == {"location": "Bogotá, Colombia"}
    assert out["messages"][2]["content"] == [
        {"type": "tool_result", "tool_use_id": "call_12345xyz", "content": [{"type": "text", "text": "15°C"}]},
        {"type": "tool_result", "tool_use_id": "call_67890abc", "content": [{"type": "text", "text": "18°C"}]},
    ]
    assert out["messages"][3] == {"role": "assistant", "content": "Paris is 15°C, Bogotá 18°C."}
    assert out["tool_choice"] == {"type": "any"}
    assert out["tools"][0]["input_schema"]["additionalProperties"] is False
    assert out["max_tokens"] == 500 and out["stop_sequences"] == ["\n\n\n"] and out["temperature"] == 0.2
    assert "metadata" not in out and "store" not in out


def test_chat_to_responses_needs_no_stop() -> None:
    with pytest.raises(TranslationError) as exc:
        translate_request("openai-chat", "openai-responses", CHAT)
    assert exc.value.field == "stop"
    body = {k: v for k, v in CHAT.items() if k != "stop"}
    out = translate_request("openai-chat", "openai-responses", body)
    assert out["instructions"] == "You are a helpful assistant."
    assert [i["type"] for i in out["input"]] == [
        "message", "function_call", "function_call", "function_call_output", "function_call_output", "message", "message"]
    assert out["input"][0]["content"][1] == {"type": "input_image", "image_url": "https://upload.wikimedia.org/a.jpg", "detail": "high"}
    assert out["input"][5] == {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Paris is 15°C, Bogotá 18°C."}]}
    assert out["tool_choice"] == "required" and out["tools"][0]["strict"] is True
    assert out["store"] is False and "user" not in out  # not the caller's format: not stored, no identity


def test_chat_to_chat_keeps_metadata_and_passthrough() -> None:
    body = {**CHAT, "logprobs": True, "top_logprobs": 2}
    out = translate_request("openai-chat", "openai-chat", body)
    assert out["user"] == "user-1234" and out["logprobs"] is True and out["top_logprobs"] == 2
    assert out["messages"] == CHAT["messages"][:1] + CHAT["messages"][1:]  # same wire form
    assert out["stop"] == ["\n\n\n"]


def test_qwen_codes_dashscope_hints_are_kept_for_chat_and_dropped_elsewhere() -> None:
    # What Qwen Code sends to DashScope with its default model.
    body = {"model": "qwen3-coder-plus", "messages": [{"role": "user", "content": "hi"}], "stream": True,
            "metadata": {"sessionId": "s-1", "promptId": "s-1########0"}, "preserve_thinking": True,
            "enable_thinking": False, "vl_high_resolution_images": True}  # fmt: skip
    assert translate_request("openai-chat", "openai-chat", body)["preserve_thinking"] is True
    for fmt in ("anthropic", "openai-responses", "gemini"):
        out = json.dumps(translate_request("openai-chat", fmt, body))
        assert "preserve_thinking" not in out and "enable_thinking" not in out and "sessionId" not in out, fmt


def test_reasoning_models_use_max_completion_tokens() -> None:
    body = {"model": "claude-x", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}],
            "thinking": {"type": "enabled", "budget_tokens": 2048}}  # fmt: skip
    out = translate_request("anthropic", "openai-chat", {**body, "model": "o3"})
    assert out["max_completion_tokens"] == 100 and out["reasoning_effort"] == "low"
    out = translate_request("anthropic", "openai-chat", {k: v for k, v in body.items() if k != "thinking"})
    assert out["max_tokens"] == 100 and "reasoning_effort" not in out


def test_response_format_json_object_to_anthropic_is_an_instruction() -> None:
    out = translate_request("openai-chat", "anthropic", {
        "model": "m", "messages": [{"role": "user", "content": "list"}], "response_format": {"type": "json_object"}})
    assert "JSON" in out["system"]


RESPONSE = {
    "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG", "object": "chat.completion", "created": 1741570283,
    "model": "gpt-4o-2024-08-06",
    "choices": [{"index": 0, "finish_reason": "tool_calls", "logprobs": None, "message": {
        "role": "assistant", "content": None, "refusal": None,
        "tool_calls": [{"id": "call_12345xyz", "type": "function",
                        "function": {"name": "get_weather", "arguments": "{\"location\":\"Paris, France\"}"}}]}}],
    "usage": {"prompt_tokens": 1117, "completion_tokens": 46, "total_tokens": 1163,
              "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
              "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0}},
}  # fmt: skip


def test_chat_response_to_anthropic_and_responses() -> None:
    a = translate_response("openai-chat", "anthropic", RESPONSE)
    assert a["content"] == [{"type": "tool_use", "id": "call_12345xyz", "name": "get_weather", "input": {"location": "Paris, France"}}]
    assert a["stop_reason"] == "tool_use"
    assert a["usage"] == {"input_tokens": 93, "output_tokens": 46, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 1024}
    r = translate_response("openai-chat", "openai-responses", RESPONSE)
    assert r["output"][0]["call_id"] == "call_12345xyz" and r["status"] == "completed"
    assert r["usage"]["input_tokens_details"]["cached_tokens"] == 1024
    ir = oc.response_to_ir(RESPONSE)
    assert ir.finish_reason == FinishReason.TOOL_CALLS


@pytest.mark.parametrize(("reason", "anthropic_stop", "status"), [
    ("stop", "end_turn", "completed"), ("length", "max_tokens", "incomplete"),
    ("content_filter", "refusal", "incomplete")])  # fmt: skip
def test_finish_reasons(reason: str, anthropic_stop: str, status: str) -> None:
    body = {**RESPONSE, "choices": [{"index": 0, "finish_reason": reason, "message": {"role": "assistant", "content": "x"}}]}
    assert translate_response("openai-chat", "anthropic", body)["stop_reason"] == anthropic_stop
    assert translate_response("openai-chat", "openai-responses", body)["status"] == status


def _chunks(*deltas: dict, finish: str = "stop") -> bytes:
    base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o"}
    out = [{**base, "choices": [{"index": 0, "delta": d, "finish_reason": None}]} for d in deltas]
    out.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
    out.append({**base, "choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12}})
    return b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in out) + b"data: [DONE]\n\n"


def _anthropic_events(data: bytes) -> list[dict]:
    return [json.loads(line[6:]) for line in data.decode().split("\n") if line.startswith("data: ")]


def test_parallel_tool_call_stream_to_anthropic_block_indexes() -> None:
    data = _chunks(
        {"role": "assistant", "content": ""},
        {"tool_calls": [{"index": 0, "id": "call_a", "type": "function", "function": {"name": "f", "arguments": "{\"x\""}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": ":1}"}}]},
        {"tool_calls": [{"index": 1, "id": "call_b", "type": "function", "function": {"name": "g", "arguments": ""}}]},
        {"tool_calls": [{"index": 1, "function": {"arguments": "{}"}}]},
        finish="tool_calls",
    )  # fmt: skip
    t = StreamTranslator("openai-chat", "anthropic", "claude")
    events = _anthropic_events(b"".join(t.feed(data[i : i + 5]) for i in range(0, len(data), 5)) + t.finish())
    kinds = [(e["type"], e.get("index")) for e in events]
    assert kinds == [
        ("message_start", None),
        ("content_block_start", 0), ("content_block_delta", 0), ("content_block_delta", 0), ("content_block_stop", 0),
        ("content_block_start", 1), ("content_block_delta", 1), ("content_block_stop", 1),
        ("message_delta", None), ("message_stop", None),
    ]  # fmt: skip
    assert [e["content_block"]["id"] for e in events if e["type"] == "content_block_start"] == ["call_a", "call_b"]
    assert events[-2]["delta"]["stop_reason"] == "tool_use" and events[-2]["usage"]["output_tokens"] == 3


def test_stream_without_done_is_closed_by_finish() -> None:
    data = _chunks({"content": "hi"}).replace(b"data: [DONE]\n\n", b"")
    t = StreamTranslator("openai-chat", "anthropic", "claude")
    out = t.feed(data[:-30])  # upstream cut mid-frame
    out += t.finish()
    events = _anthropic_events(out)
    assert events[-1] == {"type": "message_stop"}
    assert [e["type"] for e in events].count("content_block_stop") == 1


def test_mid_stream_error_object_in_chat_upstream() -> None:
    data = _chunks({"content": "par"}).split(b"\n\n")[0] + b'\n\ndata: {"error": {"message": "Rate limit", "type": "rate_limit_exceeded", "code": 429}}\n\n'
    t = StreamTranslator("openai-chat", "anthropic", "claude")
    events = _anthropic_events(t.feed(data) + t.finish())
    assert events[-1] == {"type": "error", "error": {"type": "rate_limit_error", "message": "Rate limit"}}


def test_chat_system_multi_part_and_text_parts() -> None:
    ir = oc.request_to_ir({"model": "m", "messages": [
        {"role": "system", "content": [{"type": "text", "text": "A"}, {"type": "text", "text": "B"}]},
        {"role": "user", "content": [{"type": "text", "text": "x"}]}]})  # fmt: skip
    assert [p.text for p in ir.system] == ["A", "B"]
    assert ir.messages[0].content == [TextPart("x")]
    out = oc.request_from_ir(ir)
    assert out["messages"][0]["content"] == [{"type": "text", "text": "A"}, {"type": "text", "text": "B"}]


def test_tool_calls_without_index_from_compatible_servers() -> None:
    data = _chunks(
        {"tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{\"a\":1}"}}]},
        {"tool_calls": [{"id": "call_2", "type": "function", "function": {"name": "g", "arguments": "{"}}]},
        {"tool_calls": [{"function": {"arguments": "}"}}]},
        {"tool_calls": [{"index": 0, "id": "call_3", "type": "function", "function": {"name": "h", "arguments": "{}"}}]},
        finish="tool_calls",
    )  # fmt: skip
    t = StreamTranslator("openai-chat", "anthropic", "claude")
    events = _anthropic_events(t.feed(data) + t.finish())
    starts = [e["content_block"]["id"] for e in events if e["type"] == "content_block_start"]
    assert starts == ["call_1", "call_2", "call_3"]
    args = {}
    for e in events:
        if e["type"] == "content_block_delta":
            args[e["index"]] = args.get(e["index"], "") + e["delta"]["partial_json"]
    assert args == {0: "{\"a\":1}", 1: "{}", 2: "{}"}


def test_openrouter_style_cache_control_reaches_anthropic() -> None:
    body = {"model": "m", "messages": [
        {"role": "system", "content": [{"type": "text", "text": "big prompt", "cache_control": {"type": "ephemeral"}}]},
        {"role": "user", "content": "hi"}]}  # fmt: skip
    out = translate_request("openai-chat", "anthropic", body)
    assert out["system"] == [{"type": "text", "text": "big prompt", "cache_control": {"type": "ephemeral"}}]
