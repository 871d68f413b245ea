"""Mapped calls answered in one piece run the engine on mitmproxy's loop (no API hop).

What an agent and the records see must not depend on which path served the call: the same
reply, the same usage row (source, agent, client format), errors in the agent's own format,
the same inspector row (source → mapped model).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.harness import OmniRouteProcess
from tests.support.mock_provider import MockProvider

from .bridge_support import omni_fixture, proxy_client, upstream_fixture  # noqa: F401 - fixtures

HEADERS = {"authorization": "Bearer ghu_agent_token", "editor-version": "vscode/1.99.0",
           "copilot-integration-id": "vscode-chat", "user-agent": "GitHubCopilotChat/0.26.0"}
CHAT = "https://api.githubcopilot.com/chat/completions"
MESSAGES = "https://api.githubcopilot.com/v1/messages"
# `gone-*` maps to a connection deleted since: the engine answers 404.
MAPPINGS = {"copilot": {"gone-*": "nowhere/model", "*": "mock/gpt-mapped"}}


def _log(omni: OmniRouteProcess, request_id: str) -> dict[str, Any]:
    with omni.api() as api:
        response = api.get(f"/api/usage/call-logs/{request_id}")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_a_mapped_json_call_is_recorded_as_the_agents(omni: OmniRouteProcess, mock: MockProvider) -> None:
    body = {"model": "gpt-4.1", "messages": [{"role": "user", "content": "in process"}]}
    with proxy_client(omni) as client:
        reply = client.post(CHAT, json=body, headers={**HEADERS, "openai-beta": "assistants=v2"})
    assert reply.status_code == 200, reply.text
    assert reply.json()["choices"][0]["message"]["content"] == "mock reply from gpt-mapped: in process"
    assert reply.headers["x-omniroute-model"] == "gpt-mapped"
    seen = mock.requests[-1]
    assert seen["body"]["model"] == "gpt-mapped"
    assert seen["headers"].get("openai-beta") == "assistants=v2"  # same format: forwarded
    log = _log(omni, reply.headers["x-omniroute-request-id"])
    assert (log["source"], log["agent"], log["clientFormat"], log["status"]) == (
        "agent-bridge", "copilot", "openai-chat", 200)
    with omni.api() as api:
        rows = api.get("/api/tools/traffic-inspector/requests", params={"agent": "copilot"}).json()["requests"]
    row = next(r for r in rows if "in process" in (r.get("requestBody") or ""))
    assert (row["host"], row["sourceModel"], row["mappedModel"], row["status"]) == (
        "api.githubcopilot.com", "gpt-4.1", "mock/gpt-mapped", 200)


@pytest.mark.parametrize(("url", "body", "shape"), [
    (CHAT, {"model": "gone-1", "messages": [{"role": "user", "content": "x"}]}, "openai"),
    (MESSAGES, {"model": "gone-2", "max_tokens": 8, "messages": [{"role": "user", "content": "x"}]}, "anthropic"),
])
def test_engine_errors_reach_the_agent_in_its_own_format(
    omni: OmniRouteProcess, url: str, body: dict[str, Any], shape: str
) -> None:
    with proxy_client(omni) as client:
        reply = client.post(url, json=body, headers=HEADERS)
    assert reply.status_code == 404, reply.text
    error = reply.json()
    if shape == "anthropic":
        assert error["type"] == "error" and "nowhere/model" in error["error"]["message"]
    else:
        assert "nowhere/model" in error["error"]["message"]


def test_a_body_the_translator_cannot_take_is_a_400_in_the_agents_format(omni: OmniRouteProcess) -> None:
    # Anthropic messages towards an OpenAI-type provider: translated, and `messages` must be a list.
    body = {"model": "claude-sonnet-4", "max_tokens": 8, "messages": "not a list"}
    with proxy_client(omni) as client:
        reply = client.post(MESSAGES, json=body, headers=HEADERS)
    assert reply.status_code == 400, reply.text
    error = reply.json()
    assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
    assert "messages" in error["error"]["message"]


def test_streamed_calls_still_stream(omni: OmniRouteProcess) -> None:
    body = {"model": "gpt-4.1", "stream": True, "messages": [{"role": "user", "content": "streamed"}]}
    with proxy_client(omni) as client, client.stream("POST", CHAT, json=body, headers=HEADERS) as reply:
        assert reply.status_code == 200
        assert reply.headers["content-type"].startswith("text/event-stream")
        events = [json.loads(line[5:]) for line in reply.iter_lines()
                  if line.startswith("data:") and line[5:].strip() != "[DONE]"]
    text = "".join(e["choices"][0]["delta"].get("content") or "" for e in events if e.get("choices"))
    assert len(events) > 2 and text == "mock reply from gpt-mapped: streamed"
