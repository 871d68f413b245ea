"""Bad input on agent traffic answered in-process by the AgentBridge (issue #15, item 5): the
same nesting limit and header checks as the `/v1` routes, through the real HTTP_PROXY listener
with the agent's own TLS, in the agent's own format; nothing forwarded to the provider.
"""

from __future__ import annotations

from typing import Any

import httpx

from omniroute.engine.body import MAX_JSON_DEPTH
from tests.support.mock_provider import MockProvider

from .bridge_support import client_fixture, omni_fixture, upstream_fixture  # noqa: F401 - fixtures

MAPPINGS = {"copilot": {"*": "mock/gpt-mapped"}}
URL = "https://api.githubcopilot.com/chat/completions"
HEADERS = {"authorization": "Bearer ghu_agent_token", "editor-version": "vscode/1.99.0",
           "copilot-integration-id": "vscode-chat", "user-agent": "GitHubCopilotChat/0.26.0",
           "content-type": "application/json"}


def posted(mock: MockProvider) -> list[dict[str, Any]]:
    return [r for r in mock.requests if r["method"] == "POST"]


def test_an_agent_body_nested_past_the_limit_is_400_and_never_forwarded(client: httpx.Client, mock: MockProvider) -> None:
    levels = 5_000
    body = b'{"model": "gpt-4.1", "messages": [{"role": "user", "content": "hi"}], "x": %s}' % (
        b"[" * levels + b"]" * levels)
    response = client.post(URL, content=body, headers=HEADERS)
    assert response.status_code == 400, response.text[:300]
    assert f"more than {MAX_JSON_DEPTH} levels" in response.json()["error"]["message"]
    assert not posted(mock), "the body was forwarded to the provider"
    fine = client.post(URL, json={"model": "gpt-4.1", "messages": [{"role": "user", "content": "hi"}]},
                       headers=HEADERS)
    assert fine.status_code == 200 and [r["body"]["model"] for r in posted(mock)] == ["gpt-mapped"]


def test_an_agent_header_with_non_ascii_bytes_is_a_clear_400(client: httpx.Client, mock: MockProvider) -> None:
    response = client.post(URL, json={"model": "gpt-4.1", "messages": [{"role": "user", "content": "hi"}]},
                           headers={**HEADERS, "openai-beta": b"assistants=v\xff2"})
    assert response.status_code == 400, response.text[:300]
    assert "openai-beta" in response.json()["error"]["message"]
    assert not posted(mock)
