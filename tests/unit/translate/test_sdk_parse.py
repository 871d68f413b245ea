"""Translated outputs are read by the official SDKs — non-streamed bodies through their
models, streams through their own stream helpers (served from an httpx.MockTransport)."""

from __future__ import annotations

import json
from collections.abc import Callable

import anthropic
import httpx
import httpx2  # the anthropic SDK ships its own httpx fork and rejects httpx objects
import openai
import pytest
from openai.types.chat import ChatCompletion
from openai.types.responses import Response

from omniroute.translate import StreamTranslator, translate_response

# One upstream answer per source format: thinking, text and a tool call, with usage.
CHAT_CHUNKS = [
    {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o",
     "choices": [{"index": 0, "delta": {"role": "assistant", "reasoning_content": "Think"}}]},
    {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o",
     "choices": [{"index": 0, "delta": {"content": "Let me check "}}]},
    {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o",
     "choices": [{"index": 0, "delta": {"content": "the weather."}}]},
    {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o",
     "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "call_abc", "type": "function",
                                                       "function": {"name": "get_weather", "arguments": ""}}]}}]},
    {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o",
     "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{\"city\": "}}]}}]},
    {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o",
     "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "\"Paris\"}"}}]}}]},
    {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o",
     "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
    {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o", "choices": [],
     "usage": {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150,
               "prompt_tokens_details": {"cached_tokens": 100},
               "completion_tokens_details": {"reasoning_tokens": 10}}},
]  # fmt: skip
CHAT_SSE = b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in CHAT_CHUNKS) + b"data: [DONE]\n\n"

