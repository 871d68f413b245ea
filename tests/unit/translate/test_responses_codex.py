"""What current Codex sends, translated to Anthropic and Gemini by responses_extras' one rule.

The frames are the ones Codex 0.169.0 sent on the Responses WebSocket (texts cut).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from omniroute.translate import (
    StreamTranslator,
    client_tool_names,
    translate_request,
    translate_response,
)
from omniroute.translate.errors import TranslationError

FRAMES = json.loads((Path(__file__).parent / "golden" / "codex_0169_frames.json").read_text())


def _body(name: str) -> dict[str, Any]:
    return {k: v for k, v in FRAMES[name].items() if k != "type"}


@pytest.mark.parametrize("dst", ["anthropic", "gemini", "openai-chat"])
def test_a_codex_turn_translates(dst: str) -> None:
    body = _body("turn")
    out = translate_request("openai-responses", dst, body)
    text = json.dumps(out)
    assert "say hello" in text
    # tools declared in additional_tools, namespaces opened, "functions" names kept bare
    for name in ("exec", "wait", "clock__sleep", "collaboration__followup_task"):
        assert f'"{name}"' in text, name
    for dropped in ("client_metadata", "internal_chat_message_metadata_passthrough", "prompt_cache_key",
                    "additional_tools", '"namespace"'):
        assert dropped not in text, dropped


def test_the_warmup_frame_translates_too() -> None:
    out = translate_request("openai-responses", "anthropic", _body("warmup"))
    assert "generate" not in out and out["messages"] == []


def test_towards_responses_everything_is_carried() -> None:
    body = _body("turn")
    out = translate_request("openai-responses", "openai-responses", body)
    assert out["client_metadata"] == body["client_metadata"]


def test_unknown_items_parts_and_tools_follow_the_rule() -> None:
    body = {
        "model": "m",
        "future_field": {"x": 1},
        "tools": [{"type": "web_search"}, {"type": "tool_search"},
                  {"type": "future_fn", "name": "look", "parameters": {"type": "object", "properties": {}}}],
        "input": [
            {"type": "agent_message", "role": "user", "author": "/root/w",
             "content": [{"type": "input_text", "text": "from a sub-agent"},
                         {"type": "encrypted_content", "encrypted_content": "opaque"},
                         {"type": "future_text", "text": "a new part"}]},
            {"type": "web_search_call", "id": "ws_1", "status": "completed", "action": {"type": "search"}},
            {"type": "local_shell_call", "call_id": "sh_1", "status": "completed", "action": {"type": "exec"}},
            {"type": "function_call_output", "call_id": "sh_1", "output": "ls output"},
            {"type": "compaction", "encrypted_content": "opaque"},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "go"}]},
        ],
    }
    out = translate_request("openai-responses", "anthropic", body)
    assert [t["name"] for t in out["tools"]] == ["look"]
    assert out["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "from a sub-agent"}, {"type": "text", "text": "a new part"}]},
        {"role": "user", "content": "go"},
    ]
    assert "future_field" not in out and "ls output" not in json.dumps(out)


def test_namespaced_history_and_tool_choice_use_the_flat_name() -> None:
    body = _body("turn")
    body["tool_choice"] = {"type": "function", "namespace": "clock", "name": "sleep"}
    body["input"] += [
        {"type": "function_call", "namespace": "clock", "name": "sleep", "call_id": "c1", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "slept"},
        {"type": "custom_tool_call", "namespace": "functions", "name": "exec", "call_id": "c2", "input": "1+1"},
        {"type": "custom_tool_call_output", "call_id": "c2", "output": [{"type": "input_text", "text": "2"}]},
    ]
    out = translate_request("openai-responses", "anthropic", body)
    uses = [b for m in out["messages"] for b in m["content"] if isinstance(b, dict) and b.get("type") == "tool_use"]
    assert [(u["name"], u["input"]) for u in uses] == [("clock__sleep", {}), ("exec", {"input": "1+1"})]
    assert out["tool_choice"]["name"] == "clock__sleep"
    allowed = {**body, "tool_choice": {"type": "allowed_tools", "mode": "required", "tools": []}}
    assert translate_request("openai-responses", "anthropic", allowed)["tool_choice"]["type"] == "any"


def test_server_state_still_fails_with_its_name() -> None:
    with pytest.raises(TranslationError) as exc:
        translate_request("openai-responses", "anthropic", {**_body("turn"), "previous_response_id": "resp_1"})
    assert exc.value.field == "previous_response_id"


def _claude_calls() -> dict[str, Any]:
    return {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude", "stop_reason": "tool_use",
            "usage": {"input_tokens": 3, "output_tokens": 4},
            "content": [{"type": "tool_use", "id": "toolu_1", "name": "clock__sleep", "input": {"duration_ms": 5}},
                        {"type": "tool_use", "id": "toolu_2", "name": "exec", "input": {"input": "1+1"}}]}


def test_calls_get_their_namespace_and_freeform_type_back() -> None:
    names = client_tool_names("openai-responses", _body("turn"))
    out = translate_response("anthropic", "openai-responses", _claude_calls(), names)["output"]
    assert out[0] | {"id": None} == {"type": "function_call", "id": None, "call_id": "toolu_1", "namespace": "clock",
                                     "name": "sleep", "arguments": '{"duration_ms":5}', "status": "completed"}
    assert (out[1]["type"], out[1]["namespace"], out[1]["name"], out[1]["input"]) == (
        "custom_tool_call", "functions", "exec", "1+1")


def test_streamed_calls_get_their_namespace_and_freeform_type_back() -> None:
    events = [
        {"type": "message_start", "message": {"id": "msg_1", "model": "claude", "usage": {"input_tokens": 1}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use", "id": "t1", "name": "clock__sleep", "input": {}}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": '{"duration_ms":1}'}},
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "t2", "name": "exec", "input": {}}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": '{"input":"a\\nb"}'}},
        {"type": "content_block_stop", "index": 1},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 2}},
        {"type": "message_stop"},
    ]
    sse = "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events).encode()
    t = StreamTranslator("anthropic", "openai-responses", "m", names=client_tool_names("openai-responses", _body("turn")))
    out = [json.loads(line[6:]) for line in (t.feed(sse) + t.finish()).decode().split("\n") if line.startswith("data: ")]
    done = [e["item"] for e in out if e["type"] == "response.output_item.done"]
    assert [(i["type"], i.get("namespace"), i["name"]) for i in done] == [
        ("function_call", "clock", "sleep"), ("custom_tool_call", "functions", "exec")]
    assert done[0]["arguments"] == '{"duration_ms":1}' and done[1]["input"] == "a\nb"
    assert not [e for e in out if e["type"] == "response.function_call_arguments.delta" and e["item_id"] == done[1]["id"]]
    assert out[-1]["response"]["output"] == done
