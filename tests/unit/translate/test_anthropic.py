"""Golden tests: Anthropic Messages ↔ IR ↔ the other formats (examples from Anthropic's docs:
tool use, tool results with is_error, extended thinking with signatures, streaming)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from omniroute.translate import (
    StreamTranslator,
    TranslationError,
    translate_request,
    translate_response,
)
from omniroute.translate import anthropic as an
from omniroute.translate.anthropic_json import JSON_INSTRUCTION
from omniroute.translate.base import ResponseAccumulator
from omniroute.translate.ir import FinishReason, ThinkingPart, ToolCallPart

GOLDEN = Path(__file__).parent / "golden"
SIG = "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"

# A Claude Code–style tool loop with extended thinking (Anthropic docs, "Extended thinking
# with tool use"): the thinking block must come back signed, ids must be kept.
TOOL_LOOP = {
    "model": "claude-sonnet-4-5",
    "max_tokens": 16000,
    "system": [{"type": "text", "text": "You are a coding agent.", "cache_control": {"type": "ephemeral"}}],
    "thinking": {"type": "enabled", "budget_tokens": 10000},
    "tools": [{"name": "get_weather", "description": "Get the current weather in a given location",
               "input_schema": {"type": "object", "properties": {"location": {"type": "string"}},
                                "required": ["location"]}}],
    "messages": [
        {"role": "user", "content": [
            {"type": "text", "text": "What's the weather in Paris? See the photo."},
            {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/4AAQSkZJRg=="}},
            {"type": "image", "source": {"type": "url", "url": "https://example.com/paris.jpg"}}]},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "Let me check the weather.", "signature": SIG},
            {"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9", "name": "get_weather",
             "input": {"location": "Paris, France"}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_01A09q90qw90lq917835lq9",
             "content": "15 degrees", "is_error": False}]},
    ],
    "metadata": {"user_id": "user-123"},
    "stream": True,
}  # fmt: skip


def test_anthropic_to_anthropic_keeps_thinking_signature_cache_and_ids() -> None:
    out = translate_request("anthropic", "anthropic", TOOL_LOOP)
    assert out["messages"][1]["content"][0] == {"type": "thinking", "thinking": "Let me check the weather.", "signature": SIG}
    assert out["messages"][1]["content"][1]["id"] == "toolu_01A09q90qw90lq917835lq9"
    assert out["messages"][2]["content"][0]["tool_use_id"] == "toolu_01A09q90qw90lq917835lq9"
    assert out["system"] == TOOL_LOOP["system"]
    assert out["thinking"] == {"type": "enabled", "budget_tokens": 10000}
    assert out["metadata"] == {"user_id": "user-123"}  # same format: kept


def test_anthropic_to_chat() -> None:
    out = translate_request("anthropic", "openai-chat", TOOL_LOOP)
    assert out["messages"][0] == {"role": "system", "content": "You are a coding agent."}
    user = out["messages"][1]["content"]
    assert user[1] == {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQSkZJRg=="}}
    assert user[2] == {"type": "image_url", "image_url": {"url": "https://example.com/paris.jpg"}}
    assert out["messages"][2] == {
        "role": "assistant", "content": None,
        "tool_calls": [{"id": "toolu_01A09q90qw90lq917835lq9", "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"location":"Paris, France"}'}}],
    }  # fmt: skip
    assert out["messages"][3] == {"role": "tool", "tool_call_id": "toolu_01A09q90qw90lq917835lq9", "content": "15 degrees"}
    assert out["tools"][0]["function"]["parameters"]["required"] == ["location"]
    assert out["max_completion_tokens"] == 16000 and out["reasoning_effort"] == "medium"
    assert out["stream_options"] == {"include_usage": True}
    assert "metadata" not in out and "user" not in out  # identity never leaks across providers


def test_anthropic_to_responses() -> None:
    out = translate_request("anthropic", "openai-responses", TOOL_LOOP)
    assert out["instructions"] == "You are a coding agent."
    kinds = [i["type"] for i in out["input"]]
    # Anthropic thinking is not replayable to OpenAI: dropped deliberately
    assert kinds == ["message", "function_call", "function_call_output"]
    assert out["input"][1]["call_id"] == "toolu_01A09q90qw90lq917835lq9"
    assert out["input"][2] == {"type": "function_call_output", "call_id": "toolu_01A09q90qw90lq917835lq9", "output": "15 degrees"}
    assert out["store"] is False and "metadata" not in out
    assert out["reasoning"] == {"effort": "medium", "summary": "auto"}
    assert out["max_output_tokens"] == 16000


def test_tool_result_error_and_images() -> None:
    body = {"model": "c", "max_tokens": 10, "messages": [
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "shot", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "is_error": True, "content": [
            {"type": "text", "text": "failed"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}]}]}]}  # fmt: skip
    chat = translate_request("anthropic", "openai-chat", body)
    assert chat["messages"][1] == {"role": "tool", "tool_call_id": "toolu_1", "content": "Error: failed"}
    assert chat["messages"][2]["content"][0]["image_url"]["url"] == "data:image/png;base64,iVBORw0KGgo="
    back = translate_request("anthropic", "anthropic", body)
    assert back["messages"][1]["content"][0]["is_error"] is True


def test_max_tokens_defaults_and_thinking_budget_fits() -> None:
    out = translate_request("openai-chat", "anthropic", {"model": "c", "messages": [{"role": "user", "content": "hi"}]})
    assert out["max_tokens"] == an.DEFAULT_MAX_TOKENS
    out = translate_request("openai-chat", "anthropic", {
        "model": "c", "reasoning_effort": "high", "messages": [{"role": "user", "content": "hi"}]})
    assert out["thinking"] == {"type": "enabled", "budget_tokens": 32768}
    assert out["max_tokens"] > 32768
    out = translate_request("openai-chat", "anthropic", {
        "model": "c", "reasoning_effort": "high", "max_completion_tokens": 5000,
        "messages": [{"role": "user", "content": "hi"}]})  # fmt: skip
    assert out["max_tokens"] == 5000 and out["thinking"]["budget_tokens"] == 4999


def test_thinking_disabled_when_tool_loop_has_no_signed_thinking() -> None:
    # Claude Code routed through GPT earlier: its assistant turn has no Anthropic signature,
    # which the API rejects while thinking is on; we turn thinking off for that request.
    body = json.loads(json.dumps(TOOL_LOOP))
    body["messages"][1]["content"][0]["signature"] = ""
    out = translate_request("anthropic", "anthropic", body)
    assert "thinking" not in out
    assert [b["type"] for b in out["messages"][1]["content"]] == ["tool_use"]


def test_chat_to_anthropic_sampling_tool_choice_format() -> None:
    body = {
        "model": "c", "temperature": 1.5, "top_p": 0.9, "stop": ["END"], "max_tokens": 100,
        "messages": [{"role": "developer", "content": "Be terse."}, {"role": "user", "content": "hi"}],
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
        "tool_choice": {"type": "function", "function": {"name": "f"}}, "parallel_tool_calls": False,
        "response_format": {"type": "json_schema", "json_schema": {"name": "r", "schema": {"type": "object"}}},
        "user": "end-user-42",
    }  # fmt: skip
    out = translate_request("openai-chat", "anthropic", body)
    # With client tools the schema cannot be a forced tool: it joins the system prompt.
    assert [b["text"] for b in out["system"]] == ["Be terse.", JSON_INSTRUCTION + ' It must validate against this JSON schema: {"type":"object"}']
    assert out["temperature"] == 1.0  # clamped to Anthropic's range
    assert out["stop_sequences"] == ["END"] and out["top_p"] == 0.9
    assert out["tool_choice"] == {"type": "tool", "name": "f", "disable_parallel_tool_use": True}
    assert [t["name"] for t in out["tools"]] == ["f"] and "output_format" not in out
    assert "metadata" not in out and "user" not in out


@pytest.mark.parametrize(("body", "field"), [
    ({"n": 2}, "n"),
    ({"seed": 7}, "seed"),
    ({"frequency_penalty": 0.5}, "frequency_penalty"),
    ({"logprobs": True}, "logprobs"),
    ({"messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]}, "messages[0].content[0]"),
])  # fmt: skip
def test_inexpressible_fields_raise_naming_the_field(body: dict, field: str) -> None:
    full = {"model": "c", "messages": [{"role": "user", "content": "hi"}], **body}
    with pytest.raises(TranslationError) as exc:
        translate_request("openai-chat", "anthropic", full)
    assert exc.value.field == field
    err = exc.value.body("openai-chat")["error"]
    assert err["type"] == "invalid_request_error" and field in err["message"]


def test_server_tools_raise() -> None:
    body = {"model": "c", "max_tokens": 5, "messages": [], "tools": [{"type": "web_search_20250305", "name": "web_search"}]}
    with pytest.raises(TranslationError) as exc:
        translate_request("anthropic", "openai-chat", body)
    assert exc.value.field == "tools[0]"


NONSTREAM = {
    "id": "msg_01Aq9w938a90dw8q", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
    "content": [
        {"type": "thinking", "thinking": "Weather lookup needed.", "signature": SIG},
        {"type": "text", "text": "I'll check the weather."},
        {"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9", "name": "get_weather", "input": {"location": "Paris"}},
    ],
    "stop_reason": "tool_use", "stop_sequence": None,
    "usage": {"input_tokens": 20, "output_tokens": 50, "cache_read_input_tokens": 100, "cache_creation_input_tokens": 10},
}  # fmt: skip


def test_response_to_chat_and_back() -> None:
    chat = translate_response("anthropic", "openai-chat", NONSTREAM)
    msg = chat["choices"][0]["message"]
    assert msg["content"] == "I'll check the weather." and msg["reasoning_content"] == "Weather lookup needed."
    assert msg["tool_calls"][0]["id"] == "toolu_01A09q90qw90lq917835lq9"
    assert chat["choices"][0]["finish_reason"] == "tool_calls"
    assert chat["usage"]["prompt_tokens"] == 130 and chat["usage"]["prompt_tokens_details"]["cached_tokens"] == 100
    same = translate_response("anthropic", "anthropic", NONSTREAM)
    assert same == NONSTREAM


def test_response_stop_reasons() -> None:
    for stop, reason in [("end_turn", "stop"), ("max_tokens", "length"), ("stop_sequence", "stop"),
                         ("refusal", "content_filter"), ("tool_use", "tool_calls")]:  # fmt: skip
        chat = translate_response("anthropic", "openai-chat", {**NONSTREAM, "stop_reason": stop})
        assert chat["choices"][0]["finish_reason"] == reason
    r = an.response_to_ir({**NONSTREAM, "stop_reason": "stop_sequence", "stop_sequence": "END"})
    assert r.stop_sequence == "END" and an.response_from_ir(r)["stop_reason"] == "stop_sequence"


def _stream(src: str, dst: str, data: bytes, split: int = 31) -> bytes:
    t = StreamTranslator(src, dst, "client-model")
    return b"".join(t.feed(data[i : i + split]) for i in range(0, len(data), split)) + t.finish()


def test_docs_stream_to_anthropic_keeps_signature() -> None:
    data = (GOLDEN / "anthropic_tool_stream.sse").read_bytes()
    out = _stream("anthropic", "anthropic", data)
    acc = ResponseAccumulator()
    dec = an.StreamDecoder()
    for event in an.Framer().feed(out):
        for ev in dec.feed(event):
            acc.feed(ev)
    r = acc.result()
    assert isinstance(r.content[0], ThinkingPart) and r.content[0].signature == SIG
    assert r.content[0].text == "I need to find the weather in San Francisco."
    call = r.content[2]
    assert isinstance(call, ToolCallPart) and call.id == "toolu_01T1x1fJ34qAmk2tNTrN7Up6"
    assert json.loads(call.arguments) == {"location": "San Francisco, CA", "unit": "fahrenheit"}
    assert r.finish_reason == FinishReason.TOOL_CALLS
    assert r.usage.input_tokens == 572 and r.usage.cached_input_tokens == 100 and r.usage.output_tokens == 89


def test_docs_stream_to_chat_chunks() -> None:
    out = _stream("anthropic", "openai-chat", (GOLDEN / "anthropic_tool_stream.sse").read_bytes())
    frames = [json.loads(line[6:]) for line in out.decode().split("\n") if line.startswith("data: {")]
    assert frames[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert frames[0]["id"] == "msg_014p7gG3wDgGV9EUtLvnow3U"
    deltas = [f["choices"][0]["delta"] for f in frames if f["choices"]]
    assert "".join(d.get("reasoning_content", "") for d in deltas) == "I need to find the weather in San Francisco."
    assert "".join(d.get("content", "") for d in deltas) == "Okay, let's check the weather for San Francisco, CA:"
    calls = [tc for d in deltas for tc in d.get("tool_calls", [])]
    assert calls[0] == {"index": 0, "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "type": "function",
                        "function": {"name": "get_weather", "arguments": ""}}  # fmt: skip
    assert json.loads("".join(tc["function"]["arguments"] for tc in calls)) == {"location": "San Francisco, CA", "unit": "fahrenheit"}
    assert frames[-2]["choices"][0]["finish_reason"] == "tool_calls"
    assert frames[-1]["choices"] == [] and frames[-1]["usage"]["prompt_tokens"] == 572
    assert out.endswith(b"data: [DONE]\n\n")


def test_upstream_error_event_becomes_chat_error() -> None:
    data = (GOLDEN / "anthropic_tool_stream.sse").read_bytes()
    head = data[: data.index(b"event: content_block_stop")]
    err = b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n'
    out = _stream("anthropic", "openai-chat", head + err + data)  # anything after the error is ignored
    assert out.endswith(b'data: {"error":{"message":"Overloaded","type":"server_error","param":null,"code":null}}\n\ndata: [DONE]\n\n')
    assert b"finish_reason\":\"tool_calls" not in out


def test_thinking_wins_over_sampling_hints_and_disabled_is_not_forwarded() -> None:
    body = {"model": "c", "temperature": 0.2, "top_p": 0.5, "reasoning_effort": "low",
            "messages": [{"role": "user", "content": "hi"}]}  # fmt: skip
    out = translate_request("openai-chat", "anthropic", body)
    assert out["thinking"]["type"] == "enabled" and "temperature" not in out and out["top_p"] == 0.95
    off = {"model": "c", "max_tokens": 5, "thinking": {"type": "disabled"}, "messages": [{"role": "user", "content": "hi"}]}
    assert "reasoning_effort" not in translate_request("anthropic", "openai-chat", off)
    assert "reasoning" not in translate_request("anthropic", "openai-responses", off)
    assert translate_request("anthropic", "anthropic", off)["thinking"] == {"type": "disabled"}
