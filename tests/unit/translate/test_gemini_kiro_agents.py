"""End-to-end through the public translate API (StreamTranslator / translate_request):
an agent talking one format to a provider speaking Gemini, Kiro or Ollama keeps its tool loop
— ids and thinking signatures come back to the provider that issued them on the next turn."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import openai
from google.genai import types as genai_types

from omniroute.translate import StreamTranslator, translate_request

from .test_gemini_stream import UPSTREAM_SSE
from .test_kiro import UPSTREAM as KIRO_UPSTREAM
from .test_ollama import STREAM as OLLAMA_STREAM


def _sse_events(data: bytes) -> list[dict[str, Any]]:
    return [
        json.loads(line[6:])
        for frame in data.split(b"\n\n")
        for line in frame.split(b"\n")
        if line.startswith(b"data: ") and line != b"data: [DONE]"
    ]


def _translate(src: str, dst: str, data: bytes, step: int = 11) -> bytes:
    tr = StreamTranslator(src, dst, "client-model")
    out = b"".join(tr.feed(data[i : i + step]) for i in range(0, len(data), step))
    return out + tr.finish()


def _anthropic_message(events: list[dict[str, Any]]) -> dict[str, Any]:
    """Merge Anthropic stream events into the final message, as Claude Code does."""
    msg: dict[str, Any] = {}
    partial: dict[int, str] = {}
    for ev in events:
        t = ev["type"]
        if t == "message_start":
            msg = ev["message"]
        elif t == "content_block_start":
            msg["content"].append(dict(ev["content_block"]))
        elif t == "content_block_delta":
            block, d = msg["content"][ev["index"]], ev["delta"]
            if d["type"] == "text_delta":
                block["text"] += d["text"]
            elif d["type"] == "thinking_delta":
                block["thinking"] += d["thinking"]
            elif d["type"] == "signature_delta":
                block["signature"] = d["signature"]
            elif d["type"] == "input_json_delta":
                partial[ev["index"]] = partial.get(ev["index"], "") + d["partial_json"]
        elif t == "message_delta":
            msg["stop_reason"] = ev["delta"]["stop_reason"]
            msg["usage"].update(ev["usage"])
    for i, raw in partial.items():
        msg["content"][i]["input"] = json.loads(raw)
    return msg


def test_claude_code_over_gemini_keeps_signature_and_ids_across_turns() -> None:
    msg = _anthropic_message(_sse_events(_translate("gemini", "anthropic", UPSTREAM_SSE)))
    anthropic.types.Message.model_validate(msg)  # the SDK accepts the merged message
    assert msg["stop_reason"] == "tool_use"
    tool_use = next(b for b in msg["content"] if b["type"] == "tool_use")
    assert tool_use["input"] == {"location": "Mountain View, CA"}
    next_turn = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 1024,
        "messages": [
            {"role": "user", "content": "Which theaters show Barbie?"},
            {"role": "assistant", "content": msg["content"]},
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": tool_use["id"], "content": "AMC 16"}
                ],
            },
        ],
    }
    body = translate_request("anthropic", "gemini", next_turn)
    model_parts = body["contents"][1]["parts"]
    call = next(p for p in model_parts if "functionCall" in p)
    assert call["thoughtSignature"] == "c2ln"  # Gemini's own signature, untouched
    assert call["functionCall"]["id"] == tool_use["id"]
    response = body["contents"][2]["parts"][0]["functionResponse"]
    assert (response["id"], response["name"]) == (tool_use["id"], "find_theaters")


def test_claude_code_over_kiro_keeps_reasoning_and_tool_ids() -> None:
    msg = _anthropic_message(_sse_events(_translate("kiro", "anthropic", KIRO_UPSTREAM)))
    anthropic.types.Message.model_validate(msg)
    assert msg["stop_reason"] == "tool_use"
    assert msg["usage"]["output_tokens"] == 11
    thinking, text, tool_use = msg["content"]
    assert text == {"type": "text", "text": "Let me look."}
    assert thinking["thinking"] == "Check the file first." and tool_use["id"] == "tooluse_1"
    next_turn = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 1024,
        "system": "You are Kiro.",
        "messages": [
            {"role": "user", "content": "Open a.py"},
            {"role": "assistant", "content": msg["content"]},
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "tooluse_1", "content": "x = 1"}
                ],
            },
        ],
    }
    state = translate_request("anthropic", "kiro", next_turn)["conversationState"]
    assistant = state["history"][1]["assistantResponseMessage"]
    assert assistant["reasoningContent"] == {
        "reasoningText": {"text": "Check the file first.", "signature": "c2ln"}
    }
    assert assistant["toolUses"][0]["toolUseId"] == "tooluse_1"
    results = state["currentMessage"]["userInputMessage"]["userInputMessageContext"]["toolResults"]
    assert results[0]["toolUseId"] == "tooluse_1"


def test_openai_client_over_ollama_stream() -> None:
    chunks = _sse_events(_translate("ollama", "openai-chat", OLLAMA_STREAM))
    for chunk in chunks:
        openai.types.chat.ChatCompletionChunk.model_validate(chunk)
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    calls = [
        tc
        for c in chunks
        if c["choices"]
        for tc in c["choices"][0]["delta"].get("tool_calls") or []
    ]
    finish = [
        c["choices"][0]["finish_reason"]
        for c in chunks
        if c["choices"] and c["choices"][0]["finish_reason"]
    ]
    assert (
        text == "The sky" and calls[0]["function"]["name"] == "lookup" and finish == ["tool_calls"]
    )


def test_antigravity_client_over_kiro_upstream() -> None:
    """Antigravity (Cloud Code) client, Kiro (Claude) upstream: the chunks wrap in
    {"response": ...}, the SDK parses them, and Claude's signature — which a Gemini client
    cannot use but must hand back — travels base64-wrapped and reaches Kiro on the next turn."""
    frames = _sse_events(_translate("kiro", "gemini-cloudcode", KIRO_UPSTREAM))
    parts = [p for f in frames for p in f["response"]["candidates"][0]["content"]["parts"]]
    for f in frames:
        genai_types.GenerateContentResponse.model_validate(f["response"])
    calls = [p["functionCall"] for p in parts if "functionCall" in p]
    assert calls == [{"id": "tooluse_1", "name": "readFile", "args": {"path": "a.py"}}]
    assert frames[-1]["response"]["usageMetadata"]["promptTokenCount"] == 157
    thoughts = [p for p in parts if p.get("thought")]
    assert "".join(p["text"] for p in thoughts) == "Check the file first."
    # the client's next turn: its history as it would store it (merged model parts)
    model_parts: list[dict[str, Any]] = []
    for p in parts:
        if p.get("text") == "" and "thoughtSignature" not in p:
            continue
        model_parts.append(p)
    next_turn = {
        "model": "claude-sonnet-4.5",
        "project": "p-1",
        "request": {
            "contents": [
                {"role": "user", "parts": [{"text": "Open a.py"}]},
                {"role": "model", "parts": model_parts},
                {
                    "role": "user",
                    "parts": [
                        {
                            "functionResponse": {
                                "id": "tooluse_1",
                                "name": "readFile",
                                "response": {"output": "x = 1"},
                            }
                        }
                    ],
                },
            ]
        },
    }
    state = translate_request("gemini-cloudcode", "kiro", next_turn)["conversationState"]
    assistant = state["history"][1]["assistantResponseMessage"]
    assert assistant["reasoningContent"] == {
        "reasoningText": {"text": "Check the file first.", "signature": "c2ln"}
    }
    assert assistant["toolUses"] == [
        {"toolUseId": "tooluse_1", "name": "readFile", "input": {"path": "a.py"}}
    ]
    # …while the real Gemini API never receives a signature it did not issue
    to_gemini = translate_request("gemini-cloudcode", "gemini", next_turn)
    assert all("thoughtSignature" not in p for c in to_gemini["contents"] for p in c["parts"])
