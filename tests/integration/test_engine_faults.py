"""The routing engine under upstream faults, through real sockets.

One OmniRoute process with several provider connections pointing at one mock provider;
each combo node asks for its own model name, so a fault rule matching that model hits one
connection only, and the mock's recording (model per request) shows who was tried, in order.
Resilience state is reset after every test; durations that tests wait out are short and
configured (Retry-After 1 s, breaker reset 2 s, a 1 s read timeout).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from omniroute.testing.harness import OmniRouteProcess
from omniroute.testing.mock_provider import MockProvider

TEXT = "route this request please"
MESSAGES = [{"role": "user", "content": TEXT}]
MILLION = Decimal(1_000_000)
# (name, provider type, path after the mock's URL, extra connection fields)
CONNECTIONS: tuple[tuple[str, str, str, dict[str, Any]], ...] = (
    ("oa", "openai", "/v1", {}),
    ("ob", "openai", "/v1", {}),
    ("oc", "openai", "/v1", {}),
    ("an", "anthropic", "", {}),
    # A short per-connection read timeout, so a slow upstream is given up on quickly.
    ("short", "openai", "/v1", {"timeoutSeconds": 1.0}),
)
DEFAULT_RESILIENCE = {  # the seed's apikey profile, restored after tests that change it
    "providerBreaker": {"apikey": {"failureThreshold": 12, "resetTimeoutMs": 30000, "degradationThreshold": 7}},
    "connectionCooldown": {"apikey": {"baseCooldownMs": 3000}},
}


def words(*texts: str) -> int:
    """The mock's token rule: whitespace-separated words."""
    return sum(len(t.split()) for t in texts)


def reply_text(model: str) -> str:
    return f"mock reply from {model}: {TEXT}"


@dataclass
class Engine:
    process: OmniRouteProcess
    mock: MockProvider
    api: httpx.Client
    ids: dict[str, str]  # connection name → id

    def upstream_models(self) -> list[str | None]:
        """Models the mock was asked for, in order: who was tried."""
        return [r["model"] for r in self.mock.requests]

    def combo(self, name: str, nodes: list[tuple[str, str]], strategy: str = "priority",
              weights: list[int] | None = None) -> str:
        body = {
            "name": name, "model": name, "strategy": strategy,
            "nodes": [
                {"connectionId": conn, "model": model, **({"weight": weights[i]} if weights else {})}
                for i, (conn, model) in enumerate(nodes)
            ],
        }
        response = self.api.post("/api/combos", json=body)
        assert response.status_code == 201, response.text
        return name

    def connection_state(self, name: str) -> dict[str, Any]:
        state = self.api.get("/api/resilience").json()
        found = [c for c in state["connections"] if c["connectionId"] == self.ids[name]]
        return found[0] if found else {"status": "active"}

    def breaker(self, provider: str) -> dict[str, Any]:
        state = self.api.get("/api/resilience").json()
        found = [b for b in state["breakers"] if b["provider"] == provider]
        return found[0] if found else {"state": "CLOSED", "failureCount": 0}

    def call_log(self, request_id: str) -> dict[str, Any]:
        response = self.api.get(f"/api/usage/call-logs/{request_id}")
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]


@dataclass
class Answer:
    status: int
    headers: httpx.Headers
    body: Any = None  # JSON body of a non-streamed answer (or of an error)
    events: list[tuple[str | None, Any]] = field(default_factory=list)  # (event name, data)
    text: str = ""  # the reply text, joined from the stream's deltas when streamed

    @property
    def model(self) -> str:
        return self.headers["x-omniroute-model"]

    @property
    def attempts(self) -> str:
        return self.headers["x-omniroute-fallback-attempts"]


def parse_sse(raw: bytes) -> list[tuple[str | None, Any]]:
    events: list[tuple[str | None, Any]] = []
    for block in raw.decode().split("\n\n"):
        name, data = None, []
        for line in block.splitlines():
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
        if data:
            payload = "\n".join(data)
            events.append((name, payload if payload == "[DONE]" else json.loads(payload)))
    return events


def _send(api: httpx.Client, path: str, body: dict[str, Any], stream: bool,
          text_of: Callable[[list[tuple[str | None, Any]]], str]) -> Answer:
    if not stream:
        response = api.post(path, json=body)
        data = response.json()
        return Answer(response.status_code, response.headers, data, text=_json_text(data))
    with api.stream("POST", path, json={**body, "stream": True}) as response:
        raw = response.read()
    if not response.headers.get("content-type", "").startswith("text/event-stream"):
        return Answer(response.status_code, response.headers, json.loads(raw))
    events = parse_sse(raw)
    return Answer(response.status_code, response.headers, events=events, text=text_of(events))


