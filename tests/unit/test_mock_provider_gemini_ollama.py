"""The mock provider's Gemini, Cloud Code and Ollama APIs through the google-genai SDK and real
sockets."""

from __future__ import annotations

import json

import httpx
from google import genai
from google.genai import types as gtypes

from tests.support.mock_provider import MockProvider

from .mock_sdk_clients import (
    CHAT_TOOLS,
    gemini_fixture,  # noqa: F401 (a fixture, used by name)
)

# --------------------------------------------------------------------------- Gemini


def test_gemini_generate_content(gemini: genai.Client, mock: MockProvider) -> None:
    result = gemini.models.generate_content(
        model="gemini-mock", contents="hi gemini",
        config=gtypes.GenerateContentConfig(system_instruction="be kind"))
    assert result.text == "mock reply from gemini-mock: hi gemini"
    usage = result.usage_metadata
    assert (usage.prompt_token_count, usage.candidates_token_count) == (4, 6)
    assert mock.requests[-1]["path"] == "/v1beta/models/gemini-mock:generateContent"
    assert gemini.models.count_tokens(model="gemini-mock", contents="a b c").total_tokens == 3


def test_gemini_stream(gemini: genai.Client) -> None:
    chunks = list(gemini.models.generate_content_stream(model="gemini-mock",
                                                        contents="stream gemini"))
    assert "".join(c.text for c in chunks) == "mock reply from gemini-mock: stream gemini"
    assert len(chunks) == 6
    assert chunks[-1].usage_metadata.total_token_count == 2 + 6


def test_gemini_function_call(gemini: genai.Client) -> None:
    tool = gtypes.Tool(function_declarations=[gtypes.FunctionDeclaration(
        name="search", parameters=gtypes.Schema(type="OBJECT", properties={
            "query": gtypes.Schema(type="STRING")}))])
    result = gemini.models.generate_content(
        model="gemini-mock", contents="run the tool",
        config=gtypes.GenerateContentConfig(tools=[tool], automatic_function_calling=gtypes.
                                            AutomaticFunctionCallingConfig(disable=True)))
    call = result.function_calls[0]
    assert (call.name, call.args) == ("search", {"query": "run the tool"})


def test_gemini_stream_without_alt_sse_is_a_json_array(mock: MockProvider) -> None:
    r = httpx.post(f"{mock.url}/v1beta/models/g:streamGenerateContent",
                   json={"contents": [{"role": "user", "parts": [{"text": "a b"}]}]})
    chunks = r.json()
    assert "".join(c["candidates"][0]["content"]["parts"][0]["text"] for c in chunks) == \
        "mock reply from g: a b"
    assert chunks[-1]["usageMetadata"]["candidatesTokenCount"] == 6


def test_cloud_code_envelope(mock: MockProvider) -> None:
    envelope = {"model": "gemini-3-pro", "project": "p-1", "request": {
        "contents": [{"role": "user", "parts": [{"text": "hello antigravity"}]}]}}
    r = httpx.post(f"{mock.url}/v1internal:generateContent", json=envelope)
    reply = r.json()["response"]
    assert reply["candidates"][0]["content"]["parts"][0]["text"] == \
        "mock reply from gemini-3-pro: hello antigravity"
    r = httpx.post(f"{mock.url}/v1internal:streamGenerateContent?alt=sse", json=envelope)
    assert r.headers["content-type"].startswith("text/event-stream")
    events = [json.loads(line[6:]) for line in r.text.splitlines() if line.startswith("data: ")]
    assert all("response" in e for e in events) and len(events) == 6  # one per reply word
    assert events[-1]["response"]["usageMetadata"]["promptTokenCount"] == 2


# --------------------------------------------------------------------------- Ollama


def test_ollama_chat_ndjson_and_single(mock: MockProvider) -> None:
    body = {"model": "llama-mock", "messages": [{"role": "user", "content": "hi ollama"}]}
    with httpx.stream("POST", f"{mock.url}/api/chat", json=body) as r:
        assert r.headers["content-type"] == "application/x-ndjson"
        lines = [json.loads(line) for line in r.iter_lines() if line]
    assert "".join(x["message"]["content"] for x in lines) == \
        "mock reply from llama-mock: hi ollama"
    assert lines[-1]["done"] and (lines[-1]["prompt_eval_count"], lines[-1]["eval_count"]) == \
        (2, 6)
    single = httpx.post(f"{mock.url}/api/chat", json={**body, "stream": False}).json()
    assert single["done"] and single["message"]["content"].endswith("hi ollama")
    tool = httpx.post(f"{mock.url}/api/chat", json={
        "model": "llama-mock", "stream": False, "tools": CHAT_TOOLS,
        "messages": [{"role": "user", "content": "tool please"}]}).json()
    assert tool["message"]["tool_calls"][0]["function"] == {
        "name": "search", "arguments": {"query": "tool please"}}
    tags = httpx.get(f"{mock.url}/api/tags").json()
    assert tags["models"][0]["name"] == "mock-model:latest"

