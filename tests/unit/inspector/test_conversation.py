"""Normalized conversation view and context keys across formats."""

from __future__ import annotations

import hashlib

from omniroute.inspector.conversation import context_key, conversation_view, system_prompt
from omniroute.inspector.merge import merge_stream

from .test_merge import ANTHROPIC_EVENTS, GEMINI, OPENAI_CHAT, sse

PROMPT_A = "You are Claude Code, Anthropic's official CLI for Claude."
PROMPT_B = "Be concise.\nUse tools."


def test_context_key_definition() -> None:
    assert context_key(None) is None and context_key("") is None
    assert context_key("abc") == hashlib.sha256(b"abc").hexdigest()[:12]


def test_same_prompt_same_key_across_formats() -> None:
    anthropic = {"system": [{"type": "text", "text": PROMPT_A},
                            {"type": "text", "text": PROMPT_B + "\n",
                             "cache_control": {"type": "ephemeral"}}], "messages": []}
    openai = {"messages": [{"role": "system", "content": PROMPT_A},
                           {"role": "system", "content": [{"type": "text", "text": PROMPT_B}]},
                           {"role": "user", "content": "hi"}]}
    gemini = {"systemInstruction": {"parts": [{"text": PROMPT_A}, {"text": PROMPT_B}]},
              "contents": []}
    cloudcode = {"model": "gemini-2.5-pro", "request": gemini}
    responses = {"instructions": PROMPT_A,
                 "input": [{"type": "message", "role": "developer",
                            "content": [{"type": "input_text", "text": PROMPT_B}]}]}
    ollama = {"messages": [{"role": "system", "content": PROMPT_A},
                           {"role": "system", "content": PROMPT_B}]}
    keys = {context_key(system_prompt(b, f)) for b, f in [
        (anthropic, "anthropic"), (openai, "openai-chat"), (gemini, "gemini"),
        (cloudcode, "gemini-cloudcode"), (responses, "openai-responses"), (ollama, "ollama")]}
    assert len(keys) == 1 and None not in keys
    assert system_prompt(anthropic) == f"{PROMPT_A}\n\n{PROMPT_B}"


def test_openai_chat_view() -> None:
    req = {"model": "gpt-4o", "messages": [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": [{"type": "text", "text": "what is this?"},
                                     {"type": "image_url",
                                      "image_url": {"url": "data:image/png;base64,AAAA"}}]},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{\"a\":1}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "result"}],
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]}
    view = conversation_view(req, merge_stream(OPENAI_CHAT).message, "openai-chat")
    assert view["system"] == "sys" and view["tools"] == ["f"] and view["model"] == "gpt-4o"
    roles = [m["role"] for m in view["messages"]]
    assert roles == ["user", "assistant", "tool", "assistant"]
    assert view["messages"][0]["content"][1] == {"type": "image", "mediaType": "image/png",
                                                 "bytes": 3}
    assert view["messages"][1]["content"][0]["arguments"] == {"a": 1}
    assert view["messages"][2]["content"][0] == {"type": "tool_result", "id": "c1",
                                                 "content": "result"}
    last = view["messages"][-1]["content"]
    assert last[0] == {"type": "text", "text": "Let me check."}
    assert [p["name"] for p in last[1:]] == ["read_file", "ls"]
    assert view["usage"] == {"input": 120, "output": 30, "cached": 64, "reasoning": None}


def test_anthropic_view() -> None:
    req = {"model": "claude-sonnet-4-5", "system": PROMPT_A, "messages": [
        {"role": "user", "content": "list files"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Bash",
                                           "input": {"command": "ls"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1",
                                      "content": [{"type": "text", "text": "a.py"}],
                                      "is_error": False}]}],
        "tools": [{"name": "Bash", "input_schema": {}}]}
    resp = merge_stream(sse(*ANTHROPIC_EVENTS, named=True)).message
    view = conversation_view(req, resp, "anthropic")
    assert view["system"] == PROMPT_A and view["tools"] == ["Bash"]
    assert view["messages"][2]["content"][0] == {"type": "tool_result", "id": "t1",
                                                 "content": "a.py"}
    reply = view["messages"][-1]["content"]
    assert [p["type"] for p in reply] == ["thinking", "text", "tool_call"]
    assert reply[2]["arguments"] == {"command": "ls -la"}
    assert view["usage"] == {"input": 1025, "output": 42, "cached": 1000, "reasoning": None}


def test_gemini_and_cloudcode_view() -> None:
    inner = {"systemInstruction": {"parts": [{"text": "sys"}]}, "contents": [
        {"role": "user", "parts": [{"text": "hi"},
                                   {"inlineData": {"mimeType": "image/png", "data": "AAAA"}}]},
        {"role": "model", "parts": [{"functionCall": {"name": "run", "args": {"x": 1}}}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "run",
                                                         "response": {"ok": True}}}]}],
        "tools": [{"functionDeclarations": [{"name": "run"}]}]}
    resp = merge_stream(sse(*GEMINI)).message
    for req, fmt, r in ((inner, "gemini", resp),
                        ({"model": "gemini-2.5-pro", "request": inner}, "gemini-cloudcode",
                         {"response": resp})):
        view = conversation_view(req, r, fmt)
        assert view["system"] == "sys" and view["tools"] == ["run"]
        assert [m["role"] for m in view["messages"]] == ["user", "assistant", "user", "assistant"]
        assert view["messages"][0]["content"][1] == {"type": "image", "mediaType": "image/png",
                                                     "bytes": 3}
        assert view["messages"][2]["content"][0]["type"] == "tool_result"
        reply = view["messages"][-1]["content"]
        assert reply[0] == {"type": "thinking", "text": "Plan: look first"}
        assert view["usage"] == {"input": 10, "output": 8, "cached": None, "reasoning": 3}


def test_responses_and_ollama_view() -> None:
    req = {"model": "gpt-5-codex", "instructions": "sys", "input": [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]},
        {"type": "function_call", "call_id": "c1", "name": "shell", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "done"}],
        "tools": [{"type": "function", "name": "shell"}]}
    resp = {"output": [{"type": "message", "role": "assistant",
                        "content": [{"type": "output_text", "text": "ok"}]}],
            "usage": {"input_tokens": 9, "output_tokens": 2,
                      "input_tokens_details": {"cached_tokens": 4},
                      "output_tokens_details": {"reasoning_tokens": 1}}}
    view = conversation_view(req, resp, "openai-responses")
    assert view["system"] == "sys" and view["tools"] == ["shell"]
    assert [m["role"] for m in view["messages"]] == ["user", "assistant", "tool", "assistant"]
    assert view["messages"][2]["content"][0]["content"] == "done"
    assert view["usage"] == {"input": 9, "output": 2, "cached": 4, "reasoning": 1}
    oll = conversation_view({"model": "qwen3", "messages": [{"role": "user", "content": "hi"}]},
                            {"message": {"role": "assistant", "content": "yo"},
                             "prompt_eval_count": 3, "eval_count": 1}, "ollama")
    assert oll["messages"][-1]["content"] == [{"type": "text", "text": "yo"}]
    assert oll["usage"]["input"] == 3


def test_garbage_degrades() -> None:
    view = conversation_view("not a dict", 42, None)
    assert view["messages"] == [] and view["system"] is None