def _json_text(data: Any) -> str:
    if isinstance(data, dict) and data.get("choices"):
        return str(data["choices"][0]["message"]["content"])
    if isinstance(data, dict) and data.get("type") == "message":
        return "".join(b.get("text", "") for b in data["content"])
    return ""


def _chat_text(events: list[tuple[str | None, Any]]) -> str:
    return "".join(
        d["choices"][0]["delta"].get("content") or ""
        for _, d in events
        if isinstance(d, dict) and d.get("choices")
    )


def _anthropic_text(events: list[tuple[str | None, Any]]) -> str:
    return "".join(
        d["delta"].get("text", "") for name, d in events if name == "content_block_delta"
    )


def chat(engine: Engine, model: str, stream: bool = False, **extra: Any) -> Answer:
    body = {"model": model, "messages": MESSAGES, **extra}
    return _send(engine.api, "/v1/chat/completions", body, stream, _chat_text)


def messages(engine: Engine, model: str, stream: bool = False) -> Answer:
    body = {"model": model, "max_tokens": 64, "messages": MESSAGES}
    return _send(engine.api, "/v1/messages", body, stream, _anthropic_text)


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    with (
        MockProvider() as mock,
        OmniRouteProcess(proxy=False, bridge=False) as process,
        process.api() as api,
    ):
        ids = {}
        for name, provider, path, extra in CONNECTIONS:
            body = {"provider": provider, "name": name, "url": f"{mock.url}{path}",
                    "apiKey": f"sk-{name}-test-0001", **extra}
            response = api.post("/api/providers", json=body)
            assert response.status_code == 201, response.text
            ids[name] = response.json()["id"]
        assert api.get(f"/api/providers/{ids['short']}").json()["timeoutSeconds"] == 1.0
        yield Engine(process, mock, api, ids)


@pytest.fixture(autouse=True)
def fresh(engine: Engine) -> Iterator[None]:
    """Each test starts with no fault rules, no recordings and no resilience state."""
    engine.mock.clear_faults()
    engine.mock.clear()
    yield
    engine.mock.clear_faults()
    assert engine.api.post("/api/resilience/reset", json={}).status_code == 200


STREAMS = pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])


# --------------------------------------------------------------------------- fallback


@STREAMS
def test_429_falls_back_and_the_connection_comes_back_after_retry_after(
    engine: Engine, stream: bool
) -> None:
    name = engine.combo(f"rate-{stream}", [("oa", f"rate-a-{stream}"), ("ob", f"rate-b-{stream}")])
    a, b = f"rate-a-{stream}", f"rate-b-{stream}"
    engine.mock.add_fault(429, retry_after=1, model=a, count=1)

    first = chat(engine, name, stream)
    assert (first.status, first.model, first.attempts) == (200, b, "1")
    assert first.text == reply_text(b)
    assert engine.upstream_models() == [a, b]
    cooling = engine.connection_state("oa")
    assert cooling["status"] == "cooldown" and 0 < cooling["remainingMs"] <= 1000
    assert cooling["lastErrorType"] == "rate_limited"

    # While it cools down, the rate-limited connection is skipped without being asked.
    engine.mock.clear()
    second = chat(engine, name, stream)
    assert (second.status, second.model, second.attempts) == (200, b, "0")
    assert engine.upstream_models() == [b]

    # Once the Retry-After has passed it is first in line again.
    wait_until(lambda: engine.connection_state("oa")["status"] == "active", 3.0, "the cooldown to end")
    engine.mock.clear()
    third = chat(engine, name, stream)
    assert (third.status, third.model, third.attempts) == (200, a, "0")
    assert third.text == reply_text(a)
    assert engine.upstream_models() == [a]


@pytest.mark.parametrize("status", [500, 503])
@STREAMS
def test_server_errors_fall_back_to_the_next_target(engine: Engine, status: int, stream: bool) -> None:
    a, b = f"err{status}-a-{stream}", f"err{status}-b-{stream}"
    name = engine.combo(f"err{status}-{stream}", [("oa", a), ("ob", b)])
    engine.mock.add_fault(status, model=a)

    answer = chat(engine, name, stream)
    assert (answer.status, answer.model, answer.attempts) == (200, b, "1")
    assert answer.text == reply_text(b)
    assert engine.upstream_models() == [a, b]
    backing_off = engine.connection_state("oa")
    assert (backing_off["status"], backing_off["lastErrorType"]) == ("cooldown", "server")
    # Counted against the provider's breaker (then forgiven one step by ob's success).
    assert engine.breaker("openai")["lastFailureKind"] == "server"


