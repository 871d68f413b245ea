"""The mock provider's OpenAI APIs through the official SDK and real sockets: Chat Completions,
Responses (HTTP and WebSocket), embeddings (faults: test_mock_faults.py)."""

from __future__ import annotations

import base64
import json
import struct

import httpx
import openai
import pytest
from websockets.sync.client import connect as ws_connect

from tests.support.mock_openai import embedding_vector
from tests.support.mock_provider import MockProvider

from .mock_sdk_clients import (
    CHAT_TOOLS,
    oai_fixture,  # noqa: F401 (a fixture, used by name)
)

# --------------------------------------------------------------------------- OpenAI chat


def test_chat_completion_names_model_and_counts_words(oai: openai.OpenAI,
                                                      mock: MockProvider) -> None:
    result = oai.chat.completions.create(model="gpt-mock", messages=[
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hello there world"}])
    assert result.choices[0].message.content == "mock reply from gpt-mock: hello there world"
    assert result.choices[0].finish_reason == "stop"
    assert result.model == "gpt-mock"
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (5, 7)
    assert mock.requests[0]["body"]["messages"][1]["content"] == "hello there world"


def test_chat_stream_word_deltas_usage_and_done(oai: openai.OpenAI,
                                                mock: MockProvider) -> None:
    stream = oai.chat.completions.create(
        model="gpt-mock", stream=True, stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "one two three"}])
    chunks = list(stream)
    deltas = [c.choices[0].delta.content for c in chunks if c.choices and
              c.choices[0].delta.content]
    assert "".join(deltas) == "mock reply from gpt-mock: one two three"
    assert len(deltas) == 7  # one delta per word
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (3, 7)
    raw = httpx.post(f"{mock.url}/v1/chat/completions", json={
        "model": "m", "stream": True, "messages": [{"role": "user", "content": "x"}]})
    assert raw.headers["content-type"].startswith("text/event-stream")
    assert raw.text.endswith("data: [DONE]\n\n")
    assert '"usage"' not in raw.text  # no usage chunk unless include_usage is asked


def test_chat_tool_call(oai: openai.OpenAI) -> None:
    result = oai.chat.completions.create(
        model="gpt-mock", tools=CHAT_TOOLS,
        messages=[{"role": "user", "content": "please use the tool"}])
    choice = result.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]
    assert call.function.name == "search"
    assert json.loads(call.function.arguments) == {"query": "please use the tool"}


def test_chat_tool_call_streamed_as_argument_deltas(oai: openai.OpenAI) -> None:
    with oai.chat.completions.stream(
            model="gpt-mock", tools=CHAT_TOOLS,
            messages=[{"role": "user", "content": "tool time now"}]) as stream:
        argument_deltas = [e.arguments_delta for e in stream
                           if e.type == "tool_calls.function.arguments.delta"]
        final = stream.get_final_completion()
    assert [d for d in argument_deltas if d] == ['{"query":"tool ', "time ", 'now"}']
    call = final.choices[0].message.tool_calls[0]
    assert final.choices[0].finish_reason == "tool_calls"
    assert json.loads(call.function.arguments) == {"query": "tool time now"}


