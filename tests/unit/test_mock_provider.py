"""The mock provider through the official SDKs and real sockets (faults: test_mock_faults.py)."""

from __future__ import annotations

import base64
import json
import struct
import subprocess
import sys
import time
from collections.abc import Iterator

import anthropic
import httpx
import openai
import pytest
from google import genai
from google.genai import types as gtypes
from websockets.sync.client import connect as ws_connect

from omniroute.testing.mock_openai import embedding_vector
from omniroute.testing.mock_provider import MockProvider

CHAT_TOOLS = [{"type": "function", "function": {
    "name": "search", "parameters": {"type": "object", "properties": {
        "query": {"type": "string"}}}}}]


@pytest.fixture(scope="module")
def mock() -> Iterator[MockProvider]:
    with MockProvider() as provider:
        yield provider


@pytest.fixture(autouse=True)
def _fresh(mock: MockProvider) -> None:
    mock.clear()
    mock.clear_faults()


@pytest.fixture
def oai(mock: MockProvider) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{mock.url}/v1", api_key="sk-test", max_retries=0)


@pytest.fixture
def claude(mock: MockProvider) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=mock.url, api_key="sk-ant-test", max_retries=0)


@pytest.fixture
def gemini(mock: MockProvider) -> genai.Client:
    return genai.Client(api_key="g-test", http_options={"base_url": mock.url})


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


# --------------------------------------------------------------------------- Anthropic


def test_anthropic_message(claude: anthropic.Anthropic) -> None:
    msg = claude.messages.create(model="claude-mock", max_tokens=64, system="sys prompt",
                                 messages=[{"role": "user", "content": "hello claude"}])
    assert msg.content[0].text == "mock reply from claude-mock: hello claude"
    assert msg.stop_reason == "end_turn"
    assert (msg.usage.input_tokens, msg.usage.output_tokens) == (4, 6)


def test_anthropic_stream_helper(claude: anthropic.Anthropic, mock: MockProvider) -> None:
    with claude.messages.stream(model="claude-mock", max_tokens=64, messages=[
            {"role": "user", "content": [{"type": "text", "text": "stream this please"}]}]) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    assert text == "mock reply from claude-mock: stream this please"
    assert final.usage.output_tokens == 7 and final.usage.input_tokens == 3
    raw = httpx.post(f"{mock.url}/v1/messages", json={
        "model": "c", "stream": True, "max_tokens": 5,
        "messages": [{"role": "user", "content": "x"}]}).text
    names = [line[7:] for line in raw.splitlines() if line.startswith("event: ")]
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert names[-4:] == ["content_block_delta", "content_block_stop", "message_delta",
                          "message_stop"]


def test_anthropic_thinking_and_tool_use_streamed(claude: anthropic.Anthropic) -> None:
    with claude.messages.stream(
            model="claude-mock", max_tokens=2048,
            thinking={"type": "enabled", "budget_tokens": 1024},
            tools=[{"name": "search", "input_schema": {"type": "object"}}],
            messages=[{"role": "user", "content": "use the tool"}]) as s:
        kinds = [e.type for e in s]
        final = s.get_final_message()
    assert [b.type for b in final.content] == ["thinking", "tool_use"]
    assert final.content[0].thinking == "mock thinking from claude-mock"
    assert final.content[0].signature
    assert final.content[1].input == {"query": "use the tool"}
    assert final.stop_reason == "tool_use"
    assert "signature" in kinds and "input_json" in kinds
    assert final.usage.output_tokens == 3 + 4  # arguments words + thinking words


def test_anthropic_beta_query_and_count_tokens(claude: anthropic.Anthropic,
                                               mock: MockProvider) -> None:
    # Claude Code posts to /v1/messages?beta=true (this SDK's beta client no longer does).
    r = httpx.post(f"{mock.url}/v1/messages?beta=true", json={
        "model": "claude-mock", "max_tokens": 10,
        "messages": [{"role": "user", "content": "beta hi"}]})
    assert r.json()["content"][0]["text"] == "mock reply from claude-mock: beta hi"
    assert mock.requests[-1]["query"] == {"beta": "true"}
    count = claude.messages.count_tokens(model="claude-mock", system="a b", messages=[
        {"role": "user", "content": "one two three"}])
    assert count.input_tokens == 5


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


def test_model_lists(oai: openai.OpenAI, claude: anthropic.Anthropic,
                     gemini: genai.Client) -> None:
    assert [m.id for m in oai.models.list()] == ["mock-model", "mock-fast", "mock-large"]
    assert oai.models.retrieve("anything").id == "anything"
    assert [m.id for m in claude.models.list()][0] == "mock-model"
    assert [m.name for m in gemini.models.list()][0] == "models/mock-model"


# --------------------------------------------------------------------------- recording, control


def test_recording_via_api_and_object(mock: MockProvider) -> None:
    httpx.post(f"{mock.url}/v1/chat/completions?trace=1",
               headers={"Authorization": "Bearer sk-x", "X-Custom": "yes"},
               json={"model": "m", "messages": [{"role": "user", "content": "rec"}]})
    httpx.post(f"{mock.url}/v1/messages", content=b"not json",
               headers={"content-type": "application/json"})
    httpx.get(f"{mock.url}/unknown/path")
    listed = httpx.get(f"{mock.url}/_mock/requests").json()
    assert listed == mock.requests  # control calls themselves are not recorded
    first, bad, unknown = listed
    assert (first["method"], first["path"], first["query"]) == \
        ("POST", "/v1/chat/completions", {"trace": "1"})
    assert first["headers"]["x-custom"] == "yes" and first["model"] == "m"
    assert first["body"]["messages"][0]["content"] == "rec"
    assert bad["body"] is None and bad["body_text"] == "not json"
    assert unknown["path"] == "/unknown/path"
    assert httpx.delete(f"{mock.url}/_mock/requests").status_code == 200
    assert mock.requests == [] and httpx.get(f"{mock.url}/_mock/requests").json() == []


def test_bad_requests_answer_in_endpoint_format(mock: MockProvider) -> None:
    r = httpx.post(f"{mock.url}/v1/messages", content=b"{oops")
    assert r.status_code == 400 and r.json()["type"] == "error"
    r = httpx.post(f"{mock.url}/v1/chat/completions", json={"messages": []})
    assert r.status_code == 400 and r.json()["error"]["message"] == "model is required"


def test_default_delay_before_first_byte() -> None:
    with MockProvider(delay_ms=150) as slow:
        start = time.perf_counter()
        r = httpx.post(f"{slow.url}/v1/chat/completions",
                       json={"model": "m", "messages": [{"role": "user", "content": "x"}]})
        assert r.status_code == 200 and time.perf_counter() - start >= 0.15
        assert httpx.get(f"{slow.url}/_mock/health").json() == {"ok": True}


def test_cli_prints_url_and_serves() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "omniroute.testing.mock_provider",
                             "--port", "0", "--delay-ms", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("mock provider listening on http://127.0.0.1:")
        url = line.rsplit(" ", 1)[-1]
        r = httpx.post(f"{url}/v1/chat/completions",
                       json={"model": "cli", "messages": [{"role": "user", "content": "up"}]})
        assert r.json()["choices"][0]["message"]["content"] == "mock reply from cli: up"
        port = url.rsplit(":", 1)[-1]
        busy = subprocess.run([sys.executable, "-m", "omniroute.testing.mock_provider",
                               "--port", port], capture_output=True, text=True, timeout=30)
        assert busy.returncode != 0
        assert busy.stderr.count("\n") == 1 and f":{port}" in busy.stderr
    finally:
        proc.terminate()
        proc.wait(timeout=10)
