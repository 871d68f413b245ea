"""Capture keeps the hooks O(1): the row is in the ring at once, body work waits for a reader."""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from mitmproxy.test import tflow, tutils

from omniroute.inspector import capture as capture_module
from omniroute.inspector import deferred as deferred_module
from omniroute.inspector.capture import Capture, StreamTee
from omniroute.inspector.conversation import context_key, system_prompt
from omniroute.inspector.masking import Masker
from omniroute.inspector.merge import merge_stream
from omniroute.inspector.model import InterceptedRequest, encode_body
from omniroute.inspector.ring import Ring

SECRET = "sk-proj-CAPTURESECRET0123456789abcdef"


def _flow(body: bytes, host: str = "api.openai.com", path: str = "/v1/chat/completions") -> Any:
    return tflow.tflow(req=tutils.treq(
        host=host, path=path, method=b"POST", content=body,
        headers=((b"authorization", f"Bearer {SECRET}".encode()), (b"content-type", b"application/json"))))


def _body(text: str, **extra: Any) -> bytes:
    return json.dumps({"model": "gpt-4o", "messages": [
        {"role": "system", "content": "sys"}, {"role": "user", "content": text}], **extra}).encode()


class CountingMasker(Masker):
    def __init__(self) -> None:
        super().__init__()
        self.body_masks = 0
        self.header_masks = 0

    def mask_bytes(self, data: bytes) -> bytes:
        self.body_masks += 1
        return super().mask_bytes(data)

    def mask_headers(self, headers: Any) -> dict[str, str]:
        self.header_masks += 1
        return super().mask_headers(headers)


async def _complete(capture: Capture, flow: Any, pending: Any, tee: StreamTee | None = None) -> None:
    capture.response(flow, pending, tee)
    await asyncio.sleep(capture_module.DEFER_DELAY * 3)


async def test_hooks_keep_a_reference_and_do_no_body_work_until_a_read() -> None:
    ring, masker = Ring(10), CountingMasker()
    capture = Capture(ring, masker, 1024 * 1024)
    events = ring.subscribe()
    flow = _flow(_body(f"hello {SECRET}"))
    pending = capture.request(flow, "http-proxy", "codex")
    row = ring.get(flow.id)
    assert row is pending.row and row.status == "in-flight" and row.request_size > 0
    assert pending.fields.request.unmasked() is flow.request.raw_content  # no copy
    new = [events.get_nowait() for _ in range(events.qsize())][-1]
    assert new["type"] == "new" and new["data"]["requestBody"] is None  # watchers: body later
    assert new["data"]["requestHeaders"]["authorization"] == "Bearer sk-pr…***"
    ring.unsubscribe(events)
    flow.response = tutils.tresp(content=b'{"choices": []}')
    capture.response(flow, pending, None)
    assert row.status == "in-flight"  # the hook only scheduled the rest
    await asyncio.sleep(capture_module.DEFER_DELAY * 3)
    assert row.status == 200 and row.total_latency_ms is not None
    assert masker.body_masks == 0  # nobody read a body: nothing masked or parsed
    assert row.request_body is not None and SECRET not in row.request_body and "hello" in row.request_body
    assert row.response_body == '{"choices": []}'
    assert row.context_key == context_key("sys") and row.wire_format == "openai-chat"
    assert masker.body_masks == 2
    assert row.to_dict(internal=True) == row.to_dict(internal=True)
    assert masker.body_masks == 2  # masked once per body, whatever is read afterwards


async def test_headers_are_masked_on_read_as_the_client_sent_them() -> None:
    masker = CountingMasker()
    capture = Capture(Ring(10), masker, 1024)
    flow = _flow(_body("headers"))
    pending = capture.request(flow, "http-proxy", None)
    flow.request.headers["authorization"] = "Bearer rewritten-by-the-bridge-0123456789"  # a later addon
    flow.response = tutils.tresp(content=b"{}", headers=((b"set-cookie", f"sid={SECRET}".encode()),))
    await _complete(capture, flow, pending)
    assert masker.header_masks == 0
    assert pending.row.request_headers["authorization"] == "Bearer sk-pr…***"
    assert pending.row.response_headers == {"set-cookie": "sid=sk-pr…***"}
    assert masker.header_masks == 2
    assert pending.row.request_headers is pending.row.request_headers  # masked once, kept