@STREAMS
def test_a_timeout_before_the_first_byte_falls_back(engine: Engine, stream: bool) -> None:
    a, b = f"slow-a-{stream}", f"slow-b-{stream}"
    name = engine.combo(f"slow-{stream}", [("short", a), ("ob", b)])
    # Far beyond the connection's 1 s read timeout.
    engine.mock.add_fault(delay_ms=5000, model=a, count=1)

    answer = chat(engine, name, stream)
    assert (answer.status, answer.model, answer.attempts) == (200, b, "1")
    assert answer.text == reply_text(b)
    assert engine.upstream_models() == [a, b]
    assert engine.connection_state("short")["lastErrorType"] == "timeout"


@pytest.mark.parametrize("mode", ["fin", "rst"])
@STREAMS
def test_a_reset_before_the_first_byte_falls_back(engine: Engine, mode: str, stream: bool) -> None:
    a, b = f"reset-{mode}-a-{stream}", f"reset-{mode}-b-{stream}"
    name = engine.combo(f"reset-{mode}-{stream}", [("oa", a), ("ob", b)])
    # Non-streamed: closed before any response byte; streamed: after the headers, before
    # the first event.
    engine.mock.add_fault(reset_after=0, reset_mode=mode, model=a, count=1)  # type: ignore[arg-type]

    answer = chat(engine, name, stream)
    assert (answer.status, answer.model, answer.attempts) == (200, b, "1")
    assert answer.text == reply_text(b)
    assert engine.upstream_models() == [a, b]
    assert engine.connection_state("oa")["lastErrorType"] == "reset"


def test_fallback_attempts_header_and_usage_row_count_every_failed_target(engine: Engine) -> None:
    a, b, c = "three-a", "three-b", "three-c"
    name = engine.combo("three", [("oa", a), ("ob", b), ("oc", c)])
    engine.mock.add_fault(429, model=a, count=1)
    engine.mock.add_fault(502, model=b, count=1)

    answer = chat(engine, name)
    assert (answer.status, answer.model, answer.attempts) == (200, c, "2")
    assert engine.upstream_models() == [a, b, c]
    row = engine.call_log(answer.headers["x-omniroute-request-id"])
    assert (row["fallbackAttempts"], row["modelUsed"], row["status"]) == (2, c, 200)
    assert row["connectionId"] == engine.ids["oc"]


# --------------------------------------------------------------------------- after the first byte


@pytest.mark.parametrize(
    ("client", "connection"),
    [("openai-chat", "oa"), ("anthropic", "an"), ("anthropic", "oa"), ("openai-chat", "an")],
    ids=["chat-on-openai", "anthropic-on-anthropic", "anthropic-on-openai", "chat-on-anthropic"],
)
def test_a_failure_after_the_first_streamed_byte_ends_the_stream_with_an_error_event(
    engine: Engine, client: str, connection: str
) -> None:
    a, b = f"mid-{client}-{connection}-a", f"mid-{client}-{connection}-b"
    name = engine.combo(f"mid-{client}-{connection}", [(connection, a), ("ob", b)])
    engine.mock.add_fault(reset_after=4, model=a, count=1)

    call = chat if client == "openai-chat" else messages
    answer = call(engine, name, True)
    # The client already has the first events: no fallback, the stream ends with an error.
    assert (answer.status, answer.model) == (200, a)
    assert engine.upstream_models() == [a]
    assert answer.text and reply_text(a).startswith(answer.text) and answer.text != reply_text(a)
    if client == "openai-chat":
        *_, (_, error), (_, done) = answer.events
        assert done == "[DONE]"
        assert error["error"]["code"] or error["error"]["type"]
        assert "stream" in error["error"]["message"]
    else:
        name_, error = answer.events[-1]
        assert name_ == "error" and error["type"] == "error"
        assert error["error"]["type"] == "api_error" and "stream" in error["error"]["message"]
        assert not any(n == "message_stop" for n, _ in answer.events)
    row = engine.call_log(answer.headers["x-omniroute-request-id"])
    assert (row["status"], row["modelUsed"], row["fallbackAttempts"]) == (502, a, 0)
    assert "stream" in row["error"]


def test_a_stall_after_the_first_byte_beyond_the_read_timeout_ends_the_stream(engine: Engine) -> None:
    a, b = "stall-a", "stall-b"
    name = engine.combo("stall", [("short", a), ("ob", b)])
    engine.mock.add_fault(event_delay_ms=4000, model=a, count=1)

    answer = chat(engine, name, True)
    assert (answer.status, answer.model) == (200, a)
    assert engine.upstream_models() == [a]
    *_, (_, error), (_, done) = answer.events
    assert done == "[DONE]" and "ReadTimeout" in error["error"]["message"]
    assert engine.connection_state("short")["lastErrorType"] == "timeout"


