"""Usage rows and analytics are exact: tokens follow the mock's word-count rule, cost is
tokens × price to the last decimal, and the sums add up (Decimal, not float)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import openai
import pytest

from tests.support.harness import OmniRouteProcess
from tests.support.mock_provider import MockProvider

MILLION = Decimal(1_000_000)
PRICES = {  # USD per 1M tokens, as overrides
    "usage-a": {"input": "1.25", "output": "10", "cached_input": "0.125"},
    "usage-b": {"input": "3", "output": "15"},
}


@dataclass(frozen=True)
class Expected:
    request_id: str
    model: str
    provider: str
    tokens_in: int
    tokens_out: int
    status: int = 200
    agent: str | None = None
    source: str = "api"

    @property
    def cost(self) -> Decimal:
        price = PRICES.get(self.model)
        if price is None:
            return Decimal(0)
        return (self.tokens_in * Decimal(price["input"]) + self.tokens_out * Decimal(price["output"])) / MILLION


def words(*texts: str) -> int:
    """The mock's token rule: whitespace-separated words."""
    return sum(len(t.split()) for t in texts)


@pytest.fixture(scope="module")
def traffic(mock_provider: MockProvider) -> Iterator[tuple[OmniRouteProcess, list[Expected]]]:
    """One process, five calls of different kinds; what each must have logged."""
    with OmniRouteProcess(bridge=False) as process:
        process.add_provider("openai", "alpha", f"{mock_provider.url}/v1", api_key="sk-alpha-0001")
        process.add_provider("anthropic", "beta", mock_provider.url, api_key="sk-beta-0002")
        with process.api() as api:
            assert api.post("/api/pricing", json=PRICES).status_code == 200
            yield process, list(_make_calls(process, api))


def _make_calls(process: OmniRouteProcess, api: httpx.Client) -> Iterator[Expected]:
    text = "count these five words please"
    r = api.post("/v1/chat/completions", json={"model": "alpha/usage-a", "messages": [{"role": "user", "content": text}]})
    assert r.status_code == 200
    cost = r.headers["x-omniroute-response-cost"]
    expected = Expected(r.headers["x-omniroute-request-id"], "usage-a", "openai",
                        words(text), words("mock reply from usage-a:", text))
    assert cost == f"{expected.cost:.10f}" == "0.0000962500"
    yield expected

    text = "one two three"
    r = api.post("/v1/messages", json={"model": "beta/usage-b", "max_tokens": 64,
                                        "messages": [{"role": "user", "content": text}]})
    assert r.status_code == 200 and r.json()["usage"]["input_tokens"] == 3
    yield Expected(r.headers["x-omniroute-request-id"], "usage-b", "anthropic",
                   words(text), words("mock reply from usage-b:", text))

    text = "a b"
    body = {"model": "alpha/usage-a", "stream": True, "stream_options": {"include_usage": True},
            "messages": [{"role": "user", "content": text}]}
    with api.stream("POST", "/v1/chat/completions", json=body) as s:
        assert s.status_code == 200 and "[DONE]" in "".join(s.iter_text())
        request_id = s.headers["x-omniroute-request-id"]
    yield Expected(request_id, "usage-a", "openai", words(text), words("mock reply from usage-a:", text))

    r = api.post("/v1/chat/completions", json={"model": "alpha/fail-400", "messages": [{"role": "user", "content": "x"}]})
    assert r.status_code == 400
    # The router does not put X-OmniRoute-Request-Id on a client error (yet): find the row.
    failed = logs(api, status="400")["items"]
    assert len(failed) == 1
    yield Expected(failed[0]["requestId"], "fail-400", "openai", 0, 0, status=400)

    # An agent call through the HTTP proxy: attributed to the agent, not to "api".
    process.map_models("codex", {"*": "alpha/usage-a"})
    text = "hello agent"
    http_client = httpx.Client(proxy=process.proxy_url, verify=process.ssl_context(), trust_env=False)
    client = openai.OpenAI(base_url="https://api.openai.com/v1", api_key="sk-agent-own",
                           http_client=http_client, max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=[{"role": "user", "content": text}]
    )
    yield Expected(raw.headers["x-omniroute-request-id"], "usage-a", "openai", words(text),
                   words("mock reply from usage-a:", text), agent="codex", source="agent-bridge")


def logs(api: httpx.Client, **params: Any) -> dict[str, Any]:
    response = api.get("/api/usage/call-logs", params=params)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_each_request_has_one_exact_row(traffic: tuple[OmniRouteProcess, list[Expected]]) -> None:
    process, calls = traffic
    with process.api() as api:
        page = logs(api, limit=100)
    assert page["total"] == len(calls)
    # Newest first.
    assert [item["requestId"] for item in page["items"]] == [c.request_id for c in reversed(calls)]
    by_id = {item["requestId"]: item for item in page["items"]}
    for call in calls:
        row = by_id[call.request_id]
        assert (row["modelUsed"], row["provider"], row["status"]) == (call.model, call.provider, call.status)
        assert (row["tokensIn"], row["tokensOut"], row["tokensCached"]) == (call.tokens_in, call.tokens_out, 0)
        assert Decimal(row["cost"]) == call.cost, row  # exact, not rounded
        assert (row["agent"], row["source"]) == (call.agent, call.source)
        assert row["fallbackAttempts"] == 0 and row["latencyMs"] > 0
        assert datetime.fromisoformat(row["createdAt"]).tzinfo is not None
    assert by_id[calls[0].request_id]["clientFormat"] == "openai-chat"
    assert by_id[calls[1].request_id]["clientFormat"] == "anthropic"
    assert by_id[calls[1].request_id]["modelRequested"] == "beta/usage-b"
    assert by_id[calls[3].request_id]["error"]


