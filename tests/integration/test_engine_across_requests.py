"""The routing engine across many requests: the provider circuit breaker, the load-balancing
strategies, and usage rows and costs that are exact for every request."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from tests.support.harness import wait_until

from .engine_faults_support import (
    TEXT,
    Answer,
    Engine,
    chat,
    engine_fixture,  # noqa: F401 (a fixture, used by name)
    fresh_fixture,  # noqa: F401 (a fixture, used by name)
    messages,
    reply_text,
)

MILLION = Decimal(1_000_000)
DEFAULT_RESILIENCE = {  # the OmniRoute API specification's apikey profile, restored after changes
    "providerBreaker": {"apikey": {"failureThreshold": 12, "resetTimeoutMs": 30000, "degradationThreshold": 7}},
    "connectionCooldown": {"apikey": {"baseCooldownMs": 3000}},
}


def words(*texts: str) -> int:
    """The mock's token rule: whitespace-separated words."""
    return sum(len(t.split()) for t in texts)


# --------------------------------------------------------------------------- circuit breaker


@pytest.fixture()
def touchy_breaker(engine: Engine) -> Iterator[None]:
    """Breaker opens after 2 provider failures and probes after 2 s; no connection cooldown,
    so every request reaches the failing provider until the breaker stops it."""
    patch = {
        "providerBreaker": {"apikey": {"failureThreshold": 2, "resetTimeoutMs": 2000, "degradationThreshold": 1}},
        "connectionCooldown": {"apikey": {"baseCooldownMs": 0}},
    }
    response = engine.api.patch("/api/resilience", json=patch)
    assert response.status_code == 200, response.text
    assert response.json()["providerBreaker"]["apikey"]["failureThreshold"] == 2
    yield
    assert engine.api.patch("/api/resilience", json=DEFAULT_RESILIENCE).status_code == 200


@pytest.mark.usefixtures("touchy_breaker")
def test_breaker_opens_rejects_goes_half_open_and_closes_after_a_good_probe(engine: Engine) -> None:
    a, c = "breaker-a", "breaker-c"
    # The fallback is of another provider type: the breaker is per provider.
    name = engine.combo("breaker", [("oa", a), ("an", c)])
    engine.mock.add_fault(503, model=a)

    for expected_failures in (1, 2):
        answer = chat(engine, name)
        assert (answer.status, answer.model, answer.attempts) == (200, c, "1")
        assert engine.breaker("openai")["failureCount"] == expected_failures
    assert engine.upstream_models() == [a, c, a, c]
    assert engine.breaker("openai")["state"] == "OPEN"

    # Open: the provider is skipped without a request; addressed alone it fails fast.
    engine.mock.clear()
    skipped = chat(engine, name, True)
    assert (skipped.status, skipped.model, skipped.attempts) == (200, c, "0")
    alone = chat(engine, f"ob/{a}")
    assert alone.status == 503 and "breaker_open" in alone.body["error"]["message"]
    assert int(alone.headers["retry-after"]) >= 1
    assert engine.upstream_models() == [c]

    # After the reset timeout one probe goes through; it fails, so the breaker opens again.
    wait_until(lambda: engine.breaker("openai")["state"] == "HALF_OPEN", 5.0, "half-open")
    engine.mock.clear()
    probe = chat(engine, name)
    assert (probe.model, probe.attempts) == (c, "1")
    assert engine.upstream_models() == [a, c]
    assert engine.breaker("openai")["state"] == "OPEN"

    # The provider heals: the next probe succeeds and closes the breaker.
    engine.mock.clear_faults()
    wait_until(lambda: engine.breaker("openai")["state"] == "HALF_OPEN", 5.0, "half-open")
    engine.mock.clear()
    healed = chat(engine, name)
    assert (healed.status, healed.model, healed.attempts) == (200, a, "0")
    assert engine.breaker("openai") | {"lastFailureTime": None} == engine.breaker("openai") | {
        "state": "CLOSED", "failureCount": 0, "lastFailureTime": None}
    again = chat(engine, f"ob/{a}")
    assert (again.status, again.model) == (200, a)
    assert engine.upstream_models() == [a, a]


