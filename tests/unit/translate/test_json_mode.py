"""JSON output asked in one format, answered by a provider of another: Gemini CLI's router call
(``responseJsonSchema``) towards Anthropic (a forced tool, read back as the answer's text) and
towards OpenAI (``response_format``); and ``topK``, which OpenAI has no place for, dropped."""

from __future__ import annotations

import json
from typing import Any

import pytest

from omniroute.translate import StreamTranslator, translate_request, translate_response
from omniroute.translate.anthropic_json import JSON_INSTRUCTION, JSON_TOOL

SCHEMA = {  # Gemini CLI's classifier schema, with its upper-case OpenAPI types
    "type": "OBJECT",
    "properties": {"reasoning": {"type": "STRING"}, "model_choice": {"type": "STRING", "enum": ["flash", "pro"]}},
    "required": ["reasoning", "model_choice"],
}
LOWER = {
    "type": "object",
    "properties": {"reasoning": {"type": "string"}, "model_choice": {"type": "string", "enum": ["flash", "pro"]}},
    "required": ["reasoning", "model_choice"],
}
ANSWER = {"reasoning": "one step", "model_choice": "flash"}


def router_call(**config: Any) -> dict[str, Any]:
    """What Gemini CLI's classifier sends (BaseLlmClient.generateJson)."""
    return {
        "contents": [{"role": "user", "parts": [{"text": "say hello"}]}],
        "systemInstruction": {"role": "user", "parts": [{"text": "You are a Task Routing AI."}]},
        "generationConfig": {"temperature": 0, "topP": 1, "topK": 64, "maxOutputTokens": 1024,
                             "thinkingConfig": {"thinkingBudget": 512},
                             "responseJsonSchema": SCHEMA, "responseMimeType": "application/json", **config},
    }


def test_gemini_json_schema_to_anthropic_is_a_forced_tool() -> None:
    out = translate_request("gemini", "anthropic", router_call())
    assert out["tools"] == [{"name": JSON_TOOL, "description": out["tools"][0]["description"], "input_schema": LOWER}]
    assert out["tool_choice"] == {"type": "tool", "name": JSON_TOOL}
    # The API refuses a forced tool with thinking: the JSON contract wins over the hint.
    assert out["thinking"] == {"type": "disabled"}
    assert out["system"] == "You are a Task Routing AI."
    assert (out["top_k"], out["top_p"], out["temperature"]) == (64, 1, 0)
    assert "output_format" not in out


@pytest.mark.parametrize(("config", "tools", "expected"), [
    ({"responseJsonSchema": None, "responseSchema": None}, None, JSON_INSTRUCTION),
    ({"responseJsonSchema": {"type": "array", "items": {"type": "string"}}}, None,
     JSON_INSTRUCTION + ' It must validate against this JSON schema: {"type":"array","items":{"type":"string"}}'),
    ({}, [{"functionDeclarations": [{"name": "ls", "parameters": {"type": "object"}}]}],
     JSON_INSTRUCTION + " It must validate against this JSON schema: " + json.dumps(LOWER, separators=(",", ":"))),
])  # fmt: skip
def test_json_without_a_forced_tool_is_a_system_instruction(
    config: dict[str, Any], tools: list[dict[str, Any]] | None, expected: str
) -> None:
    body = router_call(**config)
    body["generationConfig"] = {k: v for k, v in body["generationConfig"].items() if v is not None}
    if tools:
        body["tools"] = tools
    out = translate_request("gemini", "anthropic", body)
    assert [b["text"] for b in out["system"]] == ["You are a Task Routing AI.", expected]
    assert JSON_TOOL not in [t["name"] for t in out.get("tools", [])]


def anthropic_reply(**extra: Any) -> dict[str, Any]:
    return {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x",
            "content": [{"type": "tool_use", "id": "toolu_1", "name": JSON_TOOL, "input": ANSWER}],
            "stop_reason": "tool_use", "stop_sequence": None,
            "usage": {"input_tokens": 10, "output_tokens": 5}, **extra}


