"""Rows of calls made to our API itself (`/v1`, direct agents) cost the call no masking: headers
and bodies are kept as received, masked when first read, exactly as eager masking gave."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request

from omniroute.inspector import direct
from omniroute.inspector.capture import Capture
from omniroute.inspector.masking import Masker
from omniroute.inspector.merge import merge_stream
from omniroute.inspector.ring import Ring

SECRET = "sk-proj-DIRECTROWSECRET0123456789abcdef"


class CountingMasker(Masker):
    def __init__(self) -> None:
        super().__init__()
        self.masks = 0

    def mask_bytes(self, data: bytes) -> bytes:
        self.masks += 1
        return super().mask_bytes(data)

    def mask_headers(self, headers: Any) -> dict[str, str]:
        self.masks += 1
        return super().mask_headers(headers)


def _request(body: bytes) -> Request:
    return Request({
        "type": "http", "method": "POST", "path": "/v1/chat/completions", "query_string": b"",
        "scheme": "http", "server": ("127.0.0.1", 20128), "http_version": "1.1",
        "headers": [(b"host", b"127.0.0.1:20128"), (b"authorization", f"Bearer {SECRET}".encode()),
                    (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
    })


def _chat(text: str, stream: bool = False) -> bytes:
    return json.dumps({"model": "gpt-4o", "stream": stream,
                       "messages": [{"role": "user", "content": f"{text} {SECRET}"}]}).encode()


def _start(capture: Capture, body: bytes, stream: bool = False) -> Any:
    return direct.start(capture, _request(body), body, request_id="req-1", agent=None, wire_format="openai-chat",
                        stream=stream, source_model="gpt-4o", mapped_model=None, source=direct.API)


async def test_a_v1_row_is_masked_only_when_read_and_as_eager_masking_gave() -> None:
    masker = CountingMasker()
    capture = Capture(Ring(10), masker, 1024 * 1024)
    body = _chat("hello")
    row = _start(capture, body)
    reply = json.dumps({"choices": [{"message": {"role": "assistant", "content": f"key {SECRET}"}}]}).encode()
    direct.finish(capture, row, 200, {"content-type": "application/json", "x-echo": SECRET}, reply, len(reply))
    assert masker.masks == 0  # the call paid for no masking
    eager = Masker()
    assert row.request_headers == eager.mask_headers(_request(body).headers.items())
    assert row.request_body == eager.mask_bytes(body).decode()
    assert row.response_headers == eager.mask_headers([("content-type", "application/json"), ("x-echo", SECRET)])
    assert row.response_body == eager.mask_bytes(reply).decode()
    assert SECRET not in json.dumps(row.to_dict(internal=True))
    assert row.status == 200 and row.response_size == len(reply) and not row.response_truncated
    assert row.context_key is None and row.wire_format == "openai-chat" and row.stream is False  # as given
    assert (row.scheme, row.host, row.port, row.path, row.query) == ("http", "127.0.0.1", 20128, "/v1/chat/completions", "")
    assert row.url == str(_request(body).url)


async def test_a_streamed_v1_row_merges_its_events_on_read() -> None:
    capture = Capture(Ring(10), Masker(), 1024 * 1024)
    row = _start(capture, _chat("stream", stream=True), stream=True)
    events = [b'data: {"choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"}}]}\n\n',
              b'data: {"choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":"stop"}]}\n\n',
              b"data: [DONE]\n\n"]

    async def chunks() -> AsyncIterator[bytes]:
        for event in events:
            yield event

    relayed = [chunk async for chunk in direct.tee(capture, row, 200, {"content-type": "text/event-stream"},
                                                   chunks())]
    assert relayed == events
    assert row.response_size == sum(map(len, events)) and not row.response_truncated
    assert row.merged == merge_stream(b"".join(events), "openai-chat").to_dict()
    assert "Hello" in json.dumps(row.merged)


async def test_bodies_past_the_cap_are_cut_and_marked() -> None:
    capture = Capture(Ring(10), Masker(), 64)
    body = _chat("x" * 200)
    row = _start(capture, body)
    direct.finish(capture, row, 200, {}, b"y" * 100, 100)
    assert row.request_truncated and row.request_size == len(body) and len(row.request_body or "") == 64
    assert row.response_truncated and row.response_body == "y" * 64


def test_a_key_in_the_query_is_masked_on_the_row() -> None:
    capture = Capture(Ring(10), Masker(), 1024)
    body = _chat("query")
    request = _request(body)
    request.scope["query_string"] = f"key={SECRET}&alt=sse".encode()
    row = direct.start(capture, request, body, request_id="req-q", agent=None, wire_format="gemini",
                       stream=False, source_model="gemini-2.5-pro", mapped_model=None, source=direct.API)
    assert row is not None and SECRET not in row.query and "alt=sse" in row.query
    assert SECRET not in row.url and row.url.startswith("http://127.0.0.1:20128/v1/chat/completions?")
