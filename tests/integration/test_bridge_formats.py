"""Agents' own wire formats, routed end to end through the HTTP_PROXY listener.

Request bodies follow each agent's documented format (see ARCHITECTURE.md's agent table and
the translate modules' docstrings): Copilot's chat / Anthropic / Responses calls on
api.githubcopilot.com, Antigravity's Cloud Code `v1internal` envelope, Kiro's CodeWhisperer
`generateAssistantResponse` (answered as an AWS event stream) and OpenCode on openrouter.ai.
Zed's LLM-service envelope has its own module, test_bridge_zed.py.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from omniroute.translate.eventstream import EventStreamDecoder
from tests.support.fake_upstream import TLSUpstream
from tests.support.harness import OmniRouteProcess
from tests.support.mock_provider import MockProvider

from .bridge_support import client_fixture, omni_fixture, upstream_fixture  # noqa: F401 - fixtures

PROMPT = "hello in my own format"
REPLY = f"mock reply from gpt-mapped: {PROMPT}"
MAPPINGS = {agent: {"*": "mock/gpt-mapped"} for agent in ("copilot", "antigravity", "kiro", "open-code")}
MAPPINGS["gemini-cli"] = {"*": "mock/gemini-cli-mapped"}


def _sse(text: str) -> list[dict[str, Any]]:
    return [json.loads(line[5:]) for line in text.splitlines() if line.startswith("data:") and line[5:].strip() != "[DONE]"]


def _row(omni: OmniRouteProcess, agent: str, path: str) -> dict[str, Any]:
    with omni.api() as api:
        rows = api.get("/api/tools/traffic-inspector/requests", params={"agent": agent}).json()["requests"]
    return next(r for r in rows if r["path"].startswith(path))


def _mock_saw(mock: MockProvider) -> list[str]:
    return [r["body"]["model"] for r in mock.requests if r["method"] == "POST"]


# -- copilot ---------------------------------------------------------------------------------
COPILOT_HEADERS = {"authorization": "Bearer ghu_agent_token", "editor-version": "vscode/1.99.0",
                   "copilot-integration-id": "vscode-chat", "user-agent": "GitHubCopilotChat/0.26.0"}


def test_copilot_chat_json_and_stream(omni: OmniRouteProcess, client: httpx.Client, mock: MockProvider) -> None:
    url = "https://api.githubcopilot.com/chat/completions"
    body = {"model": "gpt-4.1", "messages": [{"role": "user", "content": PROMPT}], "n": 1, "temperature": 0.1}
    reply = client.post(url, json=body, headers=COPILOT_HEADERS)
    assert reply.status_code == 200 and reply.json()["choices"][0]["message"]["content"] == REPLY
    streamed = client.post(url, json={**body, "stream": True}, headers=COPILOT_HEADERS)
    chunks = _sse(streamed.text)
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c.get("choices")) == REPLY
    assert _mock_saw(mock) == ["gpt-mapped", "gpt-mapped"]
    row = _row(omni, "copilot", "/chat/completions")
    assert (row["sourceModel"], row["mappedModel"], row["host"]) == ("gpt-4.1", "mock/gpt-mapped", "api.githubcopilot.com")


def test_copilot_anthropic_messages_stream(client: httpx.Client, mock: MockProvider) -> None:
    body = {"model": "claude-sonnet-4", "max_tokens": 200, "stream": True,
            "messages": [{"role": "user", "content": [{"type": "text", "text": PROMPT}]}]}
    reply = client.post("https://api.githubcopilot.com/v1/messages", json=body, headers=COPILOT_HEADERS)
    events = _sse(reply.text)
    assert events[0]["type"] == "message_start" and events[-1]["type"] == "message_stop"
    assert "".join(e["delta"].get("text", "") for e in events if e["type"] == "content_block_delta") == REPLY
    assert _mock_saw(mock) == ["gpt-mapped"]


def test_copilot_responses_json_and_stream(client: httpx.Client, mock: MockProvider) -> None:
    url = "https://api.githubcopilot.com/responses"
    body = {"model": "gpt-5-codex", "input": [{"role": "user", "content": [{"type": "input_text", "text": PROMPT}]}]}
    reply = client.post(url, json=body, headers=COPILOT_HEADERS).json()
    texts = [c["text"] for o in reply["output"] if o["type"] == "message" for c in o["content"]]
    assert texts == [REPLY]
    events = _sse(client.post(url, json={**body, "stream": True}, headers=COPILOT_HEADERS).text)
    assert "".join(e.get("delta", "") for e in events if e["type"] == "response.output_text.delta") == REPLY
    assert events[-1]["type"] == "response.completed"
    assert _mock_saw(mock) == ["gpt-mapped", "gpt-mapped"]


# -- antigravity -------------------------------------------------------------------------------
def test_antigravity_cloud_code_envelope_stream_and_json(
    omni: OmniRouteProcess, client: httpx.Client, mock: MockProvider
) -> None:
    envelope = {
        "model": "gemini-2.5-pro", "project": "agent-project-1234", "requestId": "agent/req-1",
        "userAgent": "antigravity", "requestType": "agent",
        "request": {"contents": [{"role": "user", "parts": [{"text": PROMPT}]}],
                    "generationConfig": {"temperature": 0.2}, "session_id": "s-1"},
    }
    base = "https://cloudcode-pa.googleapis.com/v1internal"
    streamed = client.post(f"{base}:streamGenerateContent?alt=sse", json=envelope,
                           headers={"user-agent": "antigravity/1.11.3 linux/x64"})
    assert streamed.status_code == 200 and streamed.headers["content-type"].startswith("text/event-stream")
    chunks = _sse(streamed.text)
    assert all(set(c) >= {"response"} for c in chunks)  # the Cloud Code envelope, per chunk
    text = "".join(p.get("text", "") for c in chunks for cand in c["response"].get("candidates", [])
                   for p in cand["content"]["parts"])
    assert text == REPLY
    whole = client.post(f"{base}:generateContent", json=envelope).json()
    assert whole["response"]["candidates"][0]["content"]["parts"][0]["text"] == REPLY
    assert _mock_saw(mock) == ["gpt-mapped", "gpt-mapped"]
    row = _row(omni, "antigravity", "/v1internal:streamGenerateContent")
    assert (row["sourceModel"], row["mappedModel"]) == ("gemini-2.5-pro", "mock/gpt-mapped")


# -- gemini-cli in Google-login mode (Code Assist, the host Antigravity calls too) -------------------
GEMINI_CLI_UA = "GeminiCLI/0.61.0/gemini-2.5-flash (linux; x64; terminal)"
ROUTER_SCHEMA = {"type": "OBJECT", "required": ["reasoning", "model_choice"], "properties": {
    "reasoning": {"type": "STRING"}, "model_choice": {"type": "STRING", "enum": ["flash", "pro"]}}}


def test_gemini_cli_code_assist_router_call_takes_its_own_mapping(
    omni: OmniRouteProcess, client: httpx.Client, mock: MockProvider, upstream: TLSUpstream
) -> None:
    # As gemini-cli's code_assist/converter.ts wraps its JSON-mode router call (topK included).
    envelope = {
        "model": "gemini-2.5-flash-lite", "project": "cloud-project-1", "user_prompt_id": "p-1",
        "enabled_credit_types": ["GOOGLE_ONE_AI"],
        "request": {"contents": [{"role": "user", "parts": [{"text": PROMPT}]}], "session_id": "s-1",
                    "generationConfig": {"temperature": 0, "topP": 1, "topK": 64, "maxOutputTokens": 1024,
                                         "responseJsonSchema": ROUTER_SCHEMA, "responseMimeType": "application/json"}},
    }
    reply = client.post("https://cloudcode-pa.googleapis.com/v1internal:generateContent", json=envelope,
                        headers={"user-agent": GEMINI_CLI_UA})
    assert reply.status_code == 200, reply.text
    answer = json.loads(reply.json()["response"]["candidates"][0]["content"]["parts"][0]["text"])
    assert answer == {"reasoning": "mock reply from gemini-cli-mapped: " + PROMPT, "model_choice": "flash"}
    sent = mock.requests_to("/v1/chat/completions")[-1]["body"]
    assert sent["model"] == "gemini-cli-mapped" and "top_k" not in sent
    assert sent["response_format"]["json_schema"]["schema"]["properties"]["model_choice"] == {"type": "string", "enum": ["flash", "pro"]}
    row = _row(omni, "gemini-cli", "/v1internal:generateContent")
    assert (row["host"], row["sourceModel"], row["mappedModel"]) == ("cloudcode-pa.googleapis.com", "gemini-2.5-flash-lite", "mock/gemini-cli-mapped")
    # Its set-up calls are not model calls: they reach Google (here the stand-in) unchanged.
    upstream.clear()
    client.post("https://cloudcode-pa.googleapis.com/v1internal:loadCodeAssist", json={"metadata": {}},
                headers={"user-agent": GEMINI_CLI_UA})
    assert len(upstream.requests_to("/v1internal:loadCodeAssist")) == 1
    assert _row(omni, "gemini-cli", "/v1internal:loadCodeAssist")["mappedModel"] is None


# -- kiro ----------------------------------------------------------------------------------------
def test_kiro_generate_assistant_response_event_stream(
    omni: OmniRouteProcess, client: httpx.Client, mock: MockProvider
) -> None:
    body = {
        "conversationState": {
            "conversationId": "6f1c2d9e-0000-4000-8000-000000000001", "chatTriggerType": "MANUAL",
            "currentMessage": {"userInputMessage": {
                "content": PROMPT, "modelId": "claude-sonnet-4.5", "origin": "AI_EDITOR"}},
            "history": [],
        },
        "profileArn": "arn:aws:codewhisperer:us-east-1:123456789012:profile/AGENT",
    }
    reply = client.post("https://q.us-east-1.amazonaws.com/generateAssistantResponse", json=body,
                        headers={"user-agent": "aws-sdk-js/1.0.0 KiroIDE-0.2.13", "authorization": "Bearer aoa-agent"})
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("application/vnd.amazon.eventstream")
    decoder = EventStreamDecoder()
    messages = decoder.feed(reply.content)
    decoder.close()
    events = [(str(m.headers.get(":event-type")), json.loads(m.payload or b"{}")) for m in messages]
    text = "".join(p.get("content", "") for kind, p in events if kind == "assistantResponseEvent")
    assert text == REPLY
    assert _mock_saw(mock) == ["gpt-mapped"]
    row = _row(omni, "kiro", "/generateAssistantResponse")
    assert (row["sourceModel"], row["mappedModel"]) == ("claude-sonnet-4.5", "mock/gpt-mapped")


# -- open-code -------------------------------------------------------------------------------------
def test_open_code_openrouter_chat_stream(omni: OmniRouteProcess, client: httpx.Client, mock: MockProvider) -> None:
    body = {"model": "anthropic/claude-sonnet-4", "stream": True, "stream_options": {"include_usage": True},
            "messages": [{"role": "system", "content": "You are opencode."}, {"role": "user", "content": PROMPT}]}
    reply = client.post("https://openrouter.ai/api/v1/chat/completions", json=body,
                        headers={"user-agent": "opencode/0.15.0", "http-referer": "https://opencode.ai/"})
    chunks = _sse(reply.text)
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c.get("choices")) == REPLY
    assert _mock_saw(mock) == ["gpt-mapped"]
    row = _row(omni, "open-code", "/api/v1/chat/completions")
    assert (row["sourceModel"], row["mappedModel"]) == ("anthropic/claude-sonnet-4", "mock/gpt-mapped")


# -- cursor (not routable) -----------------------------------------------------------------------
def test_cursor_is_captured_and_passed_through_with_the_reason(
    omni: OmniRouteProcess, client: httpx.Client, mock: MockProvider, upstream: TLSUpstream
) -> None:
    omni.map_models("cursor", {"*": "mock/gpt-mapped"})  # stored, but never applied
    upstream.clear()
    frame = b"\x00\x00\x00\x00\x05\x0a\x03abc"  # a Connect envelope around protobuf bytes
    reply = client.post("https://api2.cursor.sh/aiserver.v1.ChatService/StreamUnifiedChatWithTools",
                        content=frame, headers={"content-type": "application/connect+proto",
                                                "user-agent": "connect-es/1.6.1 Cursor/1.7.0"})
    assert reply.status_code == 404  # the stand-in does not speak Cursor's service
    seen = upstream.requests_to("/aiserver.v1.ChatService/StreamUnifiedChatWithTools")
    assert len(seen) == 1 and seen[0]["headers"]["host"] == "api2.cursor.sh"
    assert _mock_saw(mock) == []
    row = _row(omni, "cursor", "/aiserver.v1.ChatService/")
    assert row["mappedModel"] is None and "Connect/gRPC protobuf" in row["note"]