CHAT_BODY = {
    "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o",
    "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
        "role": "assistant", "content": "Let me check the weather.", "reasoning_content": "Think",
        "tool_calls": [{"id": "call_abc", "type": "function",
                        "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]}}],
    "usage": {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150,
              "prompt_tokens_details": {"cached_tokens": 100},
              "completion_tokens_details": {"reasoning_tokens": 10}},
}  # fmt: skip


def _source(fmt: str) -> bytes:
    """The same answer as an upstream stream in ``fmt`` (chat translated, then re-checked)."""
    if fmt == "openai-chat":
        return CHAT_SSE
    t = StreamTranslator("openai-chat", fmt, "upstream-model")
    return t.feed(CHAT_SSE) + t.finish()


def _client_stream(src: str, dst: str, split: int = 13) -> bytes:
    data = _source(src)
    t = StreamTranslator(src, dst, "client-model")
    out = b"".join(t.feed(data[i : i + split]) for i in range(0, len(data), split))
    return out + t.finish()


def _transport(payload: bytes, content_type: str = "text/event-stream", lib=httpx):
    def handler(request):
        return lib.Response(200, content=payload, headers={"content-type": content_type})

    return lib.MockTransport(handler)


def _openai(payload: bytes, ct: str = "text/event-stream") -> openai.OpenAI:
    return openai.OpenAI(api_key="k", base_url="http://test/v1",
                         http_client=httpx.Client(transport=_transport(payload, ct)), max_retries=0)  # fmt: skip


def _anthropic(payload: bytes, ct: str = "text/event-stream") -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="k", base_url="http://test",
                               http_client=httpx2.Client(transport=_transport(payload, ct, httpx2)), max_retries=0)  # fmt: skip


SOURCES = ["openai-chat", "anthropic", "openai-responses"]


@pytest.mark.parametrize("src", SOURCES)
def test_openai_chat_sdk_stream(src: str) -> None:
    client = _openai(_client_stream(src, "openai-chat"))
    stream = client.chat.completions.create(model="m", messages=[], stream=True)
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    args = "".join(
        tc.function.arguments or ""
        for c in chunks if c.choices
        for tc in c.choices[0].delta.tool_calls or []
    )  # fmt: skip
    ids = [tc.id for c in chunks if c.choices for tc in c.choices[0].delta.tool_calls or [] if tc.id]
    assert text == "Let me check the weather."
    assert ids == ["call_abc"] and json.loads(args) == {"city": "Paris"}
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["tool_calls"]
    usage = chunks[-1].usage
    assert usage is not None and usage.prompt_tokens == 120 and usage.completion_tokens == 30
    assert usage.prompt_tokens_details.cached_tokens == 100


@pytest.mark.parametrize("src", SOURCES)
def test_openai_chat_sdk_stream_helper(src: str) -> None:
    client = _openai(_client_stream(src, "openai-chat"))
    with client.chat.completions.stream(model="m", messages=[]) as stream:
        final = stream.get_final_completion()
    msg = final.choices[0].message
    assert msg.content == "Let me check the weather."
    assert msg.tool_calls[0].id == "call_abc"
    assert json.loads(msg.tool_calls[0].function.arguments) == {"city": "Paris"}
    assert final.usage.total_tokens == 150


@pytest.mark.parametrize("src", SOURCES)
def test_anthropic_sdk_stream(src: str) -> None:
    client = _anthropic(_client_stream(src, "anthropic"))
    with client.messages.stream(model="m", max_tokens=100, messages=[]) as stream:
        final = stream.get_final_message()
    kinds = [b.type for b in final.content]
    assert kinds == ["thinking", "text", "tool_use"]
    assert final.content[0].thinking == "Think"
    assert final.content[1].text == "Let me check the weather."
    tool = final.content[2]
    assert tool.id == "call_abc" and tool.name == "get_weather" and tool.input == {"city": "Paris"}
    assert final.stop_reason == "tool_use"
    # IR input = 120 of which 100 cached → Anthropic input_tokens excludes the cached part
    assert final.usage.input_tokens == 20 and final.usage.cache_read_input_tokens == 100
    assert final.usage.output_tokens == 30


@pytest.mark.parametrize("src", SOURCES)
def test_openai_responses_sdk_stream(src: str) -> None:
    client = _openai(_client_stream(src, "openai-responses"))
    with client.responses.stream(model="m", input="hi") as stream:
        events = [e.type for e in stream]
        final = stream.get_final_response()
    assert events[0] == "response.created" and events[-1] == "response.completed"
    assert final.output_text == "Let me check the weather."
    calls = [o for o in final.output if o.type == "function_call"]
    assert [(c.call_id, c.name, json.loads(c.arguments)) for c in calls] == [
        ("call_abc", "get_weather", {"city": "Paris"})
    ]
    reasoning = [o for o in final.output if o.type == "reasoning"]
    assert reasoning[0].summary[0].text == "Think"
    assert final.usage.input_tokens == 120 and final.usage.output_tokens == 30
    assert final.usage.output_tokens_details.reasoning_tokens == 10


def _nonstream(dst: str) -> dict:
    return translate_response("openai-chat", dst, CHAT_BODY)


def test_openai_chat_sdk_model_validate() -> None:
    for src in SOURCES:
        body = translate_response(src, "openai-chat", translate_response("openai-chat", src, CHAT_BODY))
        c = ChatCompletion.model_validate(body)
        assert c.choices[0].message.content == "Let me check the weather."
        assert c.choices[0].message.tool_calls[0].id == "call_abc"
        assert c.usage.completion_tokens_details.reasoning_tokens == 10


def test_anthropic_sdk_nonstream() -> None:
    client = _anthropic(json.dumps(_nonstream("anthropic")).encode(), "application/json")
    msg = client.messages.create(model="m", max_tokens=10, messages=[])
    assert [b.type for b in msg.content] == ["thinking", "text", "tool_use"]
    assert msg.content[2].input == {"city": "Paris"} and msg.stop_reason == "tool_use"
    assert msg.usage.cache_read_input_tokens == 100


def test_openai_responses_sdk_nonstream() -> None:
    r = Response.model_validate(_nonstream("openai-responses"))
    assert r.output_text == "Let me check the weather."
    client = _openai(json.dumps(_nonstream("openai-responses")).encode(), "application/json")
    r2 = client.responses.create(model="m", input="hi")
    assert r2.usage.input_tokens_details.cached_tokens == 100


ERRORS: list[tuple[str, Callable[[bytes], object], type[Exception]]] = [
    ("openai-chat", lambda p: list(_openai(p).chat.completions.create(model="m", messages=[], stream=True)), openai.APIError),
    ("anthropic", lambda p: _anthropic(p).messages.stream(model="m", max_tokens=1, messages=[]).__enter__().get_final_message(), anthropic.APIStatusError),
]  # fmt: skip


@pytest.mark.parametrize(("dst", "consume", "exc"), ERRORS)
def test_midstream_error_raises_in_sdk(dst: str, consume, exc) -> None:
    t = StreamTranslator("openai-chat", dst, "m")
    half = CHAT_SSE[: len(CHAT_SSE) // 2]
    payload = t.feed(half) + t.error("upstream connection reset", 502)
    assert t.finish() == b""  # nothing may follow the error event
    with pytest.raises(exc, match="upstream connection reset"):
        consume(payload)


def test_midstream_error_responses_events() -> None:
    t = StreamTranslator("anthropic", "openai-responses", "m")
    upstream = _source("anthropic")
    err = b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n'
    head = b"\n\n".join(upstream.split(b"\n\n")[:5]) + b"\n\n"  # message_start … first deltas
    payload = t.feed(head + err)
    client = _openai(payload)
    with client.responses.stream(model="m", input="hi") as stream:
        kinds = [e.type for e in stream]
    assert kinds[0] == "response.created" and kinds[-2:] == ["error", "response.failed"]
    assert "response.completed" not in kinds
    assert b'"type":"error"' in payload and b"response.failed" in payload and b"Overloaded" in payload