# --------------------------------------------------------------------------- strategies


def test_round_robin_alternates_exactly(engine: Engine) -> None:
    name = engine.combo("rr", [("oa", "rr-a"), ("ob", "rr-b")], strategy="round-robin")
    served = [chat(engine, name, stream=i % 3 == 0).model for i in range(12)]
    assert served == ["rr-a", "rr-b"] * 6
    assert engine.upstream_models() == served


def test_weighted_three_to_one_spreads_about_75_25(engine: Engine) -> None:
    name = engine.combo("w31", [("oa", "w-a"), ("ob", "w-b")], strategy="weighted", weights=[3, 1])
    n = 200
    served = [chat(engine, name).model for _ in range(n)]
    heavy = served.count("w-a")
    # Binomial(200, 0.75): mean 150, sd 6.1; ±30 is about 5 sd (a false alarm ~1e-6).
    assert 120 <= heavy <= 180, heavy
    assert heavy + served.count("w-b") == n


# --------------------------------------------------------------------------- usage and cost


PRICES = {
    "usage-a": {"input": "1.25", "output": "10", "cached_input": "0.125"},
    "usage-b": {"input": "3", "output": "15"},
}


def _cost(model: str, tokens_in: int, tokens_out: int) -> Decimal:
    price = PRICES[model]
    return (tokens_in * Decimal(price["input"]) + tokens_out * Decimal(price["output"])) / MILLION


def test_usage_rows_are_exact_one_per_request(engine: Engine) -> None:
    assert engine.api.post("/api/pricing", json=PRICES).status_code == 200
    name = engine.combo("usage", [("oa", "usage-a"), ("ob", "usage-b")])
    tokens_in = words(TEXT)

    calls: list[tuple[Answer, str, int]] = []  # (answer, model used, fallback attempts)
    calls.append((chat(engine, name), "usage-a", 0))
    calls.append((chat(engine, name, True), "usage-a", 0))  # no include_usage asked
    calls.append((chat(engine, name, True, stream_options={"include_usage": True}), "usage-a", 0))
    calls.append((messages(engine, name), "usage-a", 0))
    calls.append((messages(engine, name, True), "usage-a", 0))
    engine.mock.add_fault(500, model="usage-a", count=2)
    calls.append((chat(engine, name), "usage-b", 1))
    engine.api.post("/api/resilience/reset", json={})
    calls.append((chat(engine, name, True), "usage-b", 1))

    # A client that did not ask for usage gets none in its stream, as from the provider.
    assert all("usage" not in d for _, d in calls[1][0].events if isinstance(d, dict))
    assert calls[2][0].events[-2][1]["usage"]["prompt_tokens"] == tokens_in

    listed = engine.api.get("/api/usage/call-logs", params={"model": name, "limit": 100}).json()
    assert listed["total"] == len(calls)
    for answer, used, attempts in calls:
        assert answer.status == 200 and answer.model == used
        tokens_out = words(reply_text(used))
        cost = _cost(used, tokens_in, tokens_out)
        row = engine.call_log(answer.headers["x-omniroute-request-id"])
        assert (row["modelRequested"], row["modelUsed"], row["status"]) == (name, used, 200)
        assert (row["tokensIn"], row["tokensOut"], row["tokensCached"]) == (tokens_in, tokens_out, 0)
        assert Decimal(row["cost"]) == cost, (answer.events or answer.body, row)
        assert row["fallbackAttempts"] == attempts
        assert row["connectionId"] == engine.ids["oa" if used == "usage-a" else "ob"]
        if not answer.events:  # headers are sent before a stream's usage is known
            assert answer.headers["x-omniroute-response-cost"] == f"{cost:.10f}"
            assert answer.headers["x-omniroute-tokens-in"] == str(tokens_in)
            assert answer.headers["x-omniroute-tokens-out"] == str(tokens_out)
    assert _cost("usage-a", 4, 8) == Decimal("0.000085")

