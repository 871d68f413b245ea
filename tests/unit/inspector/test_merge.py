"""Streams merged into one final message per format, from hand-written wire captures."""

from __future__ import annotations

import json

from omniroute.inspector.merge import merge_stream


def sse(*events: dict | str, named: bool = False) -> bytes:
    out = []
    for ev in events:
        data = ev if isinstance(ev, str) else json.dumps(ev)
        if named and isinstance(ev, dict):
            out.append(f"event: {ev['type']}\ndata: {data}\n\n")
        else:
            out.append(f"data: {data}\n\n")
    return "".join(out).encode()


def _chunk(delta: dict, finish: str | None = None, **extra) -> dict:
    return {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1700000000,
            "model": "gpt-4o-2024-08-06",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}


OPENAI_CHAT = sse(
    _chunk({"role": "assistant", "content": ""}),
    _chunk({"content": "Let me "}), _chunk({"content": "check."}),
    _chunk({"tool_calls": [{"index": 0, "id": "call_abc", "type": "function",
                            "function": {"name": "read_file", "arguments": ""}}]}),
    _chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"path":'}}]}),
    _chunk({"tool_calls": [{"index": 0, "function": {"arguments": ' "a.py"}'}}]}),
    _chunk({"tool_calls": [{"index": 1, "id": "call_def", "type": "function",
                            "function": {"name": "ls", "arguments": "{}"}}]}),
    _chunk({}, "tool_calls"),
    {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1700000000,
     "model": "gpt-4o-2024-08-06", "choices": [],
     "usage": {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150,
               "prompt_tokens_details": {"cached_tokens": 64}}},
    "[DONE]",
)


def test_openai_chat() -> None:
    r = merge_stream(OPENAI_CHAT, "openai-chat")
    assert r.format == "openai-chat" and r.error is None
    msg = r.message
    assert msg["object"] == "chat.completion" and msg["model"] == "gpt-4o-2024-08-06"
    choice = msg["choices"][0]
    assert choice["message"]["content"] == "Let me check."
    calls = choice["message"]["tool_calls"]
    assert [c["function"]["name"] for c in calls] == ["read_file", "ls"]
    assert json.loads(calls[0]["function"]["arguments"]) == {"path": "a.py"}
    assert choice["finish_reason"] == "tool_calls"
    assert msg["usage"]["prompt_tokens"] == 120


def test_openai_chat_truncated_and_malformed() -> None:
    cut = OPENAI_CHAT[: OPENAI_CHAT.index(b'"check."') + 3]
    r = merge_stream(cut)
    assert r.format == "openai-chat" and r.message["choices"][0]["message"]["content"] == "Let me "
    assert r.error and "truncated" in r.error
    r = merge_stream(b"data: {not json}\n\n" + OPENAI_CHAT)
    assert r.message["choices"][0]["message"]["content"] == "Let me check."
    assert "malformed" in (r.error or "")


RESPONSES_EVENTS = [
    {"type": "response.created", "sequence_number": 0,
     "response": {"id": "resp_1", "object": "response", "status": "in_progress",
                  "model": "gpt-5-codex", "output": []}},
    {"type": "response.output_item.added", "output_index": 0,
     "item": {"type": "reasoning", "id": "rs_1", "summary": []}},
    {"type": "response.reasoning_summary_text.delta", "output_index": 0, "summary_index": 0,
     "delta": "Thinking about it"},
    {"type": "response.output_item.added", "output_index": 1,
     "item": {"type": "message", "id": "msg_1", "role": "assistant", "content": []}},
    {"type": "response.output_text.delta", "output_index": 1, "content_index": 0,
     "delta": "Hello"},
    {"type": "response.output_text.delta", "output_index": 1, "content_index": 0,
     "delta": " world"},
    {"type": "response.output_item.added", "output_index": 2,
     "item": {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "shell",
              "arguments": ""}},
    {"type": "response.function_call_arguments.delta", "output_index": 2,
     "delta": '{"command":["ls"]}'},
]
RESPONSES_COMPLETED = {
    "type": "response.completed",
    "response": {"id": "resp_1", "object": "response", "status": "completed",
                 "model": "gpt-5-codex",
                 "output": [{"type": "message", "role": "assistant",
                             "content": [{"type": "output_text", "text": "Hello world"}]}],
                 "usage": {"input_tokens": 50, "output_tokens": 10,
                           "output_tokens_details": {"reasoning_tokens": 4}}}}


def test_responses_uses_completed_event() -> None:
    r = merge_stream(sse(*RESPONSES_EVENTS, RESPONSES_COMPLETED, named=True))
    assert r.format == "openai-responses" and r.error is None
    assert r.message["status"] == "completed" and r.message["usage"]["input_tokens"] == 50


def test_responses_assembled_without_completed() -> None:
    r = merge_stream(sse(*RESPONSES_EVENTS, named=True), "openai-responses")
    out = r.message["output"]
    assert r.message["id"] == "resp_1" and "truncated" in r.error
    assert out[0]["summary"][0]["text"] == "Thinking about it"
    assert out[1]["content"][0]["text"] == "Hello world"
    assert json.loads(out[2]["arguments"]) == {"command": ["ls"]}


