"""Everything a provider connection sends goes through its upstream proxy: the cloud token
requests (Entra ID for Azure, Google OAuth for Vertex) as well as the model calls, and the
model list `POST /api/providers/validate` fetches for a connection that is not saved yet,
whose proxy entry is found by its name or provider type.

A real process, the loopback forward proxy that records what it relays, the Azure and Vertex
stand-ins (their token endpoints check what the real ones check) and the mock provider.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from tests.support.forward_proxy import ForwardProxy
from tests.support.harness import OmniRouteProcess
from tests.support.mock_provider import MockProvider
from tests.support.standin_azure import AzureStandIn
from tests.support.standin_vertex import VertexStandIn

AZURE_KEY = "azure-key-0123456789"


@pytest.fixture(scope="module")
def env(mock_provider: MockProvider) -> Iterator[tuple[OmniRouteProcess, ForwardProxy, AzureStandIn, VertexStandIn]]:
    azure = AzureStandIn(mock_provider.url, AZURE_KEY, client_secret="entra-secret")
    vertex = VertexStandIn(mock_provider.url, "test-project", "us-east5")
    azure.start()
    vertex.start()
    try:
        with ForwardProxy() as proxy, OmniRouteProcess(proxy=False, bridge=False) as process:
            yield process, proxy, azure, vertex
    finally:
        azure.stop()
        vertex.stop()


def _proxy_entry(proxy: ForwardProxy) -> dict[str, Any]:
    return {"type": "http", "host": "127.0.0.1", "port": proxy.port}


def _urls(proxy: ForwardProxy) -> list[str]:
    return [seen["url"] for seen in proxy.seen]


def test_cloud_token_requests_go_through_the_connections_proxy(env: Any) -> None:
    process, proxy, azure, vertex = env
    with process.api() as api:
        api.patch("/api/settings/proxy", json={"global": _proxy_entry(proxy), "providers": {}}).raise_for_status()
        for body in ({"provider": "azure", "name": "az-entra", "url": azure.url, "tenantId": "test-tenant",
                      "clientId": "test-client", "apiKey": "entra-secret", "authorityUrl": azure.url},
                     {"provider": "vertex", "name": "vx", "url": vertex.url, "region": "us-east5",
                      "apiKey": json.dumps(json.loads(vertex.service_account_json()))}):
            assert api.post("/api/providers", json=body).status_code == 201
        client = openai.OpenAI(base_url=f"{process.api_url}/v1", api_key="x", max_retries=0)
        for model, reply in (("az-entra/gpt-deployment", "gpt-deployment"), ("vx/gemini-m1", "gemini-m1")):
            completion = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
            assert completion.choices[0].message.content == f"mock reply from {reply}: hi"
        api.patch("/api/settings/proxy", json={"global": None}).raise_for_status()
    urls = _urls(proxy)
    # The token first, then the call that carries it; both through the proxy.
    entra = f"{azure.url}/test-tenant/oauth2/v2.0/token"
    chat = [i for i, url in enumerate(urls) if url.startswith(f"{azure.url}/openai/deployments/gpt-deployment/")]
    assert entra in urls and chat and urls.index(entra) < chat[0], urls
    assert f"{vertex.url}/token" in urls, urls
    assert any(url.startswith(f"{vertex.url}/v1/projects/test-project/") for url in urls), urls
    assert azure.tokens_issued and vertex.tokens_issued


@pytest.mark.parametrize("key", ["checked-by-name", "openai-compatible"])
def test_validate_uses_the_proxy_entry_of_the_unsaved_connections_name_or_type(
    env: Any, mock_provider: MockProvider, key: str
) -> None:
    process, proxy, _, _ = env
    models = f"{mock_provider.url}/v1/models"
    with process.api() as api:
        api.patch("/api/settings/proxy", json={"global": None, "providers": {key: _proxy_entry(proxy)}}).raise_for_status()
        before = _urls(proxy).count(models)
        checked = api.post("/api/providers/validate", json={
            "provider": "openai-compatible", "name": "checked-by-name", "url": f"{mock_provider.url}/v1"})
        assert checked.status_code == 200 and checked.json()["valid"] is True, checked.text
        assert _urls(proxy).count(models) == before + 1  # the model list went through the proxy
        # Another name, no entry for it or its type: direct.
        if key == "checked-by-name":
            other = api.post("/api/providers/validate", json={
                "provider": "openai-compatible", "name": "another", "url": f"{mock_provider.url}/v1"})
            assert other.json()["valid"] is True and _urls(proxy).count(models) == before + 1
        api.patch("/api/settings/proxy", json={"providers": {key: None}}).raise_for_status()
        assert "checked-by-name" not in {c["name"] for c in api.get("/api/providers").json()["connections"]}
