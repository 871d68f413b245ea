from __future__ import annotations

import json

import pytest

from omniroute.bridge.catalog import (
    BUILTIN_AGENTS,
    AgentCatalog,
    AgentSpec,
    extract_model,
    normalize_host,
    zed_inner_format,
)
from omniroute.translate.formats import WireFormat

SPECIFIED_AGENT_IDS = {
    "antigravity", "kiro", "copilot", "codex", "cursor", "zed", "claude-code", "open-code", "trae",
    "gemini-cli", "qwen-code",
}


@pytest.fixture
def catalog() -> AgentCatalog:
    return AgentCatalog()


def test_builtins_are_the_specified_agent_ids() -> None:
    assert {a.id for a in BUILTIN_AGENTS} == SPECIFIED_AGENT_IDS


def test_not_routable_agents_say_why() -> None:
    for agent in BUILTIN_AGENTS:
        if agent.routable:
            assert agent.reason is None
        else:
            assert agent.reason and "passed through" in agent.reason
    assert {a.id for a in BUILTIN_AGENTS if not a.routable} == {"cursor", "trae"}
    cursor = AgentCatalog().get("cursor")
    assert "Connect/gRPC protobuf" in (cursor.reason or "")


def test_every_agent_declares_ca_env_needs() -> None:
    for agent in BUILTIN_AGENTS:
        assert agent.env, agent.id
        assert set(agent.env) <= {"NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"}


# (host, method, path, user agent, agent, wire format, body, model)
CASES = [
    ("api.anthropic.com", "POST", "/v1/messages?beta=true", "claude-cli/1.0.98 (external, cli)",
     "claude-code", WireFormat.ANTHROPIC, {"model": "claude-sonnet-4-5", "messages": []}, "claude-sonnet-4-5"),
    ("api.openai.com", "POST", "/v1/responses", "codex_cli_rs/0.46.0 (Mac OS 15.1; arm64)",
     "codex", WireFormat.OPENAI_RESPONSES, {"model": "gpt-5-codex", "input": []}, "gpt-5-codex"),
    ("chatgpt.com", "POST", "/backend-api/codex/responses", "codex_exec/0.46.0",
     "codex", WireFormat.OPENAI_RESPONSES, {"model": "gpt-5", "input": []}, "gpt-5"),
    ("api.githubcopilot.com", "POST", "/chat/completions", "GithubCopilot/1.350.0",
     "copilot", WireFormat.OPENAI_CHAT, {"model": "gpt-4o", "messages": []}, "gpt-4o"),
    ("api.individual.githubcopilot.com", "POST", "/v1/messages", "GitHubCopilotChat/0.31.0",
     "copilot", WireFormat.ANTHROPIC, {"model": "claude-sonnet-4", "messages": []}, "claude-sonnet-4"),
    ("cloudcode-pa.googleapis.com", "POST", "/v1internal:streamGenerateContent?alt=sse",
     "antigravity/1.11.3 darwin/arm64", "antigravity", WireFormat.GEMINI_CLOUDCODE,
     {"model": "gemini-3-pro-high", "project": "p-1", "request": {"contents": []}},
     "gemini-3-pro-high"),
    ("daily-cloudcode-pa.googleapis.com", "POST", "/v1internal:generateContent", None,
     "antigravity", WireFormat.GEMINI_CLOUDCODE, {"model": "models/gemini-2.5-pro", "request": {}},
     "gemini-2.5-pro"),
    ("q.us-east-1.amazonaws.com", "POST", "/generateAssistantResponse",
     "aws-sdk-js/1.0.7 KiroIDE-0.2.13-abc", "kiro", WireFormat.KIRO,
     {"conversationState": {"currentMessage": {"userInputMessage": {
         "content": "hi", "modelId": "claude-sonnet-4.5", "origin": "AI_EDITOR"}}}},
     "claude-sonnet-4.5"),
    ("llm.zed.dev", "POST", "/completions", "Zed/0.205.4 (macos; aarch64)", "zed", WireFormat.ZED,
     {"provider": "anthropic", "model": "claude-sonnet-4", "provider_request": {}},
     "claude-sonnet-4"),
    ("opencode.ai", "POST", "/zen/v1/chat/completions", "opencode/0.15.0", "open-code",
     WireFormat.OPENAI_CHAT, {"model": "qwen3-coder"}, "qwen3-coder"),
    ("openrouter.ai", "POST", "/api/v1/chat/completions", "opencode/0.15.0", "open-code",
     WireFormat.OPENAI_CHAT, {"model": "anthropic/claude-sonnet-4"}, "anthropic/claude-sonnet-4"),
    ("api2.cursor.sh", "POST", "/aiserver.v1.ChatService/StreamUnifiedChatWithTools",
     "connect-es/1.6.1", "cursor", WireFormat.CONNECT_PROTO, b"\x00\x00\x00\x00\x05hello", None),
]


