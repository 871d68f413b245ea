"""Bedrock Converse ↔ IR: bodies as the Bedrock Runtime API reference shows them, streams
framed as AWS event streams (decoded by botocore's own parser where we encode)."""

from __future__ import annotations

import json

from botocore.eventstream import EventStreamBuffer

from omniroute.translate import StreamTranslator, get_format, translate_request, translate_response
from omniroute.translate.bedrock_stream import event_bytes
from omniroute.translate.eventstream import Message, encode_message

CONVERSE_RESPONSE = {
    "output": {"message": {"role": "assistant", "content": [
        {"reasoningContent": {"reasoningText": {"text": "Paris weather needed", "signature": "sig-1"}}},
        {"text": "Let me check."},
        {"toolUse": {"toolUseId": "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q", "name": "top_song", "input": {"sign": "WZPZ"}}},
    ]}},
    "stopReason": "tool_use",
    "usage": {"inputTokens": 375, "outputTokens": 36, "totalTokens": 411, "cacheReadInputTokens": 100},
    "metrics": {"latencyMs": 2579},
}


def test_openai_request_to_converse() -> None:
    body = {
        "model": "ignored", "max_tokens": 512, "temperature": 0.2, "stop": ["END"],
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": [{"type": "text", "text": "look"},
                                         {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,AAAA"}}]},
            {"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function",
                                                  "function": {"name": "top_song", "arguments": '{"sign":"WZPZ"}'}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "Elemental Hotel"},
        ],
        "tools": [{"type": "function", "function": {"name": "top_song", "description": "Most popular song",
                                                    "parameters": {"type": "object", "properties": {"sign": {"type": "string"}}}}}],
        "tool_choice": "required",
    }
    converse = translate_request("openai-chat", "bedrock", body)
    assert "model" not in converse and "modelId" not in converse  # the model id is in the URL
    assert converse["system"] == [{"text": "be brief"}]
    assert converse["inferenceConfig"] == {"maxTokens": 512, "temperature": 0.2, "stopSequences": ["END"]}
    assert converse["messages"] == [
        {"role": "user", "content": [{"text": "look"}, {"image": {"format": "jpeg", "source": {"bytes": "AAAA"}}}]},
        {"role": "assistant", "content": [{"toolUse": {"toolUseId": "call_1", "name": "top_song", "input": {"sign": "WZPZ"}}}]},
        {"role": "user", "content": [{"toolResult": {"toolUseId": "call_1", "content": [{"text": "Elemental Hotel"}],
                                                     "status": "success"}}]},
    ]
    assert converse["toolConfig"] == {
        "tools": [{"toolSpec": {"name": "top_song", "description": "Most popular song",
                                "inputSchema": {"json": {"type": "object", "properties": {"sign": {"type": "string"}}}}}}],
        "toolChoice": {"any": {}},
    }


def test_anthropic_cache_control_becomes_cache_points_and_back() -> None:
    body = {"model": "m", "max_tokens": 10,
            "system": [{"type": "text", "text": "long prompt", "cache_control": {"type": "ephemeral"}}],
            "messages": [{"role": "user", "content": "hi"}]}
    converse = translate_request("anthropic", "bedrock", body)
    assert converse["system"] == [{"text": "long prompt"}, {"cachePoint": {"type": "default"}}]
    back = translate_request("bedrock", "anthropic", converse)
    assert back["system"] == [{"type": "text", "text": "long prompt", "cache_control": {"type": "ephemeral"}}]


def test_thinking_goes_to_additional_fields() -> None:
    converse = translate_request("anthropic", "bedrock", {
        "model": "m", "max_tokens": 8000, "thinking": {"type": "enabled", "budget_tokens": 2048},
        "messages": [{"role": "user", "content": "think"}]})
    assert converse["additionalModelRequestFields"] == {"thinking": {"type": "enabled", "budget_tokens": 2048}}
    assert converse["inferenceConfig"] == {"maxTokens": 8000}


def test_converse_response_to_openai_and_anthropic() -> None:
    chat = translate_response("bedrock", "openai-chat", CONVERSE_RESPONSE)
    choice = chat["choices"][0]
    assert choice["finish_reason"] == "tool_calls" and choice["message"]["content"] == "Let me check."
    assert choice["message"]["tool_calls"][0]["function"] == {"name": "top_song", "arguments": '{"sign":"WZPZ"}'}
    # Bedrock's inputTokens leaves out the cache reads; OpenAI's prompt_tokens includes them.
    assert chat["usage"]["prompt_tokens"] == 475 and chat["usage"]["completion_tokens"] == 36
    message = translate_response("bedrock", "anthropic", CONVERSE_RESPONSE)
    assert message["stop_reason"] == "tool_use" and message["usage"]["input_tokens"] == 375
    assert [b["type"] for b in message["content"]] == ["thinking", "text", "tool_use"]


def _stream(*events: tuple[str, dict]) -> bytes:
    return b"".join(event_bytes(name, {**payload, "p": "abcdefghijkl"}) for name, payload in events)


