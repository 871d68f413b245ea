"""Limits on callers, enforced by the engine before any upstream work: rate limits per API key
and model (429 with Retry-After in the caller's format, counted in Redis across instances),
spending budgets per key, the active sessions, and require-login.

Real `omniroute run` processes, the official SDKs with OmniRoute API keys, the mock provider.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest
from websockets.sync.client import connect

from tests.support.harness import OmniRouteProcess
from tests.support.mock_provider import MockProvider
from tests.support.servers import RedisServer

DAY = 86_400


@pytest.fixture(scope="module")
def server(mock_provider: MockProvider) -> Iterator[tuple[OmniRouteProcess, dict[str, dict[str, Any]]]]:
    with OmniRouteProcess(proxy=False, bridge=False) as process:
        process.add_provider("openai", "up-openai", f"{mock_provider.url}/v1", api_key="sk-upstream")
        with process.api() as api:
            keys = {label: api.post("/api/keys", json={"label": label, "scope": "write"}).json() for label in "ab"}
        yield process, keys


@pytest.fixture()
def api(server: tuple[OmniRouteProcess, dict[str, Any]], mock: MockProvider) -> Iterator[httpx.Client]:
    with server[0].api() as client:
        yield client
        client.post("/api/rate-limit", json={"enabled": False, "rules": []}).raise_for_status()
        client.post("/api/settings/require-login", json={"requireLogin": False}).raise_for_status()


def _openai(process: OmniRouteProcess, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{process.api_url}/v1", api_key=key, max_retries=0)


def _chat(process: OmniRouteProcess, key: str, model: str = "up-openai/m1") -> Any:
    return _openai(process, key).chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])


def test_rate_limit_per_key_and_model_in_the_callers_format(
    server: tuple[OmniRouteProcess, dict[str, Any]], api: httpx.Client, mock: MockProvider
) -> None:
    process, keys = server
    a, b = keys["a"]["key"], keys["b"]["key"]
    rule = {"apiKeyId": "*", "model": "up-openai/*", "limit": 2, "windowSeconds": DAY}
    r = api.post("/api/rate-limit", json={"enabled": True, "rules": [rule]})
    assert r.status_code == 200 and r.json() == {"enabled": True, "rules": [rule]}
    _chat(process, a)
    _chat(process, a)
    with pytest.raises(openai.RateLimitError) as limited:
        _chat(process, a)
    assert int(limited.value.response.headers["retry-after"]) >= 1
    assert "rate limit reached" in limited.value.body["message"]  # type: ignore[index]
    claude = anthropic.Anthropic(base_url=process.api_url, api_key=a, max_retries=0)
    with pytest.raises(anthropic.RateLimitError) as limited_a:
        claude.messages.create(model="up-openai/m1", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    assert limited_a.value.body["error"]["type"] == "rate_limit_error"  # type: ignore[index]
    assert limited_a.value.response.headers["retry-after"]
    # Another model, another key: counted apart.
    _chat(process, a, "up-openai/m2")
    _chat(process, b)
    assert len(mock.requests_to("/v1/chat/completions")) == 4  # refused calls never left

    status = {(e["apiKeyId"], e["model"]): e for e in api.get("/api/rate-limits").json()["limits"]}
    mine = status[(keys["a"]["id"], "up-openai/m1")]
    assert mine["used"] == 4 and mine["remaining"] == 0 and mine["limit"] == 2
    assert status[(keys["b"]["id"], "up-openai/m1")]["used"] == 1

    api.post("/api/rate-limit", json={"enabled": False}).raise_for_status()
    _chat(process, a)
    assert api.post("/api/rate-limit", json={"rules": [{"limit": 0}]}).status_code == 422


def test_rate_limit_holds_on_the_responses_websocket_too(
    server: tuple[OmniRouteProcess, dict[str, Any]], api: httpx.Client, mock: MockProvider
) -> None:
    process, keys = server
    rule = {"apiKeyId": keys["a"]["id"], "model": "up-openai/ws", "limit": 1, "windowSeconds": DAY}
    api.post("/api/rate-limit", json={"enabled": True, "rules": [rule]}).raise_for_status()
    frame = json.dumps({"type": "response.create", "model": "up-openai/ws", "input": "hi"})
    auth = {"authorization": f"Bearer {keys['a']['key']}"}
    with connect(f"ws://127.0.0.1:{process.api_port}/v1/responses", additional_headers=auth, open_timeout=15) as ws:
        ws.send(frame)
        events = []
        while not events or events[-1]["type"] not in ("response.completed", "error"):
            events.append(json.loads(ws.recv(timeout=15)))
        assert events[-1]["type"] == "response.completed"
        ws.send(frame)
        refused = json.loads(ws.recv(timeout=15))
    assert refused["type"] == "error" and refused["status"] == 429
    assert refused["error"]["type"] == "rate_limit_error"
    assert len(mock.requests_to("/v1/responses")) == 1


def test_spent_budget_refuses_that_key_only(
    server: tuple[OmniRouteProcess, dict[str, Any]], api: httpx.Client, mock: MockProvider
) -> None:
    process, keys = server
    a, b = keys["a"], keys["b"]
    api.post("/api/pricing", json={"priced": {"input": 1_000_000, "output": 1_000_000}}).raise_for_status()
    r = api.post("/api/usage/budget", json={"apiKeyId": a["id"], "dailyLimitUsd": 0.5, "warningThreshold": 0.5})
    assert r.status_code == 200, r.text
    assert r.json()["periods"]["daily"]["spentUsd"] == 0 and r.json()["exceeded"] is False
    _chat(process, a["key"], "up-openai/priced")  # a dollar per token: this call spends the budget
    with pytest.raises(openai.RateLimitError) as refused:
        _chat(process, a["key"], "up-openai/priced")
    assert "daily budget" in refused.value.body["message"]  # type: ignore[index]
    claude = anthropic.Anthropic(base_url=process.api_url, api_key=a["key"], max_retries=0)
    with pytest.raises(anthropic.RateLimitError):
        claude.messages.create(model="up-openai/m1", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    _chat(process, b["key"], "up-openai/priced")  # another key, its own spending
    assert len(mock.requests_to("/v1/chat/completions")) == 2

    status = {e["apiKeyId"]: e for e in api.get("/api/usage/budget").json()["budgets"]}[a["id"]]
    assert status["exceeded"] is True and status["periods"]["daily"]["warning"] is True
    assert status["dailyLimitUsd"] == 0.5 and status["periods"]["daily"]["spentUsd"] >= 1

    assert api.post("/api/usage/budget", json={"apiKeyId": "nope", "dailyLimitUsd": 1}).status_code == 404
    assert api.post("/api/usage/budget", json={"apiKeyId": a["id"]}).status_code == 422
    assert "resetInterval" not in status  # not a setting: each limit has its own period
    assert api.delete("/api/usage/budget", params={"apiKeyId": a["id"]}).status_code == 200
    _chat(process, a["key"], "up-openai/priced")


def test_sessions_list_the_callers(server: tuple[OmniRouteProcess, dict[str, Any]], api: httpx.Client) -> None:
    process, keys = server
    _chat(process, keys["b"]["key"], "up-openai/m9")
    sessions = api.get("/api/sessions").json()
    assert sessions["count"] == len(sessions["sessions"]) >= 1
    mine = next(s for s in sessions["sessions"] if s["apiKeyId"] == keys["b"]["id"])
    assert mine["requests"] >= 1 and mine["models"]["up-openai/m9"] == 1 and mine["inFlight"] == 0
    assert sessions["byApiKey"][keys["b"]["id"]] == 1


def test_require_login_asks_model_callers_for_a_key(
    server: tuple[OmniRouteProcess, dict[str, Any]], api: httpx.Client
) -> None:
    process, keys = server
    body = {"model": "up-openai/m1", "messages": [{"role": "user", "content": "hi"}]}
    assert httpx.post(f"{process.api_url}/v1/chat/completions", json=body, trust_env=False).status_code == 200
    r = api.post("/api/settings/require-login", json={"requireLogin": True})
    assert r.status_code == 200 and r.json()["requireLogin"] is True
    assert api.get("/api/settings/require-login").json()["enforced"] is True
    refused = httpx.post(f"{process.api_url}/v1/chat/completions", json=body, trust_env=False)
    assert refused.status_code == 401 and refused.json()["error"]["message"]
    _chat(process, keys["a"]["key"])  # a key still works
    assert api.post("/api/settings/require-login", json={"requireLogin": "yes please"}).status_code == 422


def test_rate_limits_hold_across_instances_sharing_redis(mock: MockProvider) -> None:
    with RedisServer() as redis:
        env = {"REDIS_URL": redis.url}
        with OmniRouteProcess(proxy=False, bridge=False, env=env) as a, \
                OmniRouteProcess(proxy=False, bridge=False, env=env) as b:
            rule = {"model": "up-openai/*", "limit": 2, "windowSeconds": DAY}
            for process in (a, b):
                process.add_provider("openai", "up-openai", f"{mock.url}/v1", api_key="sk-upstream")
                with process.api() as api:
                    api.post("/api/rate-limit", json={"enabled": True, "rules": [rule]}).raise_for_status()
            _chat(a, "unused")
            _chat(b, "unused")
            with pytest.raises(openai.RateLimitError):
                _chat(a, "unused")
            with pytest.raises(openai.RateLimitError):
                _chat(b, "unused")
            with b.api() as api:
                counted = api.get("/api/rate-limits").json()["limits"]
            assert [(e["apiKeyId"], e["used"]) for e in counted] == [("anonymous", 4)]


def test_a_budgets_reset_interval_is_refused_not_stored(
    server: tuple[OmniRouteProcess, dict[str, Any]], api: httpx.Client
) -> None:
    key_id = server[1]["b"]["id"]
    r = api.post("/api/usage/budget", json={"apiKeyId": key_id, "weeklyLimitUsd": 5, "resetInterval": "daily"})
    assert r.status_code == 422, r.text
    assert "resetInterval is not taken" in r.json()["error"]["message"]
    assert key_id not in {e["apiKeyId"] for e in api.get("/api/usage/budget").json()["budgets"]}  # nothing stored