@pytest.mark.parametrize(
    ("host", "method", "path", "ua", "agent_id", "fmt", "body", "model"), CASES,
    ids=[f"{c[4]}:{c[2]}" for c in CASES],
)
def test_identify_model_call_and_model(
    catalog: AgentCatalog, host: str, method: str, path: str, ua: str | None,
    agent_id: str, fmt: str, body: object, model: str | None,
) -> None:
    match = catalog.identify(host, path, ua)
    assert match is not None and match.agent.id == agent_id
    assert catalog.is_model_call(match.agent, method, path) == fmt
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    assert extract_model(fmt, raw, path) == model
    if isinstance(body, dict):
        assert extract_model(fmt, body, path) == model


def test_anthropic_host_defaults_to_claude_code_unless_ua_names_another(
    catalog: AgentCatalog,
) -> None:
    for ua in (None, "python-httpx/0.28"):
        match = catalog.identify("api.anthropic.com", "/v1/messages", ua)
        assert match is not None and match.agent.id == "claude-code" and match.matched_by == "host"
    kiro = catalog.identify("api.anthropic.com", "/v1/messages", "KiroIDE-0.2.13")
    assert kiro is not None and kiro.agent.id == "kiro" and kiro.matched_by == "host+user-agent"
    zed = catalog.identify("api.anthropic.com", "/v1/messages", "Zed/0.205.4")
    assert zed is not None and zed.agent.id == "zed" and zed.matched_by == "user-agent"
    assert catalog.is_model_call(zed.agent, "POST", "/v1/messages") == WireFormat.ANTHROPIC


def test_user_agent_alone_identifies_agent_on_unknown_host(catalog: AgentCatalog) -> None:
    match = catalog.identify("api.deepseek.com", "/chat/completions", "opencode/0.15.0 ai-sdk")
    assert match is not None and match.agent.id == "open-code" and match.matched_by == "user-agent"
    assert catalog.identify("example.org", "/", "curl/8.0") is None
    # A token must start a word: "Authorized/1.0" is not Zed.
    assert catalog.identify("example.org", "/", "Authorized/1.0") is None


def test_host_normalisation(catalog: AgentCatalog) -> None:
    assert normalize_host("API.Anthropic.COM.:443") == "api.anthropic.com"
    assert normalize_host("[::1]:8443") == "::1"
    match = catalog.identify("API.OPENAI.COM.", "/v1/responses", None)
    assert match is not None and match.agent.id == "codex"


@pytest.mark.parametrize(
    ("agent_id", "method", "path"),
    [
        ("claude-code", "GET", "/api/claude_code/settings"),
        ("claude-code", "GET", "/api/claude_code/policy_limits"),
        ("claude-code", "POST", "/v1/messages/count_tokens"),
        ("claude-code", "GET", "/v1/messages"),
        ("codex", "GET", "/backend-api/wham/usage"),
        ("copilot", "GET", "/models"),
        ("copilot", "POST", "/telemetry"),
        ("antigravity", "POST", "/v1internal:loadCodeAssist"),
        ("kiro", "POST", "/ListAvailableModels"),
        ("trae", "POST", "/v1/chat/completions"),
    ],
)
def test_non_model_calls(catalog: AgentCatalog, agent_id: str, method: str, path: str) -> None:
    assert catalog.is_model_call(agent_id, method, path) is None


def test_codex_websocket_upgrade_is_a_model_call(catalog: AgentCatalog) -> None:
    headers = {"Upgrade": "websocket", "openai-beta": "responses_websockets=2025-08-01"}
    assert catalog.is_model_call("codex", "GET", "/v1/responses", headers) == WireFormat.OPENAI_RESPONSES
    assert catalog.is_model_call("codex", "GET", "/v1/responses") is None


def test_kiro_amz_target_header(catalog: AgentCatalog) -> None:
    headers = {"X-Amz-Target": "AmazonCodeWhispererStreamingService.GenerateAssistantResponse"}
    assert catalog.is_model_call("kiro", "POST", "/", headers) == WireFormat.KIRO
    other = {"x-amz-target": "AmazonCodeWhispererService.ListAvailableModels"}
    assert catalog.is_model_call("kiro", "POST", "/", other) is None


