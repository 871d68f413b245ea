"""Routing settings that change what goes upstream: the system prompt, the thinking budget and
the payload rules (written in each provider's own format), the upstream proxy the provider
clients go through, combo defaults, and the IP filter that refuses before any work.

A real `omniroute run`, the official SDKs as clients, the mock provider recording what
OmniRoute sent it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.support.forward_proxy import ForwardProxy
from tests.support.harness import OmniRouteProcess
from tests.support.mock_provider import MockProvider

CONNECTIONS = {"up-openai": ("openai", "/v1"), "up-anthropic": ("anthropic", ""), "up-gemini": ("gemini", "")}
DEFAULTS: dict[str, Any] = {
    "systemPrompt": {"enabled": False, "prompt": ""},
    "thinkingBudget": {"mode": "passthrough"},
    "payloadRules": {"default": [], "override": [], "filter": [], "defaultRaw": []},
    "comboDefaults": {"strategy": "priority", "maxAttempts": None},
    "proxy": {"global": None},
    "ipFilter": {"enabled": False, "blacklist": [], "whitelist": [], "mode": "blacklist"},
}


@pytest.fixture(scope="module")
def server(mock_provider: MockProvider) -> Iterator[OmniRouteProcess]:
    with OmniRouteProcess(proxy=False, bridge=False) as process:
        for name, (provider, suffix) in CONNECTIONS.items():
            process.add_provider(provider, name, mock_provider.url + suffix, api_key="sk-upstream-key")
        yield process


@pytest.fixture()
def api(server: OmniRouteProcess, mock: MockProvider) -> Iterator[httpx.Client]:
    with server.api() as client:
        yield client
        client.patch("/api/settings", json=DEFAULTS).raise_for_status()


def _openai(server: OmniRouteProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.api_url}/v1", api_key="x", max_retries=0)


def _anthropic(server: OmniRouteProcess) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=server.api_url, api_key="x", max_retries=0)


def _last_body(mock: MockProvider) -> dict[str, Any]:
    return [r for r in mock.requests if not r["path"].startswith("/_mock")][-1]["body"]


def _chat(server: OmniRouteProcess, connection: str, **extra: Any) -> None:
    _openai(server).chat.completions.create(
        model=f"{connection}/m1", messages=[{"role": "user", "content": "hello"}], **extra)


def test_system_prompt_is_injected_in_each_wire_format(
    server: OmniRouteProcess, api: httpx.Client, mock: MockProvider
) -> None:
    prompt = "Answer in French."
    r = api.put("/api/settings/system-prompt", json={"prompt": prompt, "enabled": True})
    assert r.status_code == 200 and r.json() == {"enabled": True, "prompt": prompt}

    _chat(server, "up-openai")
    assert _last_body(mock)["messages"][0] == {"role": "system", "content": prompt}
    _chat(server, "up-anthropic")
    assert _last_body(mock)["system"] == prompt
    _chat(server, "up-gemini")
    assert _last_body(mock)["systemInstruction"]["parts"][0]["text"] == prompt
    # The client's own system prompt stays, after ours.
    _anthropic(server).messages.create(model="up-anthropic/m1", max_tokens=50, system="be brief",
                                       messages=[{"role": "user", "content": "hi"}])
    assert _last_body(mock)["system"] == f"{prompt}\n\nbe brief"
    _openai(server).responses.create(model="up-openai/m1", input="hi", instructions="be brief")
    body = _last_body(mock)
    assert body["instructions"] == f"{prompt}\n\nbe brief"

    api.put("/api/settings/system-prompt", json={"enabled": False}).raise_for_status()
    _chat(server, "up-openai")
    assert all(m["role"] != "system" for m in _last_body(mock)["messages"])


def test_thinking_budget_reaches_each_upstream_format(
    server: OmniRouteProcess, api: httpx.Client, mock: MockProvider
) -> None:
    r = api.put("/api/settings/thinking-budget", json={"mode": "custom", "customBudget": 2048})
    assert r.status_code == 200 and r.json()["customBudget"] == 2048

    _chat(server, "up-openai")
    assert _last_body(mock)["reasoning_effort"] == "medium"
    _chat(server, "up-anthropic", max_tokens=100)
    body = _last_body(mock)
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert body["max_tokens"] > 2048  # the Messages API requires room beyond the budget
    _chat(server, "up-gemini")
    assert _last_body(mock)["generationConfig"]["thinkingConfig"]["thinkingBudget"] == 2048

    # auto: the provider decides; what the client asked for is removed.
    api.put("/api/settings/thinking-budget", json={"mode": "auto"}).raise_for_status()
    _chat(server, "up-openai", reasoning_effort="high")
    assert "reasoning_effort" not in _last_body(mock)
    # passthrough: the client's own value goes through untouched.
    api.put("/api/settings/thinking-budget", json={"mode": "passthrough"}).raise_for_status()
    _chat(server, "up-openai", reasoning_effort="high")
    assert _last_body(mock)["reasoning_effort"] == "high"


def test_payload_rules_rewrite_bodies_per_model_and_protocol(
    server: OmniRouteProcess, api: httpx.Client, mock: MockProvider
) -> None:
    rules = {
        "override": [{"models": [{"name": "m1", "protocol": "openai"}], "params": {"temperature": 0.1}}],
        "default": [{"models": [{"name": "m*"}], "params": {"top_p": 0.5, "metadata.team": "core"}}],
        "filter": [{"models": [{"name": "m1", "protocol": "claude"}], "params": ["top_k"]}],
        "default-raw": [{"models": [{"name": "m2"}], "params": {"seed": "42"}}],
    }
    r = api.put("/api/settings/payload-rules", json=rules)
    assert r.status_code == 200, r.text
    assert set(r.json()) == {"default", "override", "filter", "defaultRaw"}
    assert api.get("/api/settings/payload-rules").json()["defaultRaw"][0]["params"] == {"seed": "42"}

    _chat(server, "up-openai", temperature=1.5, top_p=0.9)
    body = _last_body(mock)
    assert body["temperature"] == 0.1  # override wins over the client
    assert body["top_p"] == 0.9  # a default never replaces the client's value
    assert body["metadata"] == {"team": "core"}
    _chat(server, "up-openai")
    assert _last_body(mock)["top_p"] == 0.5
    _openai(server).chat.completions.create(model="up-openai/m2", messages=[{"role": "user", "content": "x"}])
    body = _last_body(mock)
    assert body["seed"] == 42 and "temperature" not in body  # raw JSON parsed; m1's rule not applied
    _anthropic(server).messages.create(model="up-anthropic/m1", max_tokens=50, extra_body={"top_k": 5, "temperature": 0.7},
                                       messages=[{"role": "user", "content": "hi"}])
    body = _last_body(mock)
    assert "top_k" not in body and body["temperature"] == 0.7  # openai-only override skipped


@pytest.mark.parametrize("body", [
    {}, {"default": [{"models": [], "params": {"a": 1}}]}, {"override": [{"models": [{"name": "m"}], "params": {}}]},
    {"filter": [{"models": [{"name": "m", "protocol": "smoke-signals"}], "params": ["a"]}]},
    {"default": [{"models": [{"name": "m"}], "params": {"a..b": 1}}]}, {"unknown": []},
])
def test_bad_payload_rules_are_refused_and_nothing_changes(api: httpx.Client, body: dict[str, Any]) -> None:
    before = api.get("/api/settings/payload-rules").json()
    r = api.put("/api/settings/payload-rules", json=body)
    assert r.status_code == 400 and r.json()["error"]["details"]  # the specification's ValidationError
    assert api.get("/api/settings/payload-rules").json() == before


def test_ip_filter_refuses_before_any_work_in_the_callers_format(
    server: OmniRouteProcess, api: httpx.Client, mock: MockProvider
) -> None:
    r = api.put("/api/settings/ip-filter", json={"enabled": True, "mode": "blacklist", "addBlacklist": "127.0.0.0/8"})
    assert r.status_code == 200 and r.json()["blacklist"] == ["127.0.0.0/8"]
    with pytest.raises(openai.PermissionDeniedError) as refused:
        _chat(server, "up-openai")
    assert "blacklist" in refused.value.body["message"]  # type: ignore[index]
    with pytest.raises(anthropic.PermissionDeniedError) as refused_a:
        _anthropic(server).messages.create(model="up-anthropic/m1", max_tokens=10,
                                           messages=[{"role": "user", "content": "hi"}])
    assert refused_a.value.body["error"]["type"] == "permission_error"  # type: ignore[index]
    assert mock.requests == []  # nothing reached a provider
    # This machine keeps the management API, so the filter can be undone from here.
    assert api.get("/api/settings/ip-filter").status_code == 200

    api.put("/api/settings/ip-filter", json={"mode": "whitelist", "whitelist": ["10.0.0.0/8"]}).raise_for_status()
    with pytest.raises(openai.PermissionDeniedError):
        _chat(server, "up-openai")
    api.put("/api/settings/ip-filter", json={"whitelist": ["10.0.0.0/8", "127.0.0.1"]}).raise_for_status()
    _chat(server, "up-openai")
    # A temporary ban refuses even a whitelisted address, until it is lifted.
    r = api.put("/api/settings/ip-filter", json={"tempBan": {"ip": "127.0.0.1", "durationMs": 600000, "reason": "test"}})
    assert [b["ip"] for b in r.json()["tempBans"]] == ["127.0.0.1"]
    with pytest.raises(openai.PermissionDeniedError) as banned:
        _chat(server, "up-openai")
    assert "temporarily banned (test)" in banned.value.body["message"]  # type: ignore[index]
    api.put("/api/settings/ip-filter", json={"removeBan": "127.0.0.1"}).raise_for_status()
    _chat(server, "up-openai")
    assert api.put("/api/settings/ip-filter", json={"addBlacklist": "not-an-ip"}).status_code == 422


def test_provider_clients_go_through_the_upstream_proxy(
    server: OmniRouteProcess, api: httpx.Client, mock: MockProvider
) -> None:
    with ForwardProxy() as proxy:
        port = proxy.port
        r = api.patch("/api/settings/proxy", json={"global": {"type": "http", "host": "127.0.0.1", "port": port,
                                                             "username": "u", "password": "p@ss"}})
        assert r.status_code == 200, r.text
        shown = r.json()["global"]
        assert shown["password"] is None and shown["passwordSet"] is True
        _chat(server, "up-openai")
        assert [s["url"] for s in proxy.seen] == [f"{mock.url}/v1/chat/completions"]
        assert proxy.seen[0]["proxyAuthorization"].startswith("Basic ")  # credentials used
        # A provider entry wins over the global proxy; removing it falls back to the global one.
        api.patch("/api/settings/proxy", json={"global": None}).raise_for_status()
        _chat(server, "up-openai")
        assert len(proxy.seen) == 1  # direct again
        test = api.post("/api/settings/proxy/test", json={
            "proxy": {"host": "127.0.0.1", "port": port}, "url": f"{mock.url}/_mock/health"}).json()
        assert test["success"] is True and test["status"] == 200 and len(proxy.seen) == 2
        api.patch("/api/settings/proxy", json={"providers": {"up-anthropic": {"host": "127.0.0.1", "port": port}}})
        _chat(server, "up-openai")
        _chat(server, "up-anthropic")
        assert [s["url"] for s in proxy.seen][2:] == [f"{mock.url}/v1/messages"]
    dead = api.post("/api/settings/proxy/test", json={"proxy": {"host": "127.0.0.1", "port": port},
                                                     "url": f"{mock.url}/_mock/health"}).json()
    assert dead["success"] is False and dead["error"]
    api.patch("/api/settings/proxy", json={"providers": {"up-anthropic": None}}).raise_for_status()


def test_combo_defaults_set_the_strategy_and_cap_the_attempts(
    server: OmniRouteProcess, api: httpx.Client, mock: MockProvider
) -> None:
    ids = {c["name"]: c["id"] for c in api.get("/api/providers").json()["connections"]}
    r = api.patch("/api/settings/combo-defaults", json={"comboDefaults": {"strategy": "round-robin", "maxAttempts": 1}})
    assert r.status_code == 200 and r.json()["comboDefaults"] == {"strategy": "round-robin", "maxAttempts": 1}
    nodes = [{"connectionId": ids["up-openai"], "model": "fail-500"}, {"connectionId": ids["up-anthropic"], "model": "m1"}]
    combo = api.post("/api/combos", json={"name": "settings-combo", "model": "m1", "nodes": nodes}).json()
    try:
        assert combo["strategy"] == "round-robin"
        api.patch(f"/api/combos/{combo['id']}", json={"strategy": "priority"}).raise_for_status()
        with pytest.raises(openai.InternalServerError):
            _openai(server).chat.completions.create(model="settings-combo", messages=[{"role": "user", "content": "x"}])
        assert len(mock.requests) == 1  # one attempt, no fallback
        api.patch("/api/settings/combo-defaults", json={"comboDefaults": {"maxAttempts": None}}).raise_for_status()
        reply = _openai(server).chat.completions.create(model="settings-combo", messages=[{"role": "user", "content": "x"}])
        assert reply.choices[0].message.content == "mock reply from m1: x"
    finally:
        api.delete(f"/api/combos/{combo['id']}")


def test_settings_document_reads_and_patches_every_section(api: httpx.Client) -> None:
    document = api.get("/api/settings").json()
    assert set(document) >= {"systemPrompt", "thinkingBudget", "payloadRules", "comboDefaults", "proxy",
                             "ipFilter", "requireLogin", "rateLimit"}
    r = api.patch("/api/settings", json={"systemPrompt": {"prompt": "p", "enabled": True},
                                         "thinkingBudget": {"effortLevel": "low", "mode": "adaptive"}})
    assert r.status_code == 200
    assert r.json()["systemPrompt"] == {"prompt": "p", "enabled": True}
    assert api.get("/api/settings/thinking-budget").json()["mode"] == "adaptive"
    # All or nothing: one bad section stores none of them.
    bad = api.patch("/api/settings", json={"systemPrompt": {"prompt": "q"}, "thinkingBudget": {"mode": "lots"}})
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["field"].startswith("thinkingBudget")
    assert api.get("/api/settings/system-prompt").json()["prompt"] == "p"
    assert api.patch("/api/settings", json={"nope": 1}).status_code == 422
