"""Zed's envelope and reply framing, byte for byte (the routed path runs in test_bridge_zed.py)."""

from __future__ import annotations

import json

import pytest

from omniroute.bridge.zed import (
    UnknownZedProvider,
    ZedEnvelopeError,
    ZedLineFramer,
    ZedReplyFormat,
    error_body,
    parse_completion,
    zed_inner_format,
)
from omniroute.translate.formats import WireFormat

ANTHROPIC_SSE = (
    b'event: message_start\ndata: {"type":"message_start","message":{"id":"m1"}}\n\n'
    b'event: content_block_delta\r\ndata: {"type":"content_block_delta",\r\n'
    b'data: "delta":{"type":"text_delta","text":"hi"}}\r\n\r\n'
    b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
)


@pytest.mark.parametrize(
    ("provider", "request_body", "fmt"),
    [
        ("anthropic", {"messages": []}, WireFormat.ANTHROPIC),
        ("open_ai", {"input": []}, WireFormat.OPENAI_RESPONSES),
        ("open_ai", {"messages": []}, WireFormat.OPENAI_CHAT),
        ("x_ai", {"messages": []}, WireFormat.OPENAI_CHAT),
        ("google", {"contents": []}, WireFormat.GEMINI),
    ],
)
def test_parse_completion_unwraps_the_provider_payload(provider: str, request_body: dict, fmt: str) -> None:
    envelope = {"provider": provider, "model": "m-1", "provider_request": request_body, "thread_id": "t"}
    call = parse_completion(json.dumps(envelope).encode())
    assert (call.provider, call.model, call.inner_format) == (provider, "m-1", fmt)
    assert json.loads(call.engine_body()) == request_body
    assert zed_inner_format(envelope) == fmt


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json", "must be a JSON object"),
        ({"model": "m", "provider_request": {}}, "'provider' is required"),
        ({"provider": "anthropic", "model": "m", "provider_request": []}, "'provider_request' is required"),
        ({"provider": "anthropic", "provider_request": {}}, "'model' is required"),
    ],
)
def test_parse_completion_says_what_is_wrong(body: object, message: str) -> None:
    with pytest.raises(ZedEnvelopeError, match=message):
        parse_completion(body)  # type: ignore[arg-type]


def test_unknown_provider_is_its_own_error() -> None:
    with pytest.raises(UnknownZedProvider, match="'mistral' is not routable"):
        parse_completion({"provider": "mistral", "model": "m", "provider_request": {}})


def test_reply_format_follows_the_client_headers() -> None:
    assert ZedReplyFormat.from_headers({}) == ZedReplyFormat(False, False)
    status_only = ZedReplyFormat.from_headers({"x-zed-client-supports-status-messages": "true"})
    assert status_only == ZedReplyFormat(True, False)
    # stream_ended is a status message: without status messages it cannot be sent.
    ended_only = {"x-zed-client-supports-stream-ended-request-completion-status": "true"}
    assert ZedReplyFormat.from_headers(ended_only) == ZedReplyFormat(False, False)
    assert status_only.response_headers()["x-zed-server-supports-status-messages"] == "true"
    assert "x-zed-server-supports-status-messages" not in ZedReplyFormat().response_headers()


def _frame(framer: ZedLineFramer, data: bytes, size: int) -> bytes:
    out = [framer(data[i : i + size]) for i in range(0, len(data), size)] + [framer(b"")]
    assert all(part != [b""] for part in out)  # an empty chunk would end a chunked body
    return b"".join(b"".join(part) for part in out)


@pytest.mark.parametrize("size", [1, 7, 4096])
def test_framer_turns_sse_into_status_lines_whatever_the_chunking(size: int) -> None:
    seen: list[bytes] = []
    framer = ZedLineFramer(ZedReplyFormat(True, True), before=lambda c: seen.append(c) or c)
    lines = _frame(framer, ANTHROPIC_SSE, size).decode().splitlines()
    assert [json.loads(line) for line in lines] == [
        {"event": {"type": "message_start", "message": {"id": "m1"}}},
        {"event": {"type": "content_block_delta", "delta": {"type": "text_delta", "text": "hi"}}},
        {"event": {"type": "message_stop"}},
        {"status": "stream_ended"},
    ]
    assert b"".join(seen) == ANTHROPIC_SSE  # the inspector's tee still sees the engine's SSE


def test_framer_plain_lines_drop_done_and_non_json() -> None:
    sse = b'data: {"choices":[]}\n\ndata: not json\n\ndata: [DONE]\n\n'
    assert _frame(ZedLineFramer(ZedReplyFormat()), sse, 5) == b'{"choices":[]}\n'


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"type":"error","error":{"type":"not_found_error","message":"no model x"}}', "no model x"),
        (b'{"error":"plain text error"}', "plain text error"),
        (b'{"detail":"x"}', '{"detail":"x"}'),
        (b"upstream exploded", "upstream exploded"),
        (b"", "HTTP 502"),
    ],
)
def test_error_body_is_zeds_code_and_message(body: bytes, message: str) -> None:
    assert json.loads(error_body(502, body)) == {"code": "http_502", "message": message}