def test_generic_rules_for_gemini_and_ollama(catalog: AgentCatalog) -> None:
    path = "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    assert catalog.is_model_call("open-code", "POST", path) == WireFormat.GEMINI
    assert extract_model(WireFormat.GEMINI, b"{}", path) == "gemini-2.5-flash"
    assert catalog.is_model_call("open-code", "POST", "/api/chat") == WireFormat.OLLAMA
    assert extract_model(WireFormat.OLLAMA, {"model": "qwen3:8b"}, "/api/chat") == "qwen3:8b"


def test_extract_model_tolerates_bad_bodies() -> None:
    assert extract_model(WireFormat.ANTHROPIC, b"not json", "/v1/messages") is None
    assert extract_model(WireFormat.ANTHROPIC, b"[1, 2]", "/v1/messages") is None
    assert extract_model(WireFormat.ANTHROPIC, {"model": 5}, "/v1/messages") is None
    assert extract_model(WireFormat.KIRO, {"conversationState": {"currentMessage": None}}, "/") is None
    assert extract_model(WireFormat.OPENAI_CHAT, None, "/") is None


def test_zed_inner_format() -> None:
    assert zed_inner_format({"provider": "anthropic"}) == WireFormat.ANTHROPIC
    assert zed_inner_format(b'{"provider": "open_ai"}') == WireFormat.OPENAI_CHAT
    assert zed_inner_format({"provider": "google"}) == WireFormat.GEMINI
    assert zed_inner_format({"provider": "mystery"}) is None


def test_user_added_agent_and_hosts_round_trip() -> None:
    custom = {
        "id": "my-agent", "name": "My Agent", "hosts": ["llm.corp.example", "*.ai.corp.example"],
        "user_agents": ["myagent/"], "env": ["REQUESTS_CA_BUNDLE"],
    }
    catalog = AgentCatalog(user_agents=[custom], extra_hosts={"open-code": ["api.deepseek.com"]})
    spec = catalog.get("my-agent")
    assert AgentSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    assert spec.exact_hosts == ("llm.corp.example",)
    sub = catalog.identify("eu.ai.corp.example", "/v1/chat/completions", None)
    assert sub is not None and sub.agent.id == "my-agent"
    assert catalog.is_model_call(spec, "POST", "/v1/chat/completions") == WireFormat.OPENAI_CHAT
    ds = catalog.identify("api.deepseek.com", "/chat/completions", None)
    assert ds is not None and ds.agent.id == "open-code" and ds.matched_by == "host"
    assert "api.deepseek.com" in catalog.get("open-code").hosts


def test_exact_host_beats_suffix_and_longer_suffix_beats_shorter() -> None:
    catalog = AgentCatalog(
        user_agents=[
            {"id": "wide", "hosts": ["*.example.com"]},
            {"id": "narrow", "hosts": ["*.api.example.com"]},
            {"id": "exact", "hosts": ["x.api.example.com"]},
        ],
        builtins=(),
    )
    assert catalog.identify("x.api.example.com").agent.id == "exact"  # type: ignore[union-attr]
    assert catalog.identify("y.api.example.com").agent.id == "narrow"  # type: ignore[union-attr]
    assert catalog.identify("y.example.com").agent.id == "wide"  # type: ignore[union-attr]
    assert catalog.identify("example.com") is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"id": "Bad Id"}, "agent id"),
        ({"id": "ok", "hosts": ["not a host"]}, "invalid host"),
        ({"id": "ok", "wire_formats": ["soap"]}, "unknown wire format"),
        ({"id": "ok", "env": ["HTTPS_PROXY"]}, "unknown CA env var"),
        ({"id": "ok", "routable": False}, "say why"),
        ({"id": "ok", "model_calls": [{"path": "/x", "format": "grpc"}]}, "unknown wire format"),
    ],
)
def test_user_agent_validation(data: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        AgentSpec.from_dict(data)


def test_duplicate_and_unknown_ids_rejected() -> None:
    with pytest.raises(ValueError, match="already exists"):
        AgentCatalog(user_agents=[{"id": "codex", "hosts": ["x.example"]}])
    with pytest.raises(ValueError, match="unknown agent"):
        AgentCatalog(extra_hosts={"nope": ["x.example"]})
    with pytest.raises(KeyError, match="unknown agent"):
        AgentCatalog().get("nope")
