"""Golden tests: OpenAI Responses (Codex) ↔ IR ↔ the other formats."""

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
from omniroute.translate import openai_responses as orsp
from omniroute.translate.ir import RedactedThinkingPart, ThinkingPart, ToolCallPart, ToolResultPart

GOLDEN = Path(__file__).parent / "golden"

# What Codex sends on the second turn of a tool loop (stateless: store false + encrypted reasoning).
CODEX = {
    "model": "gpt-5-codex",
    "instructions": "You are Codex, based on GPT-5.",
    "input": [
        {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "<permissions>"}]},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "List the files."}]},
        {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "Run ls."}],
         "encrypted_content": "gAAAAABENC"},
        {"type": "function_call", "id": "fc_1", "call_id": "call_Xq2", "name": "shell",
         "arguments": "{\"command\":[\"ls\"]}"},
        {"type": "function_call_output", "call_id": "call_Xq2", "output": "README.md\nsrc"},
    ],
    "tools": [{"type": "function", "name": "shell", "description": "Runs a shell command",
               "strict": False, "parameters": {"type": "object", "properties": {"command": {"type": "array", "items": {"type": "string"}}}}}],
    "tool_choice": "auto", "parallel_tool_calls": False,
    "reasoning": {"effort": "high", "summary": "auto"},
    "store": False, "stream": True, "include": ["reasoning.encrypted_content"],
    "prompt_cache_key": "019a-session", "text": {"verbosity": "low"},
}  # fmt: skip


def test_codex_request_to_ir() -> None:
    ir = orsp.request_to_ir(CODEX)
    assert [p.text for p in ir.system] == ["You are Codex, based on GPT-5.", "<permissions>"]
    assert [m.role for m in ir.messages] == ["user", "assistant", "user"]
    think, call = ir.messages[1].content
    assert isinstance(think, ThinkingPart) and think.signature == "gAAAAABENC"
    assert think.signature_format == "openai-responses" and think.id == "rs_1"
    assert isinstance(call, ToolCallPart) and call.id == "call_Xq2"
    res = ir.messages[2].content[0]
    assert isinstance(res, ToolResultPart) and res.tool_call_id == "call_Xq2"


def test_codex_to_responses_round_trip_keeps_reasoning_and_metadata() -> None:
    out = translate_request("openai-responses", "openai-responses", CODEX)
    assert out["instructions"] == "You are Codex, based on GPT-5.\n\n<permissions>"
    assert out["input"][1] == {"type": "reasoning", "summary": [{"type": "summary_text", "text": "Run ls."}],
                               "encrypted_content": "gAAAAABENC", "id": "rs_1"}  # fmt: skip
    assert out["store"] is False and out["include"] == ["reasoning.encrypted_content"]
    assert out["prompt_cache_key"] == "019a-session" and out["text"] == {"verbosity": "low"}
    assert out["reasoning"] == {"effort": "high", "summary": "auto"}


