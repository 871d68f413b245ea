"""Two OmniRoute instances behind one balancer share one PostgreSQL and one Redis.

Each instance is a real `omniroute run` process with its own home (its own CA, hosts file and
listeners, as on two machines) and the same `secret.key`, `DATABASE_URL` and `REDIS_URL`, as
docs/DEPLOY.md tells operators to run them. What one instance learns or is told, the other acts
on: breakers, round-robin cursors, providers, mappings and recording sessions.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet

from tests.integration.bridge_support import proxy_client
from tests.integration.conftest_pg import fresh_pg_database
from tests.support.harness import OmniRouteProcess
from tests.support.inspector_support import (
    BASE,
    gsettings_env,
    har_validates,
    mapped_call,
    marker,
    mitmdump_reads,
    setup_routing,
    wait_for,
)
from tests.support.mock_provider import MockProvider
from tests.support.servers import PostgresServer, RedisServer

START_TIMEOUT = 180.0
BRIDGE = "/api/tools/agent-bridge"


@dataclass
class Pair:
    a: OmniRouteProcess
    b: OmniRouteProcess
    mock: MockProvider
    redis: RedisServer
    postgres: PostgresServer

    def apis(self) -> tuple[httpx.Client, httpx.Client]:
        return self.a.api(), self.b.api()


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    root = tmp_path_factory.mktemp("scale-out")
    key = Fernet.generate_key()
    # Its own PostgreSQL: the outage test stops it.
    with PostgresServer() as postgres, RedisServer() as redis, MockProvider() as mock:
        database_url = fresh_pg_database(postgres)
        # A Redis call that a loaded test machine stalls past the default 0.25 s would switch
        # that instance to local counting for a second (docs/DEPLOY.md): not what these test.
        env = {"DATABASE_URL": database_url, "REDIS_URL": redis.url, "OMNIROUTE_REDIS_TIMEOUT_S": "5",
               **gsettings_env(root)}
        homes = [root / "a", root / "b"]
        for home in homes:
            home.mkdir()
            (home / "secret.key").write_bytes(key)
            (home / "secret.key").chmod(0o600)
        a = OmniRouteProcess(homes[0], env=env)
        b = OmniRouteProcess(homes[1], env=env)
        try:
            a.start(timeout=START_TIMEOUT)
            b.start(timeout=START_TIMEOUT)
            yield Pair(a, b, mock, redis, postgres)
        finally:
            a.close()
            b.close()
            for home in homes:
                shutil.rmtree(home, ignore_errors=True)


def _chat(api: httpx.Client, model: str, text: str = "hello") -> httpx.Response:
    return api.post("/v1/chat/completions", json={"model": model, "messages": [{"role": "user", "content": text}]})


def _combo(api: httpx.Client, name: str, nodes: list[tuple[str, str]], strategy: str) -> None:
    body = {"name": name, "model": name, "strategy": strategy,
            "nodes": [{"connectionId": conn, "model": model} for conn, model in nodes]}
    response = api.post("/api/combos", json=body)
    assert response.status_code == 201, response.text


def _provider(api: httpx.Client, name: str, url: str) -> str:
    response = api.post("/api/providers", json={"provider": "openai", "name": name, "url": url,
                                                 "apiKey": f"sk-{name}-shared-0001"})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _breaker(api: httpx.Client, provider: str) -> dict[str, Any]:
    found = [b for b in api.get("/api/resilience").json()["breakers"] if b["provider"] == provider]
    return found[0] if found else {"state": "CLOSED", "failureCount": 0}


def test_both_instances_report_redis_as_their_shared_state(pair: Pair) -> None:
    for process in (pair.a, pair.b):
        health = httpx.get(f"{process.api_url}/health", timeout=10).json()
        assert health["sharedState"] == {"backend": "redis", "up": True}


def test_a_provider_created_on_a_is_usable_on_b(pair: Pair) -> None:
    api_a, api_b = pair.apis()
    with api_a, api_b:
        _provider(api_a, "made-on-a", f"{pair.mock.url}/v1")
        # B learns of it through the config-change event and decrypts its key with the shared
        # secret.key: the mock sees B's call with the key stored on A.
        answer = wait_for(lambda: _chat(api_b, "made-on-a/gpt-from-b"), lambda r: r.status_code == 200)
        assert answer.json()["model"] == "gpt-from-b"
    seen = [r for r in pair.mock.requests if r["model"] == "gpt-from-b"]
    assert seen and seen[-1]["headers"]["authorization"] == "Bearer sk-made-on-a-shared-0001"


def test_round_robin_alternates_across_both_instances(pair: Pair) -> None:
    api_a, api_b = pair.apis()
    with api_a, api_b:
        conn = _provider(api_a, "rr", f"{pair.mock.url}/v1")
        _combo(api_a, "rr-combo", [(conn, "rr-1"), (conn, "rr-2")], "round-robin")
        wait_for(lambda: _chat(api_b, "rr-combo"), lambda r: r.status_code == 200)
        # One cursor in Redis: whichever instance serves, the targets take turns.
        models = [_chat(api, "rr-combo").headers["x-omniroute-model"] for api in (api_a, api_b) * 3]
    assert models in (["rr-1", "rr-2"] * 3, ["rr-2", "rr-1"] * 3), models


def test_a_breaker_opened_through_a_is_open_on_b(pair: Pair) -> None:
    api_a, api_b = pair.apis()
    with api_a, api_b:
        # Settings changed on A reach B: the breaker opens after 2 failures and stays open for
        # a minute; no connection cooldown, so every failure reaches the provider.
        patch = {"providerBreaker": {"apikey": {"failureThreshold": 2, "degradationThreshold": 1,
                                                "resetTimeoutMs": 60_000}},
                 "connectionCooldown": {"apikey": {"baseCooldownMs": 0}}}
        patched = api_a.patch("/api/resilience", json=patch)
        assert patched.status_code == 200, patched.text
        wait_for(lambda: api_b.get("/api/resilience").json()["providerBreaker"]["apikey"]["failureThreshold"],
                 lambda threshold: threshold == 2)
        # Its own provider type, so no other test's traffic touches this breaker.
        response = api_a.post("/api/providers", json={"provider": "mistral", "name": "flaky",
                                                       "url": f"{pair.mock.url}/v1", "apiKey": "sk-flaky-0001"})
        assert response.status_code == 201, response.text
        pair.mock.add_fault(503, model="flaky-model")
        try:
            for _ in range(2):
                assert _chat(api_a, "flaky/flaky-model").status_code == 503
            assert _breaker(api_a, "mistral")["state"] == "OPEN"
            assert _breaker(api_b, "mistral")["state"] == "OPEN"
            asked = len(pair.mock.requests_to("/v1/chat/completions"))
            refused = wait_for(lambda: _chat(api_b, "flaky/flaky-model"), lambda r: r.status_code == 503)
            assert "breaker_open" in refused.json()["error"]["message"]
            # B refused without asking the upstream.
            assert len(pair.mock.requests_to("/v1/chat/completions")) == asked
        finally:
            pair.mock.clear_faults()


DAY = 86_400


def clear_of_window_end(window_s: int, margin_s: float = 120.0) -> None:
    """Windows end on whole multiples of their length since the epoch: a test counting calls
    in one window waits out an end that is due within ``margin_s``."""
    left = window_s - time.time() % window_s
    if left < margin_s:
        time.sleep(left + 1)


def test_routing_settings_changed_on_a_act_on_b(pair: Pair) -> None:
    api_a, api_b = pair.apis()
    with api_a, api_b:
        _provider(api_a, "settings-up", f"{pair.mock.url}/v1")
        wait_for(lambda: _chat(api_b, "settings-up/warm"), lambda r: r.status_code == 200)
        rule = {"model": "settings-up/*", "limit": 2, "windowSeconds": DAY}
        clear_of_window_end(DAY)
        patched = api_a.patch("/api/settings", json={
            "systemPrompt": {"enabled": True, "prompt": "set on A"},
            "rateLimit": {"enabled": True, "rules": [rule]}})
        assert patched.status_code == 200, patched.text
        try:
            # B reloads the settings on A's "settings changed" event: its upstream body has A's
            # prompt, and both count calls in the same Redis window.
            wait_for(lambda: api_b.get("/api/settings").json()["systemPrompt"]["enabled"], bool)
            assert _chat(api_b, "settings-up/prompted").status_code == 200
            seen = [r for r in pair.mock.requests if r["model"] == "prompted"][-1]
            assert seen["body"]["messages"][0] == {"role": "system", "content": "set on A"}
            assert _chat(api_a, "settings-up/prompted").status_code == 200
            assert _chat(api_a, "settings-up/prompted").status_code == 429
            refused = _chat(api_b, "settings-up/prompted")
            assert refused.status_code == 429 and refused.headers["retry-after"]
        finally:
            api_a.patch("/api/settings", json={"systemPrompt": {"enabled": False},
                                               "rateLimit": {"enabled": False}}).raise_for_status()


def test_a_recording_session_spanning_both_exports_one_har(pair: Pair, tmp_path: Path) -> None:
    setup_routing(pair.a, pair.mock)  # provider `mock` and the codex mapping, made on A only
    api_a, api_b = pair.apis()
    with api_a, api_b:
        session = api_a.post(f"{BASE}/sessions", json={"name": "team run"}).json()
        # B records into the session A started, as soon as the event reaches it.
        wait_for(lambda: api_b.get(f"{BASE}/sessions/{session['id']}").json(), lambda s: s["active"])
        texts = {"a": marker(), "b": marker()}
        assert mapped_call(pair.a, texts["a"]) == f"mock reply from gpt-mapped: {texts['a']}"
        assert wait_for(lambda: mapped_call(pair.b, texts["b"]), lambda t: texts["b"] in t) \
            == f"mock reply from gpt-mapped: {texts['b']}"
        wait_for(lambda: api_a.get(f"{BASE}/sessions/{session['id']}").json()["request_count"], lambda n: n >= 2)
        stopped = api_b.patch(f"{BASE}/sessions/{session['id']}", json={"action": "stop"})
        assert stopped.status_code == 200 and stopped.json()["ended_at"] is not None
        wait_for(lambda: api_a.get(f"{BASE}/sessions/{session['id']}").json(), lambda s: not s["active"])
        har_bytes = api_b.get(f"{BASE}/sessions/{session['id']}/export.har").content
    har = json.loads(har_bytes)
    bodies = [e["request"].get("postData", {}).get("text", "") for e in har["log"]["entries"]]
    for text in texts.values():
        assert sum(text in body for body in bodies) == 1, (text, len(bodies))
    path = tmp_path / "team.har"
    path.write_bytes(har_bytes)
    validated = har_validates(path)
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert mitmdump_reads(path).returncode == 0


def test_the_ui_of_one_instance_lists_calls_captured_by_the_other(pair: Pair) -> None:
    setup_routing(pair.a, pair.mock)
    text = marker()
    wait_for(lambda: mapped_call(pair.b, text), lambda t: text in t)
    with pair.a.api() as api_a:
        found = wait_for(lambda: api_a.get(f"{BASE}/requests", params={"q": text}).json()["requests"],
                         lambda rows: any(r["status"] == 200 for r in rows))
    assert found[0]["host"] == "api.openai.com" and found[0]["mappedModel"] == "mock/gpt-mapped"


def _shared_up(process: OmniRouteProcess) -> bool:
    return bool(httpx.get(f"{process.api_url}/health", timeout=10).json()["sharedState"]["up"])


def test_redis_and_postgres_away_mid_run_requests_are_served_and_sharing_resumes(pair: Pair) -> None:
    api_a, api_b = pair.apis()
    with api_a, api_b:
        _provider(api_a, "steady", f"{pair.mock.url}/v1")
        wait_for(lambda: _chat(api_b, "steady/before"), lambda r: r.status_code == 200)

        pair.redis.stop()
        pair.postgres.pause()
        try:
            # Both away: providers come from memory, breakers and counters from local state,
            # usage rows wait in the queue.
            during = [_chat(api, "steady/during") for api in (api_a, api_b, api_a)]
            assert [r.status_code for r in during] == [200, 200, 200], [r.text for r in during]
            assert not _shared_up(pair.a) and not _shared_up(pair.b)
        finally:
            pair.postgres.resume()
            pair.redis.start()

        # Back: the queued usage rows are written, none lost.
        for answer in during:
            request_id = answer.headers["x-omniroute-request-id"]
            logged = f"/api/usage/call-logs/{request_id}"
            wait_for(lambda path=logged: api_a.get(path).status_code, lambda c: c == 200, timeout=30)
        wait_for(lambda: _shared_up(pair.a) and _shared_up(pair.b), bool, timeout=30)
        # Sharing resumed: a provider made on B after the outage answers on A.
        _provider(api_b, "after-outage", f"{pair.mock.url}/v1")
        wait_for(lambda: _chat(api_a, "after-outage/m"), lambda r: r.status_code == 200, timeout=20)


def test_an_agent_defined_on_a_is_routed_by_b(pair: Pair) -> None:
    # B learns of the agent (kind "user-agents") and its mapping through the config-change event.
    api_a, api_b = pair.apis()
    with api_a, api_b:
        _provider(api_a, "for-agents", f"{pair.mock.url}/v1")
        agent = {"id": "shared-agent", "hosts": ["llm.shared-agent.test"], "wireFormat": "openai-chat"}
        assert api_a.post(f"{BRIDGE}/agents", json=agent).status_code == 201
        mapped = api_a.put(f"{BRIDGE}/agents/shared-agent/mappings",
                           json={"mappings": [{"source": "*", "target": "for-agents/gpt-shared"}]})
        assert mapped.status_code == 200, mapped.text
        with proxy_client(pair.b) as client:
            reply = wait_for(
                lambda: client.post("https://llm.shared-agent.test/v1/chat/completions",
                                    json={"model": "any", "messages": [{"role": "user", "content": "hi"}]}),
                lambda r: r.status_code == 200, timeout=60)
        assert reply.json()["choices"][0]["message"]["content"] == "mock reply from gpt-shared: hi"
        rows = api_b.get(f"{BRIDGE}/agents").json()
        assert any(r["agent_id"] == "shared-agent" for r in rows)

        # An edit on A (a new host) and then a delete on A reach B the same way.
        edited = api_a.put(f"{BRIDGE}/agents/shared-agent", json={**agent, "hosts": ["llm2.shared-agent.test"]})
        assert edited.status_code == 200, edited.text
        wait_for(lambda: api_b.get(f"{BRIDGE}/agents/shared-agent/definition").json(),
                 lambda d: d.get("hosts") == ["llm2.shared-agent.test"], timeout=60)
        assert api_a.delete(f"{BRIDGE}/agents/shared-agent").status_code == 204
        wait_for(lambda: api_b.get(f"{BRIDGE}/agents/shared-agent/definition"),
                 lambda r: r.status_code == 404, timeout=60)
        assert all(r["agent_id"] != "shared-agent" for r in api_b.get(f"{BRIDGE}/agents").json())
