"""mitmproxy flow-filter expressions evaluated against captured rows."""

from __future__ import annotations

import statistics
import time

import pytest

from omniroute.inspector.flowfilter import FlowFilterError, compile_filter, matches
from omniroute.inspector.har import row_to_flow
from omniroute.inspector.model import InterceptedRequest
from omniroute.inspector.ring import Ring, RingFilter

T0 = 1_760_000_000.0


def _rows() -> list[InterceptedRequest]:
    return [
        InterceptedRequest(
            id="a", source="http-proxy", method="POST", host="api.openai.com",
            path="/v1/chat/completions", started_at=T0, status=429,
            request_headers={"content-type": "application/json"},
            request_body='{"model":"gpt-4o","messages":[]}',
            response_headers={"content-type": "application/json", "retry-after": "3"},
            response_body='{"error":{"type":"rate_limit"}}'),
        InterceptedRequest(
            id="b", source="agent-bridge", method="POST", host="api.anthropic.com",
            path="/v1/messages", query="beta=true", started_at=T0 + 1, status="in-flight",
            request_headers={"content-type": "application/json"},
            request_body='{"model":"claude-sonnet-4-5"}'),
        InterceptedRequest(
            id="c", source="http-proxy", method="GET", host="example.com", path="/",
            started_at=T0 + 2, status="error", error="connection reset"),
        InterceptedRequest(
            id="d", source="http-proxy", method="POST", host="generativelanguage.googleapis.com",
            path="/v1beta/models/gemini-2.5-pro:streamGenerateContent", query="alt=sse",
            started_at=T0 + 3, status=200,
            response_headers={"content-type": "text/event-stream"},
            response_body='data: {"candidates":[]}\n\n', annotation="interesting"),
    ]


@pytest.mark.parametrize(("expr", "expected"), [
    ("~d api.openai.com & ~c 429", {"a"}),
    ("~m POST & !~s", {"b"}),
    ("~u /v1/messages", {"b"}),
    ("~bq model", {"a", "b"}),
    ("~bs rate_limit", {"a"}),
    ("~e", {"c"}),
    ("~s & ~t event-stream", {"d"}),
    ("~h retry-after", {"a"}),
    ("~comment interesting", {"d"}),
    ("~d googleapis | ~m GET", {"c", "d"}),
    ("~q", {"b", "c"}),  # no response: in-flight and failed rows
])
def test_expressions(expr: str, expected: set[str]) -> None:
    flt = compile_filter(expr)
    assert {r.id for r in _rows() if flt(r)} == expected
    # The reusable view must agree with a freshly built flow for every row.
    from mitmproxy import flowfilter
    fresh = flowfilter.parse(expr)
    assert {r.id for r in _rows() if fresh(row_to_flow(r))} == expected


def test_invalid_expression_carries_mitmproxy_message() -> None:
    with pytest.raises(FlowFilterError, match="Invalid filter expression"):
        compile_filter("~d (")
    with pytest.raises(FlowFilterError):
        compile_filter("")
    with pytest.raises(ValueError):  # FlowFilterError is a ValueError for callers
        matches("~nonsense", _rows()[0])


def test_filter_plugs_into_ring() -> None:
    ring = Ring()
    for r in _rows():
        ring.add(r)
    page = ring.query(RingFilter(predicate=compile_filter("~c 429 | ~e")))
    assert [r.id for r in page.items] == ["c", "a"]


def test_benchmark_flow_construction_prints() -> None:
    r = _rows()[0]
    r.request_body = '{"model":"gpt-4o","messages":[' + '"x",' * 25_000 + '"y"]}'
    flt = compile_filter("~d api.openai.com & ~c 429")

    def p50(fn) -> float:
        samples = []
        for _ in range(300):
            t = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - t)
        return statistics.median(samples) * 1e6

    fresh, reused = p50(lambda: row_to_flow(r)), p50(lambda: flt(r))
    print(f"\nBENCH flow filter per 100 KB row: fresh HTTPFlow {fresh:.0f}us, "
          f"reused view + filter {reused:.0f}us")
    assert flt(r)


def test_tunnel_rows() -> None:
    tunnel = InterceptedRequest(id="t", source="http-proxy", method="CONNECT",
                                host="api2.cursor.sh", path="", port=443, started_at=T0,
                                status=200, note="TLS tunnel: bypassed, not decrypted")
    assert compile_filter("~d cursor & ~m CONNECT")(tunnel)
    assert not compile_filter("~d openai")(tunnel)