async def test_finished_rows_hold_their_headers_packed_until_read() -> None:
    """A ring holds thousands of rows: unread headers are one string each, not a tuple of pairs."""
    masker = CountingMasker()
    capture = Capture(Ring(10), masker, 1024)
    flow = _flow(_body("packed headers"))
    request_fields = flow.request.headers.fields
    pending = capture.request(flow, "http-proxy", None)
    flow.response = tutils.tresp(content=b"{}", headers=((b"set-cookie", f"sid={SECRET}".encode()),))
    await _complete(capture, flow, pending)
    held = pending.fields.request_headers
    assert isinstance(held, bytes) and isinstance(pending.fields.response_headers, bytes)
    assert len(held) < sys.getsizeof(request_fields) + sum(
        sys.getsizeof(pair) + sys.getsizeof(pair[0]) + sys.getsizeof(pair[1]) for pair in request_fields)
    assert masker.header_masks == 0
    assert pending.row.request_headers["authorization"] == "Bearer sk-pr…***"
    assert pending.row.response_headers == {"set-cookie": "sid=sk-pr…***"}
    assert pending.row.request_headers == Masker().mask_headers(flow.request.headers.items(multi=True))


async def test_watchers_get_bodies_in_update_events() -> None:
    ring = Ring(10)
    capture = Capture(ring, Masker(), 1024 * 1024)
    events = ring.subscribe()
    flow = _flow(_body(f"watched {SECRET}"))
    pending = capture.request(flow, "http-proxy", None)
    flow.response = tutils.tresp(content=b'{"choices": []}')
    await _complete(capture, flow, pending)
    kinds = [events.get_nowait() for _ in range(events.qsize())]
    assert [e["type"] for e in kinds] == ["snapshot", "new", "update"]
    body = kinds[-1]["data"]["requestBody"]
    assert "watched" in body and SECRET not in body and SECRET[:12] not in json.dumps(kinds)


