"""Capture keeps the hook cheap: the row is in the ring at once, body work runs after the hook."""

from __future__ import annotations

import asyncio
import json

from mitmproxy.test import tflow, tutils

from omniroute.inspector import capture as capture_module
from omniroute.inspector.capture import Capture
from omniroute.inspector.masking import Masker
from omniroute.inspector.ring import Ring

SECRET = "sk-proj-CAPTURESECRET0123456789abcdef"


def _flow(body: bytes) -> object:
    return tflow.tflow(req=tutils.treq(
        host="api.openai.com", path="/v1/chat/completions", method=b"POST", content=body,
        headers=((b"authorization", f"Bearer {SECRET}".encode()), (b"content-type", b"application/json"))))


def _body(text: str) -> bytes:
    return json.dumps({"model": "gpt-4o", "messages": [
        {"role": "system", "content": "sys"}, {"role": "user", "content": text}]}).encode()


async def test_hook_adds_an_in_flight_row_and_defers_bodies_until_after_the_response() -> None:
    ring = Ring(10)
    capture = Capture(ring, Masker(), 1024 * 1024)
    flow = _flow(_body(f"hello {SECRET}"))
    pending = capture.request(flow, "http-proxy", "codex")  # type: ignore[arg-type]
    row = ring.get(flow.id)  # type: ignore[attr-defined]
    assert row is pending.row and row.status == "in-flight"
    assert row.request_body is None and row.request_size > 0  # not yet: deferred
    assert SECRET not in row.request_headers["authorization"]
    flow.response = tutils.tresp(content=b'{"choices": []}')  # type: ignore[attr-defined]
    capture.response(flow, pending, None)  # type: ignore[arg-type]
    assert row.status == "in-flight"  # the hook only scheduled the work
    await asyncio.sleep(capture_module.DEFER_DELAY * 3)
    assert row.status == 200 and row.response_body == '{"choices": []}'
    assert row.request_body is not None and SECRET not in row.request_body and "hello" in row.request_body
    assert row.context_key is not None and row.wire_format == "openai-chat"
    assert row.total_latency_ms is not None


async def test_a_slow_upstream_gets_the_request_body_before_the_response(monkeypatch: object) -> None:
    monkeypatch.setattr(capture_module, "REQUEST_FILL_DELAY", 0.01)  # type: ignore[attr-defined]
    ring = Ring(10)
    capture = Capture(ring, Masker(), 1024 * 1024)
    flow = _flow(_body("slow"))
    pending = capture.request(flow, "http-proxy", None)  # type: ignore[arg-type]
    events = ring.subscribe()
    await asyncio.sleep(0.05)
    assert pending.row.request_body is not None and pending.row.status == "in-flight"
    kinds = [events.get_nowait()["type"] for _ in range(events.qsize())]
    assert kinds == ["snapshot", "update"]


async def test_bodies_are_capped_and_marked_truncated() -> None:
    ring = Ring(10)
    capture = Capture(ring, Masker(), 100)
    flow = _flow(_body("x" * 1000))
    pending = capture.request(flow, "http-proxy", None)  # type: ignore[arg-type]
    flow.response = tutils.tresp(content=b"y" * 500)  # type: ignore[attr-defined]
    capture.response(flow, pending, None)  # type: ignore[arg-type]
    await asyncio.sleep(capture_module.DEFER_DELAY * 3)
    row = pending.row
    assert row.request_truncated and len(row.request_body or "") == 100 and row.request_size > 1000
    assert row.response_truncated and row.response_size == 500


def test_outside_an_event_loop_capture_works_inline() -> None:
    ring = Ring(10)
    capture = Capture(ring, Masker(), 1024)
    flow = _flow(_body("inline"))
    pending = capture.request(flow, "http-proxy", None)  # type: ignore[arg-type]
    assert pending.row.request_body is not None
    flow.response = tutils.tresp(content=b"ok")  # type: ignore[attr-defined]
    capture.response(flow, pending, None)  # type: ignore[arg-type]
    assert pending.row.status == 200
