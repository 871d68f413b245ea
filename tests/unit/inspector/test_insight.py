"""The pure insight of a captured row: usage and cost, thread key, failure reason, steps; and
threads summed from rows."""

from __future__ import annotations

import json
from decimal import Decimal

from omniroute.engine.pricing import PriceTable
from omniroute.engine.trail import Trail
from omniroute.inspector.insight import InsightCache, failure_of, insight_of, steps_of, thread_of
from omniroute.inspector.model import InterceptedRequest
from omniroute.inspector.threads import group

PRICES = PriceTable({"house-model": {"input": "1", "output": "2"}})


def row(**fields: object) -> InterceptedRequest:
    base: dict[str, object] = {"id": "r1", "source": "http-proxy", "method": "POST", "host": "api.anthropic.com",
                               "path": "/v1/messages", "started_at": 1000.0, "detected_kind": "llm",
                               "wire_format": "anthropic", "status": 200}
    base.update(fields)
    return InterceptedRequest(**base)  # type: ignore[arg-type]


def anthropic_reply(model: str, tokens_in: int, tokens_out: int) -> str:
    return json.dumps({"type": "message", "model": model, "content": [{"type": "text", "text": "hi"}],
                       "usage": {"input_tokens": tokens_in, "output_tokens": tokens_out}})


def test_cost_of_a_priced_and_an_unpriced_reply() -> None:
    priced = insight_of(row(response_body=anthropic_reply("house-model", 1_000_000, 1_000_000)), PRICES)
    assert (priced["tokensIn"], priced["tokensOut"], priced["model"], priced["cost"]) == (1_000_000, 1_000_000, "house-model", "3")
    unpriced = insight_of(row(response_body=anthropic_reply("mystery-model", 10, 10)), PRICES)
    assert unpriced["tokensIn"] == 10 and unpriced["cost"] is None
    no_usage = insight_of(row(response_body="not json"), PRICES)
    assert no_usage["tokensIn"] is None and no_usage["cost"] is None


def test_threads_from_what_agents_send() -> None:
    claude = row(agent="claude-code", request_body=json.dumps(
        {"metadata": {"user_id": "user_ab12_account_7f00-aa_session_0d4c6a6e-1111-4222-8333-444455556666"}}))
    assert thread_of(claude) == {"key": "claude-code:0d4c6a6e-1111-4222-8333-444455556666", "by": "metadata.user_id"}
    json_user = row(agent="claude-code", request_body=json.dumps(
        {"metadata": {"user_id": json.dumps({"device_id": "d1", "session_id": "5e0f1c2a-aaaa-4bbb-8ccc-0123456789ab"})}}))
    assert thread_of(json_user)["key"] == "claude-code:5e0f1c2a-aaaa-4bbb-8ccc-0123456789ab"  # type: ignore[index]
    codex = row(agent="codex", request_headers={"session_id": "0199-abc-codex-session"})
    assert thread_of(codex) == {"key": "codex:0199-abc-codex-session", "by": "session_id"}
    cloudcode = row(agent="gemini-cli", request_body=json.dumps({"request": {"session_id": "gem-session-42"}}))
    assert thread_of(cloudcode)["key"] == "gemini-cli:gem-session-42"  # type: ignore[index]
    assert thread_of(row(context_key="abcdef012345")) == {"key": "http-proxy:ctx-abcdef012345", "by": "context key"}
    assert thread_of(row()) is None


def test_failure_reasons() -> None:
    upstream = row(status=503, response_body=json.dumps({"error": {"message": "overloaded", "type": "x"}}))
    assert failure_of(upstream, json.loads(upstream.response_body or ""), []) == {
        "status": 503, "kind": "upstream", "message": "overloaded", "fellBack": 0}
    timeout = row(status=504, response_body=json.dumps({"error": {"message": "upstream timed out"}}))
    assert failure_of(timeout, json.loads(timeout.response_body or ""), [])["kind"] == "timeout"  # type: ignore[index]
    gone = row(status="error", error="connection refused")
    assert failure_of(gone, None, [])["kind"] == "no response"  # type: ignore[index]
    breaker = [{"target": "m", "outcome": "skipped", "reason": "breaker_open"}]
    assert failure_of(row(status=503), None, breaker)["kind"] == "breaker open"  # type: ignore[index]
    assert failure_of(row(status=429), None, [])["kind"] == "rate limited"  # type: ignore[index]
    assert failure_of(row(status=200), None, []) is None


def test_steps_come_from_the_engines_trail_header() -> None:
    trail = Trail()
    trail.skipped("a", "breaker_open")
    trail.failed("conn/b", 503, "overloaded", "server", fell_back=True)
    trail.answered("conn/c")
    steps = steps_of(row(response_headers=trail.header()))
    assert [s["outcome"] for s in steps] == ["skipped", "fell back", "answered"]
    only = Trail()
    only.answered("conn/c")
    assert only.header() == {}  # one attempt that answered: nothing to tell
    last = Trail()
    last.failed("conn/b", 503, "overloaded", "server", fell_back=True)
    assert steps_of(row(response_headers=last.header()))[0]["outcome"] == "failed"  # nothing left to fall back to


def test_threads_sum_tokens_and_cost_and_say_unknown() -> None:
    session = {"user_id": "user_x_account_y_session_11111111-2222-4333-8444-555555555555"}
    body = json.dumps({"metadata": session})
    rows = [row(id="a", agent="claude-code", request_body=body, started_at=1.0, total_latency_ms=100.0,
                response_body=anthropic_reply("house-model", 500_000, 0)),
            row(id="b", agent="claude-code", request_body=body, started_at=2.0,
                response_body=anthropic_reply("mystery-model", 10, 10)),
            row(id="c", agent="claude-code", request_body=body, started_at=0.5, detected_kind="app")]
    cache = InsightCache()
    threads = group((r, cache.get(r, PRICES)) for r in rows)
    (thread,) = threads.values()
    summary = thread.summary()
    assert [c["id"] for c in thread.timeline()] == ["a", "b"]  # the app call is not a turn
    assert (summary["calls"], summary["tokensIn"], summary["unpricedCalls"]) == (2, 500_010, 1)
    assert Decimal(summary["cost"]) == Decimal("0.5") and summary["models"] == ["house-model", "mystery-model"]
    only_unpriced = group([(rows[1], cache.get(rows[1], PRICES))])
    assert next(iter(only_unpriced.values())).summary()["cost"] is None