ANTHROPIC_EVENTS = [
    {"type": "message_start", "message": {
        "id": "msg_01", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
        "content": [], "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": 25, "cache_read_input_tokens": 1000, "output_tokens": 1}}},
    {"type": "content_block_start", "index": 0,
     "content_block": {"type": "thinking", "thinking": "", "signature": ""}},
    {"type": "content_block_delta", "index": 0,
     "delta": {"type": "thinking_delta", "thinking": "I should list."}},
    {"type": "content_block_delta", "index": 0,
     "delta": {"type": "signature_delta", "signature": "EqQBCgIYAh"}},
    {"type": "content_block_stop", "index": 0},
    {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
    {"type": "ping"},
    {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Sure"}},
    {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "!"}},
    {"type": "content_block_stop", "index": 1},
    {"type": "content_block_start", "index": 2, "content_block": {
        "type": "tool_use", "id": "toolu_01", "name": "Bash", "input": {}}},
    {"type": "content_block_delta", "index": 2,
     "delta": {"type": "input_json_delta", "partial_json": '{"command": "ls'}},
    {"type": "content_block_delta", "index": 2,
     "delta": {"type": "input_json_delta", "partial_json": ' -la"}'}},
    {"type": "content_block_stop", "index": 2},
    {"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None},
     "usage": {"output_tokens": 42}},
    {"type": "message_stop"},
]


def test_anthropic() -> None:
    r = merge_stream(sse(*ANTHROPIC_EVENTS, named=True))
    assert r.format == "anthropic" and r.error is None
    m = r.message
    assert [b["type"] for b in m["content"]] == ["thinking", "text", "tool_use"]
    assert m["content"][0]["thinking"] == "I should list."
    assert m["content"][0]["signature"] == "EqQBCgIYAh"
    assert m["content"][1]["text"] == "Sure!"
    assert m["content"][2]["input"] == {"command": "ls -la"}
    assert m["stop_reason"] == "tool_use"
    assert m["usage"] == {"input_tokens": 25, "cache_read_input_tokens": 1000,
                          "output_tokens": 42}


def test_anthropic_truncated_tool_input_and_error_event() -> None:
    r = merge_stream(sse(*ANTHROPIC_EVENTS[:12], named=True))
    assert r.message["content"][2]["input"] == '{"command": "ls'
    assert r.error
    err = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    r = merge_stream(sse(*ANTHROPIC_EVENTS[:8], err, named=True))
    assert "overloaded_error" in r.error and r.message["content"][1]["text"] == "Sure"


def _gem(parts: list, finish: str | None = None, usage: dict | None = None) -> dict:
    cand: dict = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finish:
        cand["finishReason"] = finish
    out: dict = {"candidates": [cand], "modelVersion": "gemini-2.5-pro"}
    if usage:
        out["usageMetadata"] = usage
    return out


GEMINI = [
    _gem([{"text": "Plan: ", "thought": True}]),
    _gem([{"text": "look first", "thought": True}]),
    _gem([{"text": "The answer"}]), _gem([{"text": " is 4."}]),
    _gem([{"functionCall": {"name": "run", "args": {"cmd": "ls"}}, "thoughtSignature": "sig"}],
         "STOP", {"promptTokenCount": 10, "candidatesTokenCount": 5, "thoughtsTokenCount": 3}),
]


def test_gemini_sse_and_json_array() -> None:
    for body in (sse(*GEMINI), json.dumps(GEMINI).encode()):
        r = merge_stream(body, "gemini")
        parts = r.message["candidates"][0]["content"]["parts"]
        assert r.format == "gemini" and r.error is None
        assert parts[0] == {"text": "Plan: look first", "thought": True}
        assert parts[1] == {"text": "The answer is 4."}
        assert parts[2]["functionCall"]["name"] == "run"
        assert r.message["candidates"][0]["finishReason"] == "STOP"
        assert r.message["usageMetadata"]["thoughtsTokenCount"] == 3
    truncated = json.dumps(GEMINI).encode()[:-40]
    r = merge_stream(truncated, "gemini")
    assert r.message["candidates"][0]["content"]["parts"][1]["text"] == "The answer is 4."
    assert r.error


def test_gemini_cloudcode_envelope() -> None:
    body = sse(*({"response": g, "traceId": "t1"} for g in GEMINI))
    r = merge_stream(body)
    assert r.format == "gemini-cloudcode" and r.message["traceId"] == "t1"
    assert r.message["response"]["candidates"][0]["content"]["parts"][1]["text"] == \
        "The answer is 4."


OLLAMA = b"\n".join(json.dumps(x).encode() for x in [
    {"model": "qwen3", "created_at": "2025-01-01T00:00:00Z",
     "message": {"role": "assistant", "content": "", "thinking": "hmm"}, "done": False},
    {"model": "qwen3", "message": {"role": "assistant", "content": "Hi"}, "done": False},
    {"model": "qwen3", "message": {"role": "assistant", "content": " there"}, "done": False},
    {"model": "qwen3", "message": {"role": "assistant", "content": "", "tool_calls": [
        {"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]}, "done": False},
    {"model": "qwen3", "message": {"role": "assistant", "content": ""}, "done": True,
     "done_reason": "stop", "prompt_eval_count": 26, "eval_count": 12},
]) + b"\n"


def test_ollama_ndjson() -> None:
    r = merge_stream(OLLAMA, "ollama")
    assert r.format == "ollama" and r.error is None
    assert r.message["message"]["content"] == "Hi there"
    assert r.message["message"]["thinking"] == "hmm"
    assert r.message["message"]["tool_calls"][0]["function"]["name"] == "get_weather"
    assert r.message["done_reason"] == "stop" and r.message["eval_count"] == 12
    gen = b'{"model":"m","response":"a","done":false}\n{"model":"m","response":"b","done":true}'
    assert merge_stream(gen, "ollama").message["response"] == "ab"


def test_never_raises() -> None:
    for junk in (b"", b"\xff\xfe\x00", b"data: [DONE]\n\n", b"garbage", b"[1, 2", "data: 1\n\n"):
        r = merge_stream(junk)
        assert r.error is not None or r.message is not None
    assert merge_stream(b"hello", "openai-chat").message["choices"] == []
