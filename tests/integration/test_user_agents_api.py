"""User-defined agents and mapping checks through a real `omniroute run` (uvicorn, mitmproxy).

Create, edit and delete an agent; it is identified and routed like a built-in one (its host is
decrypted and its model calls mapped); bad definitions and unresolvable mapping targets get
a clear 4xx; a mapping can be tried through the engine.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.harness import OmniRouteProcess
from tests.support.mock_provider import MockProvider

from .bridge_support import proxy_client

BASE = "/api/tools/agent-bridge"
HOST = "llm.acme-agent.test"
AGENT = {"id": "acme", "name": "Acme Agent", "hosts": [HOST], "userAgents": ["acme-cli/"],
         "wireFormat": "openai-chat"}


@pytest.fixture(scope="module")
def omni(mock_provider: MockProvider) -> Iterator[OmniRouteProcess]:
    with OmniRouteProcess(bridge=False) as process:
        process.add_provider("openai", "mock", f"{mock_provider.url}/v1", api_key="sk-test-provider-key-0001")
        yield process


@pytest.fixture()
def api(omni: OmniRouteProcess) -> Iterator[httpx.Client]:
    with omni.api() as client:
        yield client
        client.delete(f"{BASE}/agents/acme")


def _agents(api: httpx.Client) -> dict[str, dict[str, Any]]:
    return {row["agent_id"]: row for row in api.get(f"{BASE}/agents").json()}


def _chat(client: httpx.Client, host: str, user_agent: str = "acme-cli/1.0") -> httpx.Response:
    return client.post(f"https://{host}/v1/chat/completions", headers={"user-agent": user_agent},
                       json={"model": "acme-large", "messages": [{"role": "user", "content": "hi"}]})


def test_create_route_edit_delete(omni: OmniRouteProcess, api: httpx.Client) -> None:
    created = api.post(f"{BASE}/agents", json=AGENT)
    assert created.status_code == 201, created.text
    assert created.json() == {**AGENT, "paths": [], "builtin": False, "fromConfig": False}
    row = _agents(api)["acme"]
    assert row["routable"] and row["builtin"] is False and row["definition"]["hosts"] == [HOST]
    mapped = api.put(f"{BASE}/agents/acme/mappings", json={"mappings": [{"source": "*", "target": "mock/gpt-acme"}]})
    assert mapped.status_code == 200, mapped.text
    # Its host is decrypted (the CA signs for it) and its call is routed to the mapping.
    with proxy_client(omni) as client:
        reply = _chat(client, HOST)
    assert reply.status_code == 200, reply.text
    assert reply.json()["choices"][0]["message"]["content"] == "mock reply from gpt-acme: hi"
    rows = api.get("/api/tools/traffic-inspector/requests", params={"agent": "acme"}).json()["requests"]
    assert rows and (rows[0]["agent"], rows[0]["sourceModel"], rows[0]["mappedModel"]) == (
        "acme", "acme-large", "mock/gpt-acme")

    edited = api.put(f"{BASE}/agents/acme", json={**AGENT, "name": "Acme 2", "paths": ["/api/chat"]})
    assert edited.status_code == 200 and edited.json()["name"] == "Acme 2"
    with proxy_client(omni) as client:  # /v1/chat/completions is no longer a model call of acme
        assert _chat(client, HOST).status_code != 200
        moved = client.post(f"https://{HOST}/api/chat", headers={"user-agent": "acme-cli/1.0"},
                            json={"model": "x", "messages": [{"role": "user", "content": "hi"}]})
    assert moved.json()["choices"][0]["message"]["content"] == "mock reply from gpt-acme: hi"

    assert api.delete(f"{BASE}/agents/acme").status_code == 204
    assert "acme" not in _agents(api)
    assert api.get(f"{BASE}/agents/acme/mappings").status_code == 404
    # Created again, it starts with no mappings: the old ones went with it.
    assert api.post(f"{BASE}/agents", json=AGENT).status_code == 201
    assert api.get(f"{BASE}/agents/acme/mappings").json() == []


@pytest.mark.parametrize(("body", "status", "words"), [
    ({**AGENT, "id": "Bad Id"}, 400, "lowercase"),
    ({**AGENT, "id": "claude-code"}, 409, "built-in"),
    ({**AGENT, "hosts": ["not a host!"]}, 400, "invalid host"),
    ({**AGENT, "wireFormat": "kiro"}, 400, "openai-chat"),
    ({**AGENT, "hosts": [], "userAgents": []}, 400, "at least one host"),
    ({**AGENT, "hosts": ["api.anthropic.com"], "userAgents": []}, 409, "claude-code"),
    ({**AGENT, "paths": ["v1/chat"]}, 400, "must start with"),
    ({**AGENT, "extra": 1}, 422, "extra"),
])
def test_bad_definitions_get_a_clear_4xx(api: httpx.Client, body: dict[str, Any], status: int, words: str) -> None:
    reply = api.post(f"{BASE}/agents", json=body)
    assert reply.status_code == status, reply.text
    assert words in reply.json()["error"]["message"]
    assert "acme" not in _agents(api)


def test_builtins_cannot_be_changed_or_deleted(api: httpx.Client) -> None:
    deleted = api.delete(f"{BASE}/agents/codex")
    changed = api.put(f"{BASE}/agents/codex", json=AGENT | {"id": "codex"})
    unknown = api.delete(f"{BASE}/agents/nope")
    assert deleted.status_code == 409 and "built-in" in deleted.json()["error"]["message"]
    assert changed.status_code == 409
    assert unknown.status_code == 404
    assert api.post(f"{BASE}/agents", json=AGENT).status_code == 201
    assert api.post(f"{BASE}/agents", json=AGENT).status_code == 409  # exists: PUT changes it


def test_unresolvable_mapping_target_is_a_422_with_close_matches(api: httpx.Client) -> None:
    before = api.get(f"{BASE}/agents/codex/mappings").json()
    reply = api.put(f"{BASE}/agents/codex/mappings", json={"mappings": [
        {"source": "gpt-5*", "target": "mock/gpt-5"}, {"source": "*", "target": "nosuch/model"}]})
    assert reply.status_code == 422, reply.text
    details = reply.json()["error"]["details"]
    assert [d["field"] for d in details] == ["mappings.1.target"]
    assert "'nosuch/model' does not resolve" in details[0]["message"] and "mock/model" in details[0]["message"]
    assert api.get(f"{BASE}/agents/codex/mappings").json() == before  # nothing saved


def test_a_mapping_can_be_tried_through_the_engine(api: httpx.Client, mock_provider: MockProvider) -> None:
    ok = api.post(f"{BASE}/agents/codex/mappings/test", json={"target": "mock/gpt-tried"})
    assert ok.status_code == 200 and ok.json()["ok"] is True, ok.text
    assert ok.json()["reply"].startswith("mock reply from gpt-tried")
    assert mock_provider.requests[-1]["body"]["model"] == "gpt-tried"
    unknown = api.post(f"{BASE}/agents/codex/mappings/test", json={"target": "nosuch/model"})
    assert unknown.status_code == 422 and "mock/model" in unknown.json()["error"]["details"][0]["message"]
