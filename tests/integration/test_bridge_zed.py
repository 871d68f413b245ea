"""Zed's hosted LLM service (llm.zed.dev) routed end to end through the HTTP_PROXY listener.

Requests follow Zed's `CompletionBody` envelope (`provider`, `model`, `provider_request`) with
the payloads Zed builds per provider; replies are read the way Zed reads them: one JSON event
per line, wrapped as `{"event": ...}` with a final `{"status": "stream_ended"}` when the client
asks for status messages (see `omniroute.bridge.zed` for the sources).
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from omniroute.bridge.zed import H_CLIENT_STATUS, H_CLIENT_STREAM_ENDED, H_SERVER_STATUS
from tests.support.fake_upstream import TLSUpstream
from tests.support.harness import OmniRouteProcess
from tests.support.mock_provider import MockProvider

from .bridge_support import client_fixture, omni_fixture, upstream_fixture  # noqa: F401 - fixtures

PROMPT = "hello from zed's agent panel"
REPLY = f"mock reply from gpt-mapped: {PROMPT}"
URL = "https://llm.zed.dev/completions"
ZED = {"user-agent": "Zed/0.205.4 (macos; aarch64)", "authorization": "Bearer zed-llm-token",
       "x-zed-version": "0.205.4"}
# Current Zed asks for status messages and the closing `stream_ended` status.
ZED_WITH_STATUS = {**ZED, H_CLIENT_STATUS: "true", H_CLIENT_STREAM_ENDED: "true"}
MAPPINGS = {"zed": {"*": "mock/gpt-mapped", "broken-*": "nosuch/model"}}


def _envelope(provider: str, model: str, provider_request: Any) -> dict[str, Any]:
    return {"thread_id": "thread-1", "prompt_id": "prompt-1", "provider": provider, "model": model,
            "provider_request": provider_request}


def _lines(reply: httpx.Response) -> list[dict[str, Any]]:
    """Every line must be one JSON object: Zed's `response_lines` parses each with serde."""
    assert reply.text.endswith("\n")
    return [json.loads(line) for line in reply.text.split("\n")[:-1]]


def _events(reply: httpx.Response) -> list[dict[str, Any]]:
    """Status-message framing: `{"event": ...}` lines, then `{"status": "stream_ended"}`."""
    assert reply.headers[H_SERVER_STATUS] == "true"
    lines = _lines(reply)
    assert lines[-1] == {"status": "stream_ended"}
    assert all(set(line) == {"event"} for line in lines[:-1])
    return [line["event"] for line in lines[:-1]]


def _row(omni: OmniRouteProcess, path: str) -> dict[str, Any]:
    with omni.api() as api:
        rows = api.get("/api/tools/traffic-inspector/requests", params={"agent": "zed"}).json()["requests"]
    return next(r for r in rows if r["path"] == path)


def _mock_saw(mock: MockProvider) -> list[str]:
    return [r["body"]["model"] for r in mock.requests if r["method"] == "POST"]


def test_anthropic_envelope_streams_anthropic_events_as_status_lines(
    omni: OmniRouteProcess, client: httpx.Client, mock: MockProvider
) -> None:
    request = {"model": "claude-sonnet-4-5", "max_tokens": 8192, "stream": True, "temperature": 1.0,
               "system": [{"type": "text", "text": "You are Zed's agent."}],
               "messages": [{"role": "user", "content": [{"type": "text", "text": PROMPT}]}]}
    reply = client.post(URL, json=_envelope("anthropic", "claude-sonnet-4-5", request), headers=ZED_WITH_STATUS)
    assert reply.status_code == 200, reply.text
    events = _events(reply)
    assert events[0]["type"] == "message_start" and events[-1]["type"] == "message_stop"
    assert "".join(e["delta"].get("text", "") for e in events if e["type"] == "content_block_delta") == REPLY
    assert _mock_saw(mock) == ["gpt-mapped"]
    sent = mock.requests[0]["body"]["messages"]
    assert sent[0]["role"] == "system" and sent[-1]["content"] in (PROMPT, [{"type": "text", "text": PROMPT}])
    row = _row(omni, "/completions")
    assert (row["host"], row["sourceModel"], row["mappedModel"]) == ("llm.zed.dev", "claude-sonnet-4-5", "mock/gpt-mapped")