async def test_a_slow_upstream_publishes_the_request_body_before_the_response(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(capture_module, "REQUEST_FILL_DELAY", 0.01)
    ring = Ring(10)
    capture = Capture(ring, Masker(), 1024 * 1024)
    unwatched = capture.request(_flow(_body("nobody looks")), "http-proxy", None)
    assert unwatched.timer is None  # no watcher, no event to publish
    events = ring.subscribe()
    pending = capture.request(_flow(_body("slow")), "http-proxy", None)
    await asyncio.sleep(0.05)
    kinds = [events.get_nowait() for _ in range(events.qsize())]
    assert [e["type"] for e in kinds] == ["snapshot", "new", "update"]
    assert kinds[1]["data"]["requestBody"] is None
    assert "slow" in kinds[-1]["data"]["requestBody"] and pending.row.status == "in-flight"


def _eager(raw: bytes, masker: Masker, cap: int) -> tuple[str | None, str, bool]:
    """What capture stored before bodies were deferred: mask before the cut, then encode."""
    return encode_body(masker.mask_bytes(raw[: cap + 1]), cap)


@pytest.mark.parametrize("raw", [
    _body(f"plain {SECRET}"),
    _body("é" * 400),  # a cut inside a multi-byte character
    bytes(range(256)) * 4,  # binary: base64
    b'{"contents": [{"parts": [{"text": "hi"}]}], "systemInstruction": {"parts": [{"text": "be brief"}]}}',
])
async def test_deferred_fields_equal_eager_processing(raw: bytes) -> None:
    masker, cap = Masker(), 500
    capture = Capture(Ring(10), masker, cap)
    # An unknown host and path: the format comes from the body's shape.
    flow = _flow(raw, host="llm.internal.example", path="/generate")
    pending = capture.request(flow, "custom-host", None)
    flow.response = tutils.tresp(content=raw)
    await _complete(capture, flow, pending)
    row = pending.row
    assert (row.request_body, row.request_body_encoding, row.request_truncated) == _eager(raw, masker, cap)
    assert (row.response_body, row.response_body_encoding, row.response_truncated) == _eager(raw, masker, cap)
    try:
        parsed = json.loads(raw)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        assert row.detected_kind == "llm" and row.wire_format in ("openai-chat", "gemini")
        assert row.context_key == context_key(system_prompt(parsed, row.wire_format))
    else:
        assert row.detected_kind == "app" and row.wire_format is None and row.context_key is None


async def test_streamed_responses_merge_on_read_and_mark_a_cut_tee() -> None:
    sse = b"".join(b'data: {"choices": [{"delta": {"content": "%s"}}]}\n\n' % w for w in (b"he", b"llo"))
    capture = Capture(Ring(10), Masker(), 1024)
    flow = _flow(_body("stream me", stream=True))
    pending = capture.request(flow, "http-proxy", None)
    flow.response = tutils.tresp(content=b"", headers=((b"content-type", b"text/event-stream"),))
    tee = StreamTee(1024)
    tee(sse + b"data: [DONE]\n\n")
    await _complete(capture, flow, pending, tee)
    row = pending.row
    assert row.stream and row.merged == merge_stream(sse + b"data: [DONE]\n\n", "openai-chat").to_dict()
    assert row.merged["message"]["choices"][0]["message"]["content"] == "hello"
    assert not row.response_truncated
    cut = StreamTee(10)
    cut(sse)
    flow2 = _flow(_body("cut"))
    pending2 = capture.request(flow2, "http-proxy", None)
    flow2.response = flow.response
    await _complete(capture, flow2, pending2, cut)
    assert pending2.row.response_truncated and pending2.row.response_size == len(sse)


async def test_the_bridges_format_wins_and_is_set_without_parsing_in_the_hook(monkeypatch: pytest.MonkeyPatch) -> None:
    parses: list[bytes] = []
    original = deferred_module._json
    monkeypatch.setattr(deferred_module, "_json", lambda raw: parses.append(raw) or original(raw))
    capture = Capture(Ring(10), Masker(), 1024)
    flow = _flow(_body("bridged"), host="llm.internal.example", path="/generate")
    pending = capture.request(flow, "agent-bridge", None)
    capture.attribute(pending.row, {"agent": "codex", "wireFormat": "anthropic", "sourceModel": "gpt-4o"})
    assert parses == []
    flow.response = tutils.tresp(content=b"{}")
    await _complete(capture, flow, pending)
    assert parses == []
    assert pending.row.wire_format == "anthropic" and pending.row.agent == "codex"
    assert pending.row.detected_kind == "llm" and len(parses) == 1


def _counted_identify() -> tuple[list[int], Callable[[], str]]:
    """An ``identify`` that names codex and counts its calls."""
    calls: list[int] = []

    def identify() -> str:
        calls.append(1)
        return "codex"

    return calls, identify


async def test_the_agent_is_identified_only_when_read_before_the_bridge_names_it() -> None:
    calls, identify = _counted_identify()
    capture = Capture(Ring(10), Masker(), 1024)
    bridged = _flow(_body("bridged"))
    pending = capture.request(bridged, "agent-bridge", identify=identify)
    capture.attribute(pending.row, {"agent": "claude-code"})
    bridged.response = tutils.tresp(content=b"{}")
    await _complete(capture, bridged, pending)
    assert pending.row.agent == "claude-code" and calls == []
    in_flight = capture.request(_flow(_body("early read")), "http-proxy", identify=identify)
    assert in_flight.row.agent == "codex" and in_flight.row.to_dict()["agent"] == "codex"
    assert calls == [1]


async def test_a_finished_row_holds_its_agent_not_the_closure_that_names_it() -> None:
    # ``identify`` holds the catalog and the flow's host, path and User-Agent: a row kept in the
    # ring for hours should hold only the answer, once the flow is over.
    calls, identify = _counted_identify()
    capture = Capture(Ring(10), Masker(), 1024)
    flow = _flow(_body("never read"))
    pending = capture.request(flow, "http-proxy", identify=identify)
    assert not pending.row.holds("agent")
    flow.response = tutils.tresp(content=b"{}")
    await _complete(capture, flow, pending)
    assert pending.fields.identify is None and calls == [1]
    assert pending.row.holds("agent") and pending.row.to_dict()["agent"] == "codex"
    assert calls == [1]


async def test_large_bodies_are_packed_in_the_background_and_read_back_identical() -> None:
    masker = CountingMasker()
    capture = Capture(Ring(10), masker, 1024 * 1024)
    raw = _body(" ".join(f"word{i}" for i in range(20_000)) + f" {SECRET}")
    flow = _flow(raw)
    pending = capture.request(flow, "http-proxy", None)
    flow.response = tutils.tresp(content=b"{}")
    await _complete(capture, flow, pending)
    body = pending.fields.request
    assert await _eventually(lambda: body.held < len(raw) // 4), body.held  # unmasked, packed
    assert masker.body_masks == 0
    assert pending.row.request_body == _eager(raw, Masker(), 1024 * 1024)[0]
    assert await _eventually(lambda: body.is_masked and body.held < len(raw) // 4)  # masked, packed
    assert pending.row.request_body == _eager(raw, Masker(), 1024 * 1024)[0]
    assert masker.body_masks == 1


def test_reads_from_threads_agree() -> None:
    """HAR export reads rows in a worker thread while the event loop may read them too."""
    masker = CountingMasker()
    capture = Capture(Ring(10), masker, 1024 * 1024)
    raw = _body(" ".join(f"w{i}" for i in range(5000)) + f" {SECRET}")
    flow = _flow(raw)
    pending = capture.request(flow, "http-proxy", None)  # outside a loop: completes inline
    flow.response = tutils.tresp(content=b"{}")
    capture.response(flow, pending, None)
    results: list[dict[str, Any]] = []
    threads = [threading.Thread(target=lambda: results.append(pending.row.to_dict(internal=True)))
               for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8 and all(r == results[0] for r in results)
    assert SECRET not in json.dumps(results[0]) and results[0]["contextKey"] == context_key("sys")


async def test_bodies_are_capped_and_marked_truncated() -> None:
    capture = Capture(Ring(10), Masker(), 100)
    flow = _flow(_body("x" * 1000))
    pending = capture.request(flow, "http-proxy", None)
    flow.response = tutils.tresp(content=b"y" * 500)
    await _complete(capture, flow, pending)
    row = pending.row
    assert row.request_truncated and len(row.request_body or "") == 100 and row.request_size > 1000
    assert row.response_truncated and row.response_size == 500


def test_outside_an_event_loop_capture_works_inline() -> None:
    capture = Capture(Ring(10), Masker(), 1024)
    flow = _flow(_body("inline"))
    pending = capture.request(flow, "http-proxy", None)
    assert pending.row.request_body is not None
    flow.response = tutils.tresp(content=b"ok")
    capture.response(flow, pending, None)
    assert pending.row.status == 200 and pending.row.response_body == "ok"


def test_rows_without_a_capture_behave_as_plain_data() -> None:
    row = InterceptedRequest("r1", "http-proxy", "GET", "example.com", "/", 1.0, request_body="hi")
    assert row.request_body == "hi" and row.context_key is None and row.deferred is None
    with pytest.raises(AttributeError):
        row.no_such_field  # type: ignore[attr-defined]  # noqa: B018
    assert InterceptedRequest.from_dict(row.to_dict(internal=True)) == row
    assert "deferred" not in row.to_dict(internal=True)


async def _eventually(check: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        await asyncio.sleep(0.01)
    return False



def test_repeated_strings_are_shared_between_rows_and_the_set_stays_bounded() -> None:
    from omniroute.inspector import model

    capture = Capture(Ring(10), Masker(), 1024)
    first = capture.request(_flow(_body("a")), "http-proxy", None).row
    second = capture.request(_flow(_body("b")), "http-proxy", None).row
    assert first.host == second.host == "api.openai.com" and first.host is second.host
    assert first.path is second.path and first.method is second.method
    for i in range(model._SHARED_MAX + 10):
        assert model.shared(f"/v1/items/{i}") == f"/v1/items/{i}"
    assert len(model._SHARED) <= model._SHARED_MAX