def test_call_logs_filter_paginate_and_fetch_one(traffic: tuple[OmniRouteProcess, list[Expected]]) -> None:
    process, calls = traffic
    newest_first = [c.request_id for c in reversed(calls)]
    with process.api() as api:
        assert [i["requestId"] for i in logs(api, limit=2, offset=1)["items"]] == newest_first[1:3]
        assert logs(api, limit=2, offset=1)["total"] == len(calls)
        assert [i["requestId"] for i in logs(api, model="usage-b")["items"]] == [calls[1].request_id]
        assert [i["requestId"] for i in logs(api, model="beta/usage-b")["items"]] == [calls[1].request_id]
        assert [i["requestId"] for i in logs(api, provider="anthropic")["items"]] == [calls[1].request_id]
        assert [i["requestId"] for i in logs(api, agent="codex")["items"]] == [calls[4].request_id]
        assert [i["requestId"] for i in logs(api, status="400")["items"]] == [calls[3].request_id]
        assert [i["requestId"] for i in logs(api, status="error")["items"]] == [calls[3].request_id]
        assert logs(api, status="ok")["total"] == len(calls) - 1
        assert api.get("/api/usage/call-logs", params={"status": "bad"}).status_code == 422
        assert api.get("/api/usage/call-logs", params={"limit": 0}).status_code == 422

        one = api.get(f"/api/usage/call-logs/{calls[1].request_id}").json()
        assert one["requestId"] == calls[1].request_id
        assert api.get(f"/api/usage/call-logs/{one['id']}").json() == one
        missing = api.get("/api/usage/call-logs/nope")
        assert missing.status_code == 404 and "nope" in missing.json()["error"]["message"]


def _sums(calls: list[Expected]) -> dict[str, Any]:
    return {
        "requests": len(calls),
        "errors": sum(c.status >= 400 for c in calls),
        "tokensIn": sum(c.tokens_in for c in calls),
        "tokensOut": sum(c.tokens_out for c in calls),
        "tokensCached": 0,
        "cost": sum((c.cost for c in calls), Decimal(0)),
        "unpricedCalls": 0,  # each model here is priced; a failed call costs nothing
    }


def _exact(bucket: dict[str, Any]) -> dict[str, Any]:
    return {**bucket, "cost": Decimal(bucket["cost"])}


def test_analytics_sums_are_exact(traffic: tuple[OmniRouteProcess, list[Expected]]) -> None:
    process, calls = traffic
    with process.api() as api:
        day = api.get("/api/usage/analytics", params={"period": "day"}).json()
        month = api.get("/api/usage/analytics", params={"period": "month"}).json()
        assert api.get("/api/usage/analytics", params={"period": "year"}).status_code == 422
    assert _exact(day["totals"]) == _sums(calls)
    assert Decimal(day["totals"]["cost"]) == Decimal("0.00033525")  # 96.25 + 114 + 62.5 + 0 + 62.5 per 1M
    assert month["totals"] == day["totals"]

    def grouped(key: Any) -> dict[str, dict[str, Any]]:
        groups: dict[str, list[Expected]] = {}
        for call in calls:
            groups.setdefault(key(call), []).append(call)
        return {name: _sums(members) for name, members in groups.items()}

    assert {k: _exact(v) for k, v in day["byModel"].items()} == grouped(lambda c: c.model)
    assert {k: _exact(v) for k, v in day["byProvider"].items()} == grouped(lambda c: c.provider)
    assert {k: _exact(v) for k, v in day["byAgent"].items()} == grouped(lambda c: c.agent or c.source)
    assert {k: _exact(v) for k, v in day["byApiKey"].items()} == {"none": {**_sums(calls), "label": None}}
    today = datetime.now(UTC).date().isoformat()
    assert {k: _exact(v) for k, v in day["byDay"].items()} == {today: _sums(calls)}


def test_analytics_count_unpriced_calls_apart(mock_provider: MockProvider) -> None:
    """A model with no known price costs "unknown", never $0: a group of only unpriced calls has
    a null cost, a mixed group the priced calls' sum, and each says how many calls it leaves out."""
    with OmniRouteProcess(bridge=False) as process:
        process.add_provider("openai", "alpha", f"{mock_provider.url}/v1", api_key="sk-alpha-0001")
        with process.api() as api:
            assert api.post("/api/pricing", json=PRICES).status_code == 200
            text = "count these five words please"
            costs = []
            for model in ("alpha/usage-a", "alpha/no-price-known", "alpha/no-price-known"):
                r = api.post("/v1/chat/completions", json={"model": model, "messages": [{"role": "user", "content": text}]})
                assert r.status_code == 200, r.text
                costs.append(r.headers.get("x-omniroute-response-cost"))
            day = api.get("/api/usage/analytics", params={"period": "day"}).json()
            unpriced_rows = logs(api, model="no-price-known")["items"]
    assert [row["cost"] for row in unpriced_rows] == [None, None]
    priced = Decimal(costs[0])
    assert priced > 0
    assert (day["totals"]["requests"], Decimal(day["totals"]["cost"]), day["totals"]["unpricedCalls"]) == (3, priced, 2)
    assert (day["byModel"]["no-price-known"]["cost"], day["byModel"]["no-price-known"]["unpricedCalls"]) == (None, 2)
    assert (Decimal(day["byModel"]["usage-a"]["cost"]), day["byModel"]["usage-a"]["unpricedCalls"]) == (priced, 0)
    assert (Decimal(day["byProvider"]["openai"]["cost"]), day["byProvider"]["openai"]["unpricedCalls"]) == (priced, 2)
