"""IR helpers, SSE framing, error bodies and the format registry."""

from __future__ import annotations

import pytest

from omniroute.translate import (
    TRANSLATED,
    StreamTranslator,
    error_body,
    get_format,
    stream_error_event,
)
from omniroute.translate.base import (
    ResponseAccumulator,
    budget_to_effort,
    check_passthrough,
    effort_to_budget,
    parse_arguments,
    response_events,
    tag_signature,
    untag_signature,
)
from omniroute.translate.errors import TranslationError
from omniroute.translate.ir import (
    BlockStop,
    FinishReason,
    IRRequest,
    IRResponse,
    TextDelta,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    Usage,
    UsageEvent,
    UsagePartial,
)
from omniroute.translate.sse import SSEDecoder, SSEFramer, encode


def test_sse_decoder_handles_split_crlf_comments_and_multiline() -> None:
    d = SSEDecoder()
    stream = b": keepalive\r\nevent: a\r\ndata: line1\r\ndata:line2\r\n\r\ndata: {\"x\":1}\n\n"
    out = []
    for i in range(len(stream)):  # one byte at a time: worst-case chunking
        out.extend(d.feed(stream[i : i + 1]))
    assert out == [("a", "line1\nline2"), (None, '{"x":1}')]


def test_sse_framer_done_raw_and_flush() -> None:
    f = SSEFramer()
    assert f.feed(b"data: [DONE]\n\ndata: not json\n\nevent: error\ndata: {\"error\":{}}\n\n") == [
        {"type": "[DONE]"},
        {"type": "_raw", "event": None, "data": "not json"},
        {"error": {}, "event": "error"},
    ]
    assert f.feed(b'data: {"a":1}') == []
    assert f.flush() == [{"a": 1}]  # last event without its blank line still counts


def test_encode() -> None:
    assert encode({"a": "é"}, "x") == 'event: x\ndata: {"a":"é"}\n\n'.encode()


def test_accumulator_and_response_events_are_inverse() -> None:
    resp = IRResponse("r1", "m", [ThinkingPart("hm", "sig", "anthropic"), TextPart("hello world"),
                                  ToolCallPart("call_1", "f", '{"a": [1, 2]}')],
                      FinishReason.TOOL_CALLS, Usage(10, 5, 2, 1, 3))  # fmt: skip
    acc = ResponseAccumulator()
    for ev in response_events(resp, chunk=3):
        acc.feed(ev)
    assert acc.result() == resp


def test_usage_partial_merges_not_adds() -> None:
    u = Usage(10, 1)
    UsagePartial(output_tokens=7).merge_into(u)
    assert u == Usage(10, 7)
    acc = ResponseAccumulator()
    acc.feed(UsageEvent(UsagePartial(input_tokens=3)))
    acc.feed(UsageEvent(UsagePartial(output_tokens=4)))
    assert acc.result().usage == Usage(3, 4)


def test_accumulator_tolerates_stray_events() -> None:
    acc = ResponseAccumulator()
    acc.feed(BlockStop(5))
    acc.feed(TextDelta(0, "a"))
    acc.feed(TextDelta(0, "b"))
    assert acc.result().content == [TextPart("ab")]


def test_helpers() -> None:
    assert parse_arguments("") == {} and parse_arguments('{"a":1}') == {"a": 1}
    assert parse_arguments("{bad") == {"_raw_arguments": "{bad"}  # invalid model JSON kept
    assert budget_to_effort(effort_to_budget("high")) == "high"
    assert budget_to_effort(effort_to_budget("low")) == "low"
    assert untag_signature(tag_signature("abc:d", "anthropic"), "x") == ("abc:d", "anthropic")
    assert untag_signature("plain", "gemini") == ("plain", "gemini")


def test_check_passthrough() -> None:
    ir = IRRequest(passthrough={"logprobs": True}, passthrough_format="openai-chat")
    assert check_passthrough(ir, "openai-chat") == {"logprobs": True}
    with pytest.raises(TranslationError) as exc:
        check_passthrough(ir, "anthropic")
    assert exc.value.field == "logprobs"