def test_the_forced_tool_call_comes_back_as_the_answer_text() -> None:
    gemini = translate_response("anthropic", "gemini", anthropic_reply())
    candidate = gemini["candidates"][0]
    assert json.loads(candidate["content"]["parts"][0]["text"]) == ANSWER
    assert candidate["finishReason"] == "STOP" and "functionCall" not in candidate["content"]["parts"][0]
    chat = translate_response("anthropic", "openai-chat", anthropic_reply())["choices"][0]
    assert json.loads(chat["message"]["content"]) == ANSWER and chat["finish_reason"] == "stop"
    assert not chat["message"].get("tool_calls")


def sse(*events: dict[str, Any]) -> bytes:
    return b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)


def forced_tool_stream(start_input: dict[str, Any], pieces: list[str]) -> bytes:
    return sse(
        {"type": "message_start", "message": {"id": "msg_1", "model": "claude-x", "usage": {"input_tokens": 10}}},
        {"type": "content_block_start", "index": 0,
         "content_block": {"type": "tool_use", "id": "toolu_1", "name": JSON_TOOL, "input": start_input}},
        *({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": p}}
          for p in pieces),
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 5}},
        {"type": "message_stop"},
    )


def gemini_stream_text(raw: bytes) -> tuple[str, list[str], list[dict[str, Any]]]:
    translator = StreamTranslator("anthropic", "gemini", "gemini-2.5-flash")
    out = translator.feed(raw) + translator.finish()
    chunks = [json.loads(line[6:]) for line in out.decode().splitlines() if line.startswith("data: ")]
    parts = [p for c in chunks for cand in c.get("candidates", []) for p in cand.get("content", {}).get("parts", [])]
    reasons = [cand["finishReason"] for c in chunks for cand in c.get("candidates", []) if cand.get("finishReason")]
    return "".join(p.get("text", "") for p in parts), reasons, parts


@pytest.mark.parametrize(("start_input", "pieces"), [
    ({}, ["", '{"reasoning": "one', ' step", "model_choice"', ': "flash"}']),
    (ANSWER, []),  # a provider that sends the whole input in the block's start
])  # fmt: skip
def test_a_streamed_forced_tool_call_streams_as_text(start_input: dict[str, Any], pieces: list[str]) -> None:
    text, reasons, parts = gemini_stream_text(forced_tool_stream(start_input, pieces))
    assert json.loads(text) == ANSWER
    assert reasons == ["STOP"] and not any("functionCall" in p for p in parts)


def test_a_client_tool_call_is_still_a_tool_call() -> None:
    raw = forced_tool_stream({}, ['{"q": 1}']).replace(JSON_TOOL.encode(), b"ls")
    _, reasons, parts = gemini_stream_text(raw)
    assert [p["functionCall"]["name"] for p in parts if "functionCall" in p] == ["ls"]
    assert reasons == ["STOP"]  # Gemini's finish reason for a function call is STOP too
    reply = anthropic_reply()
    reply["content"][0]["name"] = "ls"
    assert translate_response("anthropic", "openai-chat", reply)["choices"][0]["finish_reason"] == "tool_calls"


def test_gemini_router_call_to_openai_chat_and_responses() -> None:
    chat = translate_request("gemini", "openai-chat", router_call())
    assert chat["response_format"] == {"type": "json_schema", "json_schema": {"name": "response", "schema": LOWER}}
    assert "top_k" not in chat and chat["top_p"] == 1
    responses = translate_request("gemini", "openai-responses", router_call())
    assert responses["text"]["format"] == {"type": "json_schema", "name": "response", "schema": LOWER}
    assert "top_k" not in responses


def test_a_chat_clients_own_top_k_is_kept_for_chat() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "top_k": 20}
    assert translate_request("openai-chat", "openai-chat", body)["top_k"] == 20
