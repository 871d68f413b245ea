"""Management API against a real process: combos, aliases, fallback chains, pricing,
resilience settings, and API keys (secret shown once, hash stored, REQUIRE_API_KEY, scopes)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest

from omniroute.engine.strategies import SUPPORTED_STRATEGIES
from tests.support.harness import OmniRouteProcess
from tests.support.mock_provider import MockProvider

MESSAGES = [{"role": "user", "content": "hello from the management test"}]  # 5 words
KEYS = {"primary": "sk-primary-0001", "backup": "sk-backup-0002", "spare": "sk-spare-0003"}


@pytest.fixture(scope="module")
def server(mock_provider: MockProvider) -> Iterator[tuple[OmniRouteProcess, dict[str, str]]]:
    """One process for the module; three connections to the mock, told apart by their keys."""
    with OmniRouteProcess(proxy=False, bridge=False) as process:
        ids = {
            name: process.add_provider("openai", name, f"{mock_provider.url}/v1", api_key=key)["id"]
            for name, key in KEYS.items()
        }
        yield process, ids


def chat(api: httpx.Client, model: str, **headers: str) -> httpx.Response:
    return api.post("/v1/chat/completions", json={"model": model, "messages": MESSAGES}, headers=headers)


def served_by(mock: MockProvider) -> list[str]:
    """Which connection each upstream call used, by the key it carried."""
    names = {f"Bearer {key}": name for name, key in KEYS.items()}
    return [names[r["headers"]["authorization"]] for r in mock.requests_to("/v1/chat/completions")]


# -- combos --------------------------------------------------------------------------------


def test_combo_crud_and_routing(server: tuple[OmniRouteProcess, dict[str, str]], mock: MockProvider) -> None:
    process, ids = server
    with process.api() as api:
        created = api.post("/api/combos", json={
            "name": "team-fast", "model": "gpt-combo", "strategy": "priority",
            "nodes": [{"connectionId": ids["backup"], "priority": 1},
                      {"connectionId": "primary", "priority": 0}],  # by name: stored as id
        })
        assert created.status_code == 201, created.text
        combo = created.json()
        assert combo["name"] == "team-fast" and combo["strategy"] == "priority"
        assert [n["connectionId"] for n in combo["nodes"]] == [ids["backup"], ids["primary"]]
        assert api.get(f"/api/combos/{combo['id']}").json() == combo
        assert combo in api.get("/api/combos").json()["combos"]

        routed = chat(api, "team-fast")
        assert routed.status_code == 200 and routed.headers["x-omniroute-model"] == "gpt-combo"
        assert served_by(mock) == ["primary"]

        patched = api.patch(f"/api/combos/{combo['id']}", json={
            "strategy": "weighted", "model": "gpt-combo-2", "nodes": [{"connectionId": ids["backup"]}],
        })
        assert patched.status_code == 200
        assert patched.json()["strategy"] == "weighted" and patched.json()["model"] == "gpt-combo-2"
        assert chat(api, "team-fast").headers["x-omniroute-model"] == "gpt-combo-2"
        assert served_by(mock) == ["primary", "backup"]

        assert api.delete(f"/api/combos/{combo['id']}").json() == {"deleted": True, "id": combo["id"]}
        missing = api.get(f"/api/combos/{combo['id']}")
        assert missing.status_code == 404 and "not found" in missing.json()["error"]["message"]
        gone = chat(api, "team-fast")
        assert gone.status_code == 404 and "team-fast" in gone.json()["error"]["message"]


def test_combo_validation_errors(server: tuple[OmniRouteProcess, dict[str, str]]) -> None:
    process, ids = server
    base = {"name": "checked", "model": "m", "nodes": [{"connectionId": ids["primary"]}]}
    with process.api() as api:
        # In the OmniRoute API specification's enum but not implemented: 422 naming every supported strategy.
        bad = api.post("/api/combos", json={**base, "strategy": "context-relay"})
        assert bad.status_code == 422
        error = bad.json()["error"]
        assert error["details"][0]["field"] == "strategy" and "context-relay" in error["message"]
        assert all(s in error["message"] for s in SUPPORTED_STRATEGIES)

        node = api.post("/api/combos", json={**base, "nodes": [{"connectionId": "primary"},
                                                               {"connectionId": "no-such"}]})
        assert node.status_code == 422
        assert node.json()["error"]["details"] == [{
            "field": "nodes.1.connectionId",
            "message": "node 1: no provider connection 'no-such' (list them with GET /api/providers)",
        }]

        slash = api.post("/api/combos", json={**base, "name": "a/b"})
        assert slash.status_code == 422 and slash.json()["error"]["details"][0]["field"] == "name"

        assert api.post("/api/combos", json=base).status_code == 201
        dup = api.post("/api/combos", json=base)
        assert dup.status_code == 409 and "'checked' already exists" in dup.json()["error"]["message"]
        # A combo resolves first: an alias or chain of the same name would never be used.
        shadow_alias = api.post("/api/models/alias", json={"alias": "checked", "target": "primary/m"})
        shadow_chain = api.post("/api/fallback/chains",
                                json={"model": "checked", "chain": [{"provider": "primary"}]})
        assert shadow_alias.status_code == shadow_chain.status_code == 409
        assert api.patch("/api/combos/nope", json={"model": "x"}).status_code == 404
        assert api.delete("/api/combos/checked").status_code == 200  # by name too


# -- aliases -------------------------------------------------------------------------------


def test_aliases_route_update_and_reject_cycles(
    server: tuple[OmniRouteProcess, dict[str, str]], mock: MockProvider
) -> None:
    process, _ = server
    with process.api() as api:
        first = api.post("/api/models/alias", json={"alias": "fast", "target": "primary/gpt-aliased"})
        assert first.status_code == 200 and first.json()["created"] is True
        assert {"alias": "fast", "target": "primary/gpt-aliased"}.items() <= (
            api.get("/api/models/alias").json()["aliases"][0].items()
        )
        assert chat(api, "fast").headers["x-omniroute-model"] == "gpt-aliased"

        again = api.post("/api/models/alias", json={"alias": "fast", "target": "backup/gpt-aliased-2"})
        assert again.json()["created"] is False
        assert api.post("/api/models/alias", json={"alias": "quick", "target": "fast"}).status_code == 200
        assert chat(api, "quick").headers["x-omniroute-model"] == "gpt-aliased-2"
        assert served_by(mock) == ["primary", "backup"]

        cycle = api.post("/api/models/alias", json={"alias": "fast", "target": "quick"})
        assert cycle.status_code == 422
        assert "alias cycle: fast → quick → fast" in cycle.json()["error"]["message"]
        selfish = api.post("/api/models/alias", json={"alias": "me", "target": "me"})
        assert selfish.status_code == 422 and selfish.json()["error"]["details"][0]["field"] == "target"

        assert api.delete("/api/models/alias/quick").json() == {"deleted": True, "alias": "quick"}
        assert api.delete("/api/models/alias/fast").status_code == 200
        assert api.delete("/api/models/alias/fast").status_code == 404
        assert chat(api, "fast").status_code == 404


# -- fallback chains -----------------------------------------------------------------------


def test_fallback_chain_is_used_by_v1(
    server: tuple[OmniRouteProcess, dict[str, str]], mock: MockProvider
) -> None:
    process, ids = server
    chain = [
        {"provider": "spare", "priority": 0, "enabled": False},  # disabled: never tried
        {"provider": ids["backup"], "priority": 2},  # by id
        {"provider": "primary", "priority": 1},  # by name
    ]
    with process.api() as api:
        saved = api.post("/api/fallback/chains", json={"model": "gpt-chain", "chain": chain})
        assert saved.status_code == 200, saved.text
        listed = api.get("/api/fallback/chains").json()["chains"]
        assert [c["model"] for c in listed] == ["gpt-chain"]
        assert listed[0]["chain"] == [{"enabled": True, **step} for step in chain]  # stored explicit

        assert chat(api, "gpt-chain").headers["x-omniroute-fallback-attempts"] == "0"
        assert served_by(mock) == ["primary"]

        mock.add_fault(500, path="/v1/chat/completions", count=1)  # primary fails once
        fell_back = chat(api, "gpt-chain")
        assert fell_back.status_code == 200 and fell_back.headers["x-omniroute-fallback-attempts"] == "1"
        assert served_by(mock) == ["primary", "primary", "backup"]
        assert {r["body"]["model"] for r in mock.requests_to("/v1/chat/completions")} == {"gpt-chain"}

        # primary is cooling down now; the reset endpoint brings it straight back.
        reset = api.post("/api/resilience/reset", json={"scope": "cooldowns", "connectionId": ids["primary"]})
        assert reset.status_code == 200 and reset.json()["cleared"] == 1
        assert chat(api, "gpt-chain").headers["x-omniroute-fallback-attempts"] == "0"
        assert served_by(mock)[-1] == "primary"

        bad = api.post("/api/fallback/chains", json={"model": "x", "chain": [{"provider": "ghost"}]})
        assert bad.status_code == 422 and bad.json()["error"]["details"][0]["field"] == "chain.0.provider"

        assert api.request("DELETE", "/api/fallback/chains", json={"model": "gpt-chain"}).status_code == 200
        assert api.request("DELETE", "/api/fallback/chains", json={"model": "gpt-chain"}).status_code == 404
        assert chat(api, "gpt-chain").status_code == 404


# -- pricing -------------------------------------------------------------------------------


def test_pricing_override_changes_response_cost(server: tuple[OmniRouteProcess, dict[str, str]]) -> None:
    process, _ = server
    model = "primary/price-test-model"  # reply: "mock reply from price-test-model: <5 words>"
    with process.api() as api:
        assert chat(api, model).headers["x-omniroute-response-cost"] == "0.0000000000"  # unpriced

        saved = api.post("/api/pricing", json={"price-test-model": {"input": "2", "output": 4, "cached_input": 1}})
        assert saved.status_code == 200
        assert saved.json()["overrides"]["price-test-model"] == {"input": "2", "output": "4", "cached_input": "1"}
        priced = chat(api, model)
        assert (priced.headers["x-omniroute-tokens-in"], priced.headers["x-omniroute-tokens-out"]) == ("5", "9")
        # (5 × 2 + 9 × 4) / 1M tokens
        assert priced.headers["x-omniroute-response-cost"] == "0.0000460000"
        effective = api.get("/api/pricing").json()
        assert effective["pricing"]["price-test-model"]["output"] == "4"
        # The defaults are the maintained table genai-prices ships, keyed provider/model.
        assert effective["pricing"]["openai/gpt-4o"] == {"input": "2.5", "output": "10", "cached_input": "1.25"}
        assert effective["source"].startswith("genai-prices ")
        defaults = api.get("/api/pricing/defaults").json()["pricing"]
        assert "openai/gpt-4o" in defaults and "price-test-model" not in defaults

        negative = api.post("/api/pricing", json={"m": {"input": -1}})
        assert negative.status_code == 422 and negative.json()["error"]["details"][0]["field"] == "m.input"
        assert api.post("/api/pricing", json={"m": {"bogus": 1}}).status_code == 422

        assert api.post("/api/pricing", json={"price-test-model": None}).json()["overrides"] == {}
        assert chat(api, model).headers["x-omniroute-response-cost"] == "0.0000000000"


# -- resilience ----------------------------------------------------------------------------


def test_resilience_settings_validate_and_apply(server: tuple[OmniRouteProcess, dict[str, str]]) -> None:
    process, _ = server
    with process.api() as api:
        state = api.get("/api/resilience").json()
        assert state["providerBreaker"]["apikey"]["failureThreshold"] == 12  # the specification's default
        assert {"breakers", "connections", "modelLockouts"} <= state.keys()

        patched = api.patch("/api/resilience", json={
            "providerBreaker": {"apikey": {"failureThreshold": 5, "resetTimeoutMs": 10000, "degradationThreshold": 3}},
            "connectionCooldown": {"apikey": {"baseCooldownMs": 1500}},
            "modelLockout": {"durationMs": 60000},
        })
        assert patched.status_code == 200
        body = patched.json()
        assert body["providerBreaker"]["apikey"] == {
            "failureThreshold": 5, "resetTimeoutMs": 10000, "degradationThreshold": 3, "halfOpenRequests": 1,
        }
        assert body["connectionCooldown"]["apikey"]["baseCooldownMs"] == 1500
        assert body["modelLockout"] == {"durationMs": 60000}
        assert api.get("/api/resilience").json()["providerBreaker"]["apikey"]["failureThreshold"] == 5

        for bad, field in (
            ({"providerBreaker": {"nope": {"failureThreshold": 1}}}, "providerBreaker.nope"),
            ({"providerBreaker": {"apikey": {"failureThreshold": 0}}}, "providerBreaker.apikey.failureThreshold"),
            ({"providerBreaker": {"apikey": {"degradationThreshold": 9}}}, "providerBreaker.apikey.degradationThreshold"),
            ({"modelLockout": {"durationMs": -1}}, "modelLockout.durationMs"),
        ):
            rejected = api.patch("/api/resilience", json=bad)
            assert rejected.status_code == 422, bad
            assert rejected.json()["error"]["details"][0]["field"] == field
        assert api.get("/api/resilience").json()["providerBreaker"]["apikey"]["failureThreshold"] == 5

        reset = api.post("/api/resilience/reset").json()  # no body: everything
        assert reset["reset"] is True and reset["scope"] == "all" and isinstance(reset["cleared"], int)
        assert api.post("/api/resilience/reset", json={"scope": "bogus"}).status_code == 422


def test_saved_settings_survive_a_restart(server: tuple[OmniRouteProcess, dict[str, str]]) -> None:
    """Runs last in the module: pricing overrides and resilience changes are re-applied at start."""
    process, _ = server
    with process.api() as api:
        api.post("/api/pricing", json={"price-test-model": {"input": "1", "output": "1"}})
    process.stop()
    with OmniRouteProcess(home=process.home, proxy=False, bridge=False) as again, again.api() as api:
        assert api.get("/api/resilience").json()["providerBreaker"]["apikey"]["failureThreshold"] == 5
        # (5 + 9) × 1 / 1M
        assert chat(api, "primary/price-test-model").headers["x-omniroute-response-cost"] == "0.0000140000"


# -- API keys and auth ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def secured(mock_provider: MockProvider) -> Iterator[tuple[OmniRouteProcess, str]]:
    """REQUIRE_API_KEY on. The first admin key is created from this machine (bootstrap)."""
    with OmniRouteProcess(proxy=False, bridge=False, env={"REQUIRE_API_KEY": "true"}) as process:
        process.add_provider("openai", "mock", f"{mock_provider.url}/v1", api_key=KEYS["primary"])
        with process.api() as api:
            admin = api.post("/api/keys", json={"label": "admin", "scope": "admin"})
        assert admin.status_code == 201, admin.text
        yield process, admin.json()["key"]


def new_key(process: OmniRouteProcess, admin: str, scope: str, label: str = "test") -> dict[str, Any]:
    with process.api() as api:
        created = api.post("/api/keys", json={"label": label, "scope": scope}, headers=bearer(admin))
    assert created.status_code == 201, created.text
    return created.json()  # type: ignore[no-any-return]


def bearer(secret: str) -> dict[str, str]:
    return {"authorization": f"Bearer {secret}"}


def test_key_secret_shown_once_and_only_its_hash_stored(secured: tuple[OmniRouteProcess, str]) -> None:
    process, admin = secured
    created = new_key(process, admin, "write", label="ci")
    secret = created["key"]
    assert secret.startswith("sk-omni-") and len(secret) >= len("sk-omni-") + 43  # 32 random bytes
    assert created["scope"] == "write" and created["keyPreview"] == f"…{secret[-4:]}"
    with process.api() as api:
        one = api.get(f"/api/keys/{created['id']}", headers=bearer(admin))
        listed = api.get("/api/keys", headers=bearer(admin))
    assert one.status_code == 200 and "key" not in one.json() and secret not in one.text
    assert listed.status_code == 200 and secret not in listed.text
    assert {k["label"] for k in listed.json()["keys"]} >= {"admin", "ci"}

    stored = b"".join(p.read_bytes() for p in process.home.glob("omniroute.db*"))
    assert hashlib.sha256(secret.encode()).hexdigest().encode() in stored
    assert secret.encode() not in stored and secret[8:].encode() not in stored


def test_require_api_key_answers_401_in_the_callers_format(secured: tuple[OmniRouteProcess, str]) -> None:
    process, _ = secured
    with process.api() as api:
        plain = chat(api, "mock/gpt-x")
        wrong = chat(api, "mock/gpt-x", authorization="Bearer sk-omni-not-a-real-key")
        claude = api.post("/v1/messages", json={"model": "mock/c", "max_tokens": 5, "messages": MESSAGES})
        gemini = api.post("/v1beta/models/gem:generateContent", params={"key": "nope"},
                          json={"contents": [{"parts": [{"text": "hi"}]}]})
        health = api.get("/health")
    for response in (plain, wrong):
        assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
        assert response.json()["error"]["type"] == "authentication_error"
    assert "API key is required" in plain.json()["error"]["message"]
    assert "not a valid OmniRoute key" in wrong.json()["error"]["message"]
    assert claude.status_code == 401
    assert claude.json()["type"] == "error" and claude.json()["error"]["type"] == "authentication_error"
    assert gemini.status_code == 401 and gemini.json()["error"]["status"] == "UNAUTHENTICATED"
    assert health.status_code == 200  # liveness stays open


def test_a_key_works_from_openai_anthropic_and_gemini_clients(secured: tuple[OmniRouteProcess, str]) -> None:
    process, admin = secured
    created = new_key(process, admin, "write", label="sdk")
    secret = created["key"]
    client = openai.OpenAI(base_url=f"{process.api_url}/v1", api_key=secret, max_retries=0)
    reply = client.chat.completions.create(model="mock/gpt-key", messages=MESSAGES)  # type: ignore[arg-type]
    assert reply.choices[0].message.content == "mock reply from gpt-key: hello from the management test"
    claude = anthropic.Anthropic(base_url=process.api_url, api_key=secret, max_retries=0)  # x-api-key
    message = claude.messages.create(model="mock/claude-key", max_tokens=50, messages=MESSAGES)  # type: ignore[arg-type]
    assert message.content[0].text == "mock reply from claude-key: hello from the management test"  # type: ignore[union-attr]
    with process.api() as api:
        # A Gemini model name has no '/', so the connection is reached through an alias.
        alias = {"alias": "gem-key", "target": "mock/gem-key"}
        assert api.post("/api/models/alias", json=alias, headers=bearer(admin)).status_code == 200
        gemini = api.post("/v1beta/models/gem-key:generateContent", params={"key": secret},
                          json={"contents": [{"role": "user", "parts": [{"text": "hi"}]}]})
        assert gemini.status_code == 200, gemini.text
        deadline = time.monotonic() + 5  # last use is written off the request path
        while api.get(f"/api/keys/{created['id']}", headers=bearer(admin)).json()["lastUsedAt"] is None:
            assert time.monotonic() < deadline, "lastUsedAt was never recorded"
            time.sleep(0.05)


def test_scopes_admin_read_write(secured: tuple[OmniRouteProcess, str]) -> None:
    process, admin = secured
    read = new_key(process, admin, "read")
    write = new_key(process, admin, "write")
    combo = {"name": "scoped", "model": "m"}
    with process.api() as api:
        anonymous = api.get("/api/combos")
        assert anonymous.status_code == 401
        assert "required for management" in anonymous.json()["error"]["message"]  # management format

        assert api.get("/api/combos", headers=bearer(read["key"])).status_code == 200
        denied = api.post("/api/combos", json=combo, headers=bearer(read["key"]))
        assert denied.status_code == 403 and "needs 'admin'" in denied.json()["error"]["message"]
        assert api.get("/v1/models", headers=bearer(read["key"])).status_code == 200
        spend = chat(api, "mock/gpt-x", **bearer(read["key"]))
        assert spend.status_code == 403 and spend.json()["error"]["type"] == "permission_error"

        assert chat(api, "mock/gpt-x", **bearer(write["key"])).status_code == 200
        assert api.get("/api/keys", headers=bearer(write["key"])).status_code == 200
        assert api.post("/api/keys", json={"label": "x"}, headers=bearer(write["key"])).status_code == 403
        assert api.post("/api/combos", json=combo, headers=bearer(admin)).status_code == 201

        path = f"/api/keys/{write['id']}"
        off = api.patch(path, json={"isActive": False, "label": "paused"}, headers=bearer(admin))
        assert off.json()["isActive"] is False and off.json()["label"] == "paused"
        assert chat(api, "mock/gpt-x", **bearer(write["key"])).status_code == 401
        api.patch(path, json={"isActive": True, "scope": "read"}, headers=bearer(admin))
        assert chat(api, "mock/gpt-x", **bearer(write["key"])).status_code == 403
        assert api.patch(path, json={"scope": "root"}, headers=bearer(admin)).status_code == 422
        assert api.delete(path, headers=bearer(admin)).json() == {"deleted": True, "id": write["id"]}
        assert chat(api, "mock/gpt-x", **bearer(write["key"])).status_code == 401
        assert api.get(path, headers=bearer(admin)).status_code == 404