@pytest.mark.parametrize(("fmt", "expected"), [
    ("openai-chat", {"error": {"message": "bad", "type": "invalid_request_error", "param": None, "code": None}}),
    ("openai-responses", {"error": {"message": "bad", "type": "invalid_request_error", "param": None, "code": None}}),
    ("anthropic", {"type": "error", "error": {"type": "invalid_request_error", "message": "bad"}}),
    ("gemini", {"error": {"code": 400, "message": "bad", "status": "INVALID_ARGUMENT"}}),
    ("gemini-cloudcode", {"error": {"code": 400, "message": "bad", "status": "INVALID_ARGUMENT"}}),
    ("ollama", {"error": "bad"}),
    ("kiro", {"__type": "ValidationException", "message": "bad"}),
])  # fmt: skip
def test_error_body_per_format(fmt: str, expected: dict) -> None:
    assert error_body(fmt, 400, "bad") == expected


def test_error_types_by_status() -> None:
    assert error_body("anthropic", 529, "x")["error"]["type"] == "overloaded_error"
    assert error_body("anthropic", 429, "x")["error"]["type"] == "rate_limit_error"
    assert error_body("openai-chat", 503, "x")["error"]["type"] == "server_error"
    assert stream_error_event("anthropic", 500, "x").startswith(b"event: error\n")
    assert stream_error_event("openai-chat", 500, "x").endswith(b"data: [DONE]\n\n")


def test_registry() -> None:
    assert {f.value for f in TRANSLATED} == {"openai-chat", "openai-responses", "anthropic", "gemini",
                                         "gemini-cloudcode", "ollama", "kiro", "bedrock",
                                         "bedrock-anthropic"}  # fmt: skip
    for fmt in ("openai-chat", "anthropic", "openai-responses"):
        mod = get_format(fmt)
        for name in ("request_to_ir", "request_from_ir", "response_to_ir", "response_from_ir",
                     "StreamDecoder", "StreamEncoder", "Framer"):  # fmt: skip
            assert hasattr(mod, name)
    with pytest.raises(ValueError):
        get_format("nope")
    with pytest.raises(ValueError):  # a named format that is passed through, never translated
        get_format("zed")


def test_translator_finish_and_error_are_final() -> None:
    t = StreamTranslator("openai-chat", "anthropic", "m")
    first = t.error("boom", 503)
    assert b"event: error" in first and b"api_error" in first
    assert t.feed(b'data: {"choices":[]}\n\n') == b"" and t.finish() == b"" and t.error("x") == b""
    t = StreamTranslator("anthropic", "openai-chat", "m")
    closed = t.finish()  # upstream closed before sending anything: still a valid chat stream
    assert closed.startswith(b"data: {") and closed.endswith(b"data: [DONE]\n\n")


def test_websocket_style_json_frames() -> None:
    """Codex over WebSocket: one JSON event per message in, JSON payloads out."""
    import json

    from omniroute.translate.sse import JSONFramer, data_payloads

    frames = [
        {"type": "response.created", "response": {"id": "resp_1", "model": "gpt-5"}},
        {"type": "response.output_item.added", "output_index": 0, "item": {"type": "message", "id": "m"}},
        {"type": "response.output_text.delta", "output_index": 0, "content_index": 0, "delta": "Hi"},
        {"type": "response.completed", "response": {"id": "resp_1", "usage": {"input_tokens": 3, "output_tokens": 1}}},
    ]
    t = StreamTranslator("openai-responses", "openai-responses", "m", framer=JSONFramer())
    out = b"".join(t.feed(json.dumps(f).encode()) for f in frames) + t.finish()
    events = [json.loads(p) for p in data_payloads(out)]
    assert events[0]["type"] == "response.created" and events[-1]["type"] == "response.completed"
    assert events[-1]["response"]["output"][0]["content"][0]["text"] == "Hi"