def test_codex_to_anthropic() -> None:
    out = translate_request("openai-responses", "anthropic", CODEX)
    assert out["system"] == [{"type": "text", "text": "You are Codex, based on GPT-5."}, {"type": "text", "text": "<permissions>"}]
    assert out["messages"][1] == {"role": "assistant", "content": [
        {"type": "tool_use", "id": "call_Xq2", "name": "shell", "input": {"command": ["ls"]}}]}  # OpenAI reasoning dropped
    assert out["messages"][2]["content"][0]["tool_use_id"] == "call_Xq2"
    assert out["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}
    # thinking requested, but the tool loop's last assistant turn has no Claude signature
    assert "thinking" not in out
    for key in ("store", "include", "prompt_cache_key", "text", "metadata"):
        assert key not in out


def test_codex_to_chat() -> None:
    out = translate_request("openai-responses", "openai-chat", CODEX)
    assert out["messages"][0] == {"role": "system", "content": [
        {"type": "text", "text": "You are Codex, based on GPT-5."}, {"type": "text", "text": "<permissions>"}]}
    assert out["messages"][2]["tool_calls"][0]["id"] == "call_Xq2"
    assert out["messages"][3] == {"role": "tool", "tool_call_id": "call_Xq2", "content": "README.md\nsrc"}
    assert out["reasoning_effort"] == "high" and out["parallel_tool_calls"] is False


def test_claude_signature_survives_codex_round_trip() -> None:
    """Codex routed to Claude: the thinking signature travels inside encrypted_content,
    tagged, and is given back to Anthropic on the next turn."""
    claude = {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude", "stop_reason": "tool_use",
              "content": [{"type": "thinking", "thinking": "t", "signature": "SIGCLAUDE"},
                          {"type": "redacted_thinking", "data": "REDACTED"},
                          {"type": "tool_use", "id": "toolu_1", "name": "shell", "input": {"command": ["ls"]}}],
              "usage": {"input_tokens": 1, "output_tokens": 1}}  # fmt: skip
    resp = translate_response("anthropic", "openai-responses", claude)
    reasoning = [o for o in resp["output"] if o["type"] == "reasoning"]
    assert reasoning[0]["encrypted_content"] == "omr1:anthropic:SIGCLAUDE"
    # Codex sends the output items back as input on its next turn
    nxt = {"model": "gpt-5", "input": [{"type": "message", "role": "user", "content": "go"}, *resp["output"],
                                       {"type": "function_call_output", "call_id": "toolu_1", "output": "ok"}],
           "reasoning": {"effort": "medium"}}  # fmt: skip
    ir = orsp.request_to_ir(nxt)
    assert isinstance(ir.messages[1].content[1], RedactedThinkingPart)
    out = translate_request("openai-responses", "anthropic", nxt)
    assert out["messages"][1]["content"][:2] == [
        {"type": "thinking", "thinking": "t", "signature": "SIGCLAUDE"},
        {"type": "redacted_thinking", "data": "REDACTED"},
    ]
    assert out["thinking"]["type"] == "enabled"  # signed thinking present → thinking stays on


@pytest.mark.parametrize(("body", "field"), [
    ({"previous_response_id": "resp_1"}, "previous_response_id"),
    ({"input": [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]}, "input[0].content[0]"),
])  # fmt: skip
def test_inexpressible_raise(body: dict, field: str) -> None:
    """Server state and known user content another format cannot carry fail, naming the field
    (what is merely new follows responses_extras' rule: see test_responses_codex)."""
    with pytest.raises(TranslationError) as exc:
        translate_request("openai-responses", "anthropic", {"model": "m", "input": "hi", **body})
    assert exc.value.field == field


def _sse(data: bytes) -> list[dict]:
    return [json.loads(line[6:]) for line in data.decode().split("\n") if line.startswith("data: ")]


def _stream(src: str, dst: str, data: bytes, split: int = 17) -> bytes:
    t = StreamTranslator(src, dst, "client-model")
    return b"".join(t.feed(data[i : i + split]) for i in range(0, len(data), split)) + t.finish()


def test_responses_stream_to_anthropic() -> None:
    events = _sse(_stream("openai-responses", "anthropic", (GOLDEN / "responses_tool_stream.sse").read_bytes()))
    starts = [e["content_block"] for e in events if e["type"] == "content_block_start"]
    assert [b["type"] for b in starts] == ["thinking", "text", "tool_use"]
    assert starts[2]["id"] == "call_12345xyz"
    sig = [e["delta"]["signature"] for e in events if e.get("delta", {}).get("type") == "signature_delta"]
    assert sig == ["omr1:openai-responses:gAAAAABoENCRYPTED"]  # foreign signature, tagged
    final = events[-2]
    assert final["delta"]["stop_reason"] == "tool_use"
    assert final["usage"] == {"input_tokens": 163, "output_tokens": 23, "cache_creation_input_tokens": 0,
                              "cache_read_input_tokens": 128, "output_tokens_details": {"thinking_tokens": 8}}  # fmt: skip


def test_responses_stream_to_responses_sequence_and_completion() -> None:
    events = _sse(_stream("openai-responses", "openai-responses", (GOLDEN / "responses_tool_stream.sse").read_bytes()))
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    done = events[-1]
    assert done["type"] == "response.completed"
    out = done["response"]["output"]
    assert [o["type"] for o in out] == ["reasoning", "message", "function_call"]
    assert out[0]["encrypted_content"] == "gAAAAABoENCRYPTED"  # own signature, untagged
    assert out[2]["call_id"] == "call_12345xyz" and out[2]["arguments"] == "{\"location\":\"Paris, France\"}"
    assert done["response"]["usage"]["output_tokens_details"] == {"reasoning_tokens": 8}


def test_incomplete_and_failed() -> None:
    data = (GOLDEN / "responses_tool_stream.sse").read_bytes()
    head = data[: data.index(b"event: response.output_item.added\ndata: {\"type\":\"response.output_item.added\",\"sequence_number\":12")]
    inc = b'event: response.incomplete\ndata: {"type":"response.incomplete","sequence_number":12,"response":{"id":"r","status":"incomplete","incomplete_details":{"reason":"max_output_tokens"},"usage":{"input_tokens":5,"output_tokens":7}}}\n\n'
    events = _sse(_stream("openai-responses", "openai-chat", head + inc).replace(b"data: [DONE]", b""))
    assert [e["choices"][0]["finish_reason"] for e in events if e.get("choices") and e["choices"][0]["finish_reason"]] == ["length"]
    failed = b'event: response.failed\ndata: {"type":"response.failed","sequence_number":12,"response":{"id":"r","status":"failed","error":{"code":"server_error","message":"boom"}}}\n\n'
    events = _sse(_stream("openai-responses", "anthropic", head + failed))
    assert events[-1] == {"type": "error", "error": {"type": "api_error", "message": "boom"}}


def test_nonstream_response_mapping() -> None:
    body = {"id": "resp_1", "object": "response", "created_at": 1, "status": "incomplete", "model": "gpt-5",
            "incomplete_details": {"reason": "max_output_tokens"},
            "output": [{"type": "message", "id": "msg_1", "role": "assistant", "status": "incomplete",
                        "content": [{"type": "output_text", "text": "partial", "annotations": []}]}],
            "usage": {"input_tokens": 10, "input_tokens_details": {"cached_tokens": 4}, "output_tokens": 3,
                      "output_tokens_details": {"reasoning_tokens": 1}, "total_tokens": 13}}  # fmt: skip
    a = translate_response("openai-responses", "anthropic", body)
    assert a["stop_reason"] == "max_tokens" and a["content"] == [{"type": "text", "text": "partial"}]
    assert a["usage"]["input_tokens"] == 6 and a["usage"]["cache_read_input_tokens"] == 4
    c = translate_response("openai-responses", "openai-chat", body)
    assert c["choices"][0]["finish_reason"] == "length"
    assert c["usage"]["completion_tokens_details"]["reasoning_tokens"] == 1


APPLY_PATCH = {"type": "custom", "name": "apply_patch", "description": "Use the `apply_patch` tool to edit files.",
               "format": {"type": "grammar", "syntax": "lark", "definition": "start: begin_patch hunk+ end_patch"}}  # fmt: skip
PATCH = "*** Begin Patch\n*** Add File: a.txt\n+hi \"there\"\n*** End Patch\n"


def test_custom_tool_to_anthropic_and_back() -> None:
    """Codex's freeform apply_patch becomes a one-string-parameter function elsewhere."""
    body = {"model": "gpt-5", "tools": [APPLY_PATCH], "input": [
        {"type": "message", "role": "user", "content": "add a file"},
        {"type": "custom_tool_call", "call_id": "call_P", "name": "apply_patch", "input": PATCH},
        {"type": "custom_tool_call_output", "call_id": "call_P", "output": "Done"}]}  # fmt: skip
    a = translate_request("openai-responses", "anthropic", body)
    tool = a["tools"][0]
    assert tool["input_schema"]["required"] == ["input"]
    assert "start: begin_patch" in tool["input_schema"]["properties"]["input"]["description"]
    assert a["messages"][1]["content"][0] == {"type": "tool_use", "id": "call_P", "name": "apply_patch", "input": {"input": PATCH}}
    same = translate_request("openai-responses", "openai-responses", body)
    assert same["tools"][0] == APPLY_PATCH
    assert same["input"][1:] == body["input"][1:]


def test_custom_tool_call_stream_and_response() -> None:
    events = [
        {"type": "response.created", "response": {"id": "resp_1", "model": "gpt-5"}},
        {"type": "response.output_item.added", "output_index": 0,
         "item": {"type": "custom_tool_call", "id": "ctc_1", "call_id": "call_P", "name": "apply_patch", "input": ""}},
        {"type": "response.custom_tool_call_input.delta", "output_index": 0, "item_id": "ctc_1", "delta": PATCH[:20]},
        {"type": "response.custom_tool_call_input.delta", "output_index": 0, "item_id": "ctc_1", "delta": PATCH[20:]},
        {"type": "response.output_item.done", "output_index": 0,
         "item": {"type": "custom_tool_call", "id": "ctc_1", "call_id": "call_P", "name": "apply_patch", "input": PATCH}},
        {"type": "response.completed", "response": {"id": "resp_1", "usage": {"input_tokens": 1, "output_tokens": 2}}},
    ]  # fmt: skip
    data = b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events)
    out = _sse(_stream("openai-responses", "anthropic", data, split=7))
    partial = "".join(e["delta"]["partial_json"] for e in out if e.get("delta", {}).get("type") == "input_json_delta")
    assert json.loads(partial) == {"input": PATCH}
    assert out[-2]["delta"]["stop_reason"] == "tool_use"
    # a Claude answer calling it goes back to Codex as a function call with {"input": …}
    claude = {"id": "msg_1", "type": "message", "role": "assistant", "model": "c", "stop_reason": "tool_use",
              "content": [{"type": "tool_use", "id": "toolu_9", "name": "apply_patch", "input": {"input": PATCH}}],
              "usage": {"input_tokens": 1, "output_tokens": 1}}  # fmt: skip
    r = translate_response("anthropic", "openai-responses", claude)
    assert r["output"][0]["type"] == "function_call" and json.loads(r["output"][0]["arguments"]) == {"input": PATCH}
    ir = orsp.response_to_ir({"id": "resp_1", "status": "completed", "output": [events[4]["item"]]})
    assert ir.content[0].custom and orsp.response_from_ir(ir)["output"][0]["input"] == PATCH