CONVERSE_STREAM = _stream(
    ("messageStart", {"role": "assistant"}),
    ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Hello"}}),
    ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": " there"}}),
    ("contentBlockStop", {"contentBlockIndex": 0}),
    ("contentBlockStart", {"contentBlockIndex": 1, "start": {"toolUse": {"toolUseId": "tooluse_1", "name": "top_song"}}}),
    ("contentBlockDelta", {"contentBlockIndex": 1, "delta": {"toolUse": {"input": '{"sign":'}}}),
    ("contentBlockDelta", {"contentBlockIndex": 1, "delta": {"toolUse": {"input": '"WZPZ"}'}}}),
    ("contentBlockStop", {"contentBlockIndex": 1}),
    ("messageStop", {"stopReason": "tool_use"}),
    ("metadata", {"usage": {"inputTokens": 20, "outputTokens": 9, "totalTokens": 29}, "metrics": {"latencyMs": 5}}),
)


def _anthropic_events(raw: bytes) -> list[dict]:
    return [json.loads(line[6:]) for line in raw.decode().splitlines() if line.startswith("data: ")]


def test_converse_stream_to_anthropic_in_odd_chunks() -> None:
    translator = StreamTranslator("bedrock", "anthropic", "m", accumulate=True)
    out = b"".join(translator.feed(CONVERSE_STREAM[i:i + 7]) for i in range(0, len(CONVERSE_STREAM), 7)) + translator.finish()
    events = _anthropic_events(out)
    assert [e["type"] for e in events][:2] == ["message_start", "content_block_start"]
    text = "".join(e["delta"].get("text", "") for e in events if e["type"] == "content_block_delta")
    args = "".join(e["delta"].get("partial_json", "") for e in events if e["type"] == "content_block_delta")
    assert text == "Hello there" and json.loads(args) == {"sign": "WZPZ"}
    delta = next(e for e in events if e["type"] == "message_delta")
    assert delta["delta"]["stop_reason"] == "tool_use" and delta["usage"]["output_tokens"] == 9
    assert translator.accumulator is not None and translator.accumulator.response.usage.input_tokens == 20


def test_stream_exception_becomes_a_client_error_event() -> None:
    exception = encode_message(Message({":message-type": "exception", ":exception-type": "throttlingException",
                                        ":content-type": "application/json"}, b'{"message":"Too many tokens"}'))
    head = _stream(("messageStart", {"role": "assistant"}),
                   ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Hel"}}))
    translator = StreamTranslator("bedrock", "anthropic", "m")
    events = _anthropic_events(translator.feed(head + exception) + translator.finish())
    assert events[-1] == {"type": "error", "error": {"type": "rate_limit_error",
                                                     "message": "throttlingException: Too many tokens"}}


def test_broken_framing_ends_the_stream_with_an_error() -> None:
    corrupted = bytearray(CONVERSE_STREAM)
    corrupted[40] ^= 0xFF  # inside the first message: its CRC no longer matches
    translator = StreamTranslator("bedrock", "openai-chat", "m")
    out = translator.feed(bytes(corrupted)) + translator.finish()
    assert b"CRC mismatch" in out and b"Hello" not in out


def test_our_encoder_output_parses_with_botocore() -> None:
    resp = get_format("bedrock").response_to_ir(CONVERSE_RESPONSE)
    from omniroute.translate.base import response_events

    encoder = get_format("bedrock").StreamEncoder("m")
    raw = b"".join(b for ev in response_events(resp, 4) for b in encoder.feed(ev)) + b"".join(encoder.finish())
    buffer = EventStreamBuffer()
    buffer.add_data(raw)
    names = [(m.headers[":event-type"], json.loads(m.payload)) for m in buffer]
    assert names[0][0] == "messageStart" and names[-2][0] == "messageStop" and names[-1][0] == "metadata"
    assert names[-2][1] == {"stopReason": "tool_use"}
    tool_start = next(p for n, p in names if n == "contentBlockStart")
    assert tool_start["start"]["toolUse"] == {"toolUseId": "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q", "name": "top_song"}


def test_invoke_model_body_is_anthropic_with_bedrock_version() -> None:
    body = translate_request("anthropic", "bedrock-anthropic", {
        "model": "claude", "max_tokens": 10, "stream": True, "metadata": {"user_id": "u"},
        "messages": [{"role": "user", "content": "hi"}], "anthropic_beta": ["context-1m-2025-08-07"]})
    assert body == {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 10, "anthropic_beta": ["context-1m-2025-08-07"],
                    "messages": [{"role": "user", "content": "hi"}]}


def test_invoke_stream_chunks_and_exceptions() -> None:
    from omniroute.translate.bedrock_anthropic import chunk_event

    events = [{"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant", "content": [],
                                                    "model": "c", "usage": {"input_tokens": 3, "output_tokens": 0}}},
              {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
              {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}}]
    raw = b"".join(chunk_event(json.dumps(e)) for e in events)
    exception = encode_message(Message({":message-type": "exception", ":exception-type": "modelStreamErrorException",
                                        ":content-type": "application/json"}, b'{"message":"model failed"}'))
    translator = StreamTranslator("bedrock-anthropic", "openai-chat", "c")
    out = translator.feed(raw[:50]) + translator.feed(raw[50:] + exception) + translator.finish()
    assert b'"content":"Hi"' in out and b"modelStreamErrorException: model failed" in out