def test_openai_responses_envelope_without_status_messages(client: httpx.Client, mock: MockProvider) -> None:
    """A client that did not ask for status messages gets bare provider events, one a line."""
    request = {"model": "gpt-5", "stream": True, "prompt_cache_key": "thread-1",
               "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": PROMPT}]}]}
    reply = client.post(URL, json=_envelope("open_ai", "gpt-5", request), headers=ZED)
    assert reply.status_code == 200 and H_SERVER_STATUS not in reply.headers
    events = _lines(reply)
    assert all("type" in e for e in events) and events[-1]["type"] == "response.completed"
    assert "".join(e.get("delta", "") for e in events if e["type"] == "response.output_text.delta") == REPLY
    assert _mock_saw(mock) == ["gpt-mapped"]


def test_google_envelope_streams_generate_content_responses(client: httpx.Client, mock: MockProvider) -> None:
    request = {"model": "models/gemini-2.5-pro", "generationConfig": {"candidateCount": 1},
               "contents": [{"role": "user", "parts": [{"text": PROMPT}]}]}
    reply = client.post(URL, json=_envelope("google", "gemini-2.5-pro", request), headers=ZED_WITH_STATUS)
    assert reply.status_code == 200, reply.text
    events = _events(reply)
    text = "".join(p.get("text", "") for e in events for c in e.get("candidates", []) for p in c["content"]["parts"])
    assert text == REPLY
    assert _mock_saw(mock) == ["gpt-mapped"]


def test_x_ai_chat_envelope_has_no_done_line(client: httpx.Client, mock: MockProvider) -> None:
    request = {"model": "grok-4", "stream": True, "max_completion_tokens": 4096,
               "messages": [{"role": "user", "content": PROMPT}]}
    reply = client.post(URL, json=_envelope("x_ai", "grok-4", request), headers=ZED_WITH_STATUS)
    chunks = _events(reply)  # `data: [DONE]` is SSE framing, not an event: it must not become a line
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c.get("choices")) == REPLY
    assert _mock_saw(mock) == ["gpt-mapped"]


def test_engine_error_reaches_zed_in_its_error_shape(client: httpx.Client, mock: MockProvider) -> None:
    request = {"model": "broken-model", "max_tokens": 64, "stream": True,
               "messages": [{"role": "user", "content": PROMPT}]}
    reply = client.post(URL, json=_envelope("anthropic", "broken-model", request), headers=ZED_WITH_STATUS)
    assert 400 <= reply.status_code < 600
    body = reply.json()
    assert body["code"] == f"http_{reply.status_code}" and "nosuch" in body["message"]
    assert _mock_saw(mock) == []


def test_malformed_envelope_gets_a_zed_error(client: httpx.Client, mock: MockProvider, upstream: TLSUpstream) -> None:
    upstream.clear()
    reply = client.post(URL, json=_envelope("anthropic", "claude-sonnet-4-5", "not an object"), headers=ZED)
    assert reply.status_code == 400
    assert reply.json() == {"code": "http_400",
                            "message": "'provider_request' is required and must be a JSON object"}
    assert _mock_saw(mock) == [] and upstream.requests_to("/completions") == []


def test_unknown_provider_passes_through_with_a_note(
    omni: OmniRouteProcess, client: httpx.Client, mock: MockProvider, upstream: TLSUpstream
) -> None:
    upstream.clear()
    body = _envelope("mistral", "codestral-latest", {"model": "codestral-latest", "messages": []})
    reply = client.post(URL, json=body, headers=ZED)
    assert reply.status_code == 404  # the stand-in does not implement Zed's service
    seen = upstream.requests_to("/completions")
    assert len(seen) == 1 and seen[0]["body"] == body and seen[0]["headers"]["host"] == "llm.zed.dev"
    assert _mock_saw(mock) == []
    row = _row(omni, "/completions")
    assert row["mappedModel"] is None and "'mistral' is not routable" in row["note"]


def test_websocket_session_is_refused_so_zed_uses_http(
    omni: OmniRouteProcess, client: httpx.Client, upstream: TLSUpstream
) -> None:
    upstream.clear()
    upgrade = {**ZED, "connection": "Upgrade", "upgrade": "websocket", "sec-websocket-version": "13",
               "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ=="}
    reply = client.get("https://llm.zed.dev/completions/session", headers=upgrade)
    assert reply.status_code == 426 and "falls back to HTTP /completions" in reply.text
    assert upstream.requests_to("/completions/session") == []
    with omni.api() as api:
        zed = next(a for a in api.get("/api/tools/agent-bridge/agents").json() if a["agent_id"] == "zed")
    assert zed["routable"] is True and any("/completions/session" in limit for limit in zed["limits"])