def test_chat_after_tool_result_answers_with_text(oai: openai.OpenAI) -> None:
    result = oai.chat.completions.create(model="gpt-mock", tools=CHAT_TOOLS, messages=[
        {"role": "user", "content": "use the tool"},
        {"role": "assistant", "content": None, "tool_calls": [{
            "id": "c1", "type": "function",
            "function": {"name": "search", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "found it"}])
    assert result.choices[0].message.content == "mock reply from gpt-mock: use the tool"
    assert result.usage.prompt_tokens == 5  # tool result text counts as message text


# --------------------------------------------------------------------------- OpenAI Responses


def test_responses_json(oai: openai.OpenAI) -> None:
    result = oai.responses.create(model="gpt-r", input="hello responses",
                                  instructions="you are terse")
    assert result.output_text == "mock reply from gpt-r: hello responses"
    assert result.status == "completed"
    assert (result.usage.input_tokens, result.usage.output_tokens) == (5, 6)


def test_responses_stream_event_sequence(oai: openai.OpenAI) -> None:
    with oai.responses.stream(model="gpt-r", input=[
            {"role": "user", "content": [{"type": "input_text", "text": "stream me"}]}]) as s:
        types = [event.type for event in s]
        final = s.get_final_response()
    assert final.output_text == "mock reply from gpt-r: stream me"
    assert final.usage.output_tokens == 6
    assert types[:4] == ["response.created", "response.in_progress",
                         "response.output_item.added", "response.content_part.added"]
    assert types.count("response.output_text.delta") == 6
    assert types[-4:] == ["response.output_text.done", "response.content_part.done",
                          "response.output_item.done", "response.completed"]


def test_responses_function_call(oai: openai.OpenAI) -> None:
    tools = [{"type": "function", "name": "lookup",
              "parameters": {"type": "object", "properties": {}}}]
    result = oai.responses.create(model="gpt-r", input="call the tool", tools=tools)
    item = result.output[0]
    assert (item.type, item.name) == ("function_call", "lookup")
    assert json.loads(item.arguments) == {"query": "call the tool"}
    with oai.responses.stream(model="gpt-r", input="call the tool", tools=tools) as s:
        types = [event.type for event in s]
        final = s.get_final_response()
    assert "response.function_call_arguments.delta" in types
    assert json.loads(final.output[0].arguments) == {"query": "call the tool"}


def test_responses_websocket_like_codex(mock: MockProvider) -> None:
    create = {"type": "response.create", "model": "gpt-codex", "instructions": "sys",
              "input": [{"type": "message", "role": "user",
                         "content": [{"type": "input_text", "text": "hi over ws"}]}]}
    with ws_connect(f"{mock.ws_url}/v1/responses",
                    additional_headers={"openai-beta": "responses_websockets=2026-02-04"}) as ws:
        for turn in range(2):  # the socket stays open for the next response.create
            ws.send(json.dumps(create))
            events = []
            while not events or events[-1]["type"] != "response.completed":
                events.append(json.loads(ws.recv(timeout=5)))
            text = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
            assert text == "mock reply from gpt-codex: hi over ws"
            assert events[0]["type"] == "response.created"
            assert events[-1]["response"]["usage"]["input_tokens"] == 4
            assert [e["sequence_number"] for e in events] == list(range(len(events)))
    record = mock.requests_to("/v1/responses")[0]
    assert record["kind"] == "websocket"
    assert record["headers"]["openai-beta"].startswith("responses_websockets")
    client_frames = [f["data"] for f in record["frames"] if f["from"] == "client"]
    assert client_frames == [create, create]
    assert sum(f["from"] == "server" for f in record["frames"]) == 2 * len(events)


# --------------------------------------------------------------------------- embeddings, models


def test_embeddings_deterministic(oai: openai.OpenAI, mock: MockProvider) -> None:
    first = oai.embeddings.create(model="emb", input=["alpha beta", "gamma"])
    again = oai.embeddings.create(model="emb", input="alpha beta", dimensions=16)
    assert len(first.data) == 2 and len(first.data[0].embedding) == 8
    assert len(again.data[0].embedding) == 16
    assert first.data[0].embedding == pytest.approx(embedding_vector("alpha beta", 8))
    assert first.data[0].embedding != first.data[1].embedding
    assert first.usage.prompt_tokens == 3
    raw = httpx.post(f"{mock.url}/v1/embeddings",
                     json={"model": "e", "input": "alpha beta", "encoding_format": "base64"})
    packed = base64.b64decode(raw.json()["data"][0]["embedding"])
    assert list(struct.unpack("<8f", packed)) == pytest.approx(embedding_vector("alpha beta", 8))