# --------------------------------------------------------------------------- 4xx


def test_401_moves_on_and_marks_the_connection_auth_failed(engine: Engine) -> None:
    a, b = "auth-a", "auth-b"
    name = engine.combo("auth", [("oa", a), ("ob", b)])
    engine.mock.add_fault(401, model=a)

    first = chat(engine, name)
    assert (first.status, first.model, first.attempts) == (200, b, "1")
    assert engine.connection_state("oa")["status"] == "auth_failed"

    engine.mock.clear()
    second = chat(engine, name, True)
    assert (second.status, second.model, second.attempts) == (200, b, "0")
    assert engine.upstream_models() == [b]
    # Addressed alone, the auth-failed connection is refused here, without an upstream call.
    alone = chat(engine, f"oa/{a}")
    assert alone.status == 503 and "auth_failed" in alone.body["error"]["message"]
    assert engine.upstream_models() == [b]


@STREAMS
def test_400_goes_back_to_the_client_as_the_upstream_said_it(engine: Engine, stream: bool) -> None:
    a, b = f"bad-a-{stream}", f"bad-b-{stream}"
    name = engine.combo(f"bad-{stream}", [("oa", a), ("ob", b)])
    engine.mock.add_fault(400, message="max_tokens is too large for this model", model=a)

    answer = chat(engine, name, stream)
    assert answer.status == 400 and answer.attempts == "0"
    assert answer.body == {"error": {"message": "max_tokens is too large for this model",
                                     "type": "invalid_request_error", "param": None, "code": None}}
    assert engine.upstream_models() == [a]
    assert engine.connection_state("oa")["status"] == "active"
    row = engine.call_log(answer.headers["x-omniroute-request-id"])
    assert (row["status"], row["fallbackAttempts"], row["modelUsed"]) == (400, 0, a)


def test_400_from_another_format_reaches_the_client_in_its_own_format(engine: Engine) -> None:
    a = "bad-translated"
    engine.mock.add_fault(400, message="temperature must be at most 2", model=a)
    answer = messages(engine, f"oa/{a}")
    assert answer.status == 400
    assert answer.body["type"] == "error"
    assert answer.body["error"]["type"] == "invalid_request_error"
    assert "temperature must be at most 2" in answer.body["error"]["message"]
    assert engine.upstream_models() == [a]


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


# --------------------------------------------------------------------------- client disconnect


def _sockets(port: int) -> list[tuple[int, int, str]]:
    """Open TCP sockets touching ``port`` on loopback: (local port, remote port, state)."""
    live = {"01": "ESTABLISHED", "08": "CLOSE_WAIT"}  # FIN_WAIT/TIME_WAIT are already closed
    found = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        parts = line.split()
        local, remote, state = int(parts[1].split(":")[1], 16), int(parts[2].split(":")[1], 16), parts[3]
        if port in (local, remote) and state in live:
            found.append((local, remote, live[state]))
    return found


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc/net/tcp")
def test_client_disconnect_mid_stream_cancels_the_upstream_at_once(engine: Engine) -> None:
    # A mock of its own, so the only sockets to it are this stream's.
    with MockProvider(event_delay_ms=1000) as slow:
        created = engine.api.post("/api/providers", json={
            "provider": "openai", "name": "far", "url": f"{slow.url}/v1", "apiKey": "sk-far-0001"})
        assert created.status_code == 201
        try:
            with httpx.Client(base_url=engine.process.api_url, timeout=30, trust_env=False) as client:
                body = {"model": "far/long-stream", "messages": MESSAGES, "stream": True}
                with client.stream("POST", "/v1/chat/completions", json=body) as response:
                    request_id = response.headers["x-omniroute-request-id"]
                    chunks = response.iter_raw()  # kept: dropping it would close the stream
                    assert next(chunks).startswith(b"data: ")
                    # The stream would go on for ~10 s (one event per second).
                    assert any(local == slow.port for local, _, _ in _sockets(slow.port))
                # Leaving the block closed our connection in the middle of the stream.
                wait_until(lambda: not _sockets(slow.port), 5.0,
                           "OmniRoute to close its upstream connection and the mock to see it")
            row = engine.call_log(request_id)
            assert (row["status"], row["error"], row["modelUsed"]) == (499, "client disconnected", "long-stream")
        finally:
            engine.api.delete(f"/api/providers/{created.json()['id']}")
