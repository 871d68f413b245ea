"""LLM detection by host, path and body shape; model extraction."""

from __future__ import annotations

import json

import pytest

from omniroute.bridge.wire import extract_model
from omniroute.inspector.detect import detect, provider_for_host, wire_format_for


@pytest.mark.parametrize(("host", "provider"), [
    ("api.openai.com", "openai"), ("API.Anthropic.com.", "anthropic"),
    ("generativelanguage.googleapis.com", "gemini"), ("cloudcode-pa.googleapis.com", "cloudcode"),
    ("myres.openai.azure.com", "azure-openai"), ("api.mistral.ai", "mistral"),
    ("api.deepseek.com", "deepseek"), ("api.groq.com", "groq"), ("api.together.xyz", "together"),
    ("api.fireworks.ai", "fireworks"), ("api.cohere.com", "cohere"),
    ("api.perplexity.ai", "perplexity"), ("openrouter.ai", "openrouter"), ("api.x.ai", "xai"),
    ("api.individual.githubcopilot.com", "copilot"),
    ("bedrock-runtime.eu-west-1.amazonaws.com", "bedrock"),
    ("q.us-east-1.amazonaws.com", "amazon-q"), ("localhost:11434", "ollama"),
    ("us-central1-aiplatform.googleapis.com", "vertex"),
])
def test_llm_hosts(host: str, provider: str) -> None:
    assert provider_for_host(host) == provider


@pytest.mark.parametrize("host", ["example.com", "openai.azure.com.evil.com", "s3.amazonaws.com",
                                  "x.q.us-east-1.amazonaws.com", "localhost:8080"])
def test_not_llm_hosts(host: str) -> None:
    assert provider_for_host(host) is None


@pytest.mark.parametrize(("path", "fmt"), [
    ("/v1/chat/completions", "openai-chat"), ("/chat/completions", "openai-chat"),
    ("/v1/responses", "openai-responses"), ("/backend-api/codex/responses", "openai-responses"),
    ("/v1/messages?beta=true", "anthropic"),
    ("/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse", "gemini"),
    ("/v1internal:streamGenerateContent?alt=sse", "gemini-cloudcode"),
    ("/api/chat", "ollama"), ("/generateAssistantResponse", "kiro"),
    ("/aiserver.v1.ChatService/StreamUnifiedChatWithTools", "connect-proto"),
    ("/model/anthropic.claude-3-5-sonnet/converse-stream", "bedrock"),
])
def test_path_formats(path: str, fmt: str) -> None:
    assert wire_format_for(path) == fmt


def test_messages_count_tokens_is_not_a_generation() -> None:
    assert wire_format_for("/v1/messages/count_tokens") is None


def test_detect_kinds_and_body_shape() -> None:
    d = detect("api.anthropic.com", "POST", "/v1/messages", {},
               b'{"model":"claude-sonnet-4-5","stream": true,"messages":[]}')
    assert (d.kind, d.wire_format, d.provider, d.stream) == ("llm", "anthropic", "anthropic", True)
    # An unknown host speaking a known shape at an unknown path is still an LLM call.
    d = detect("llm.corp.internal", "POST", "/invoke", {},
               json.dumps({"system": [{"type": "text", "text": "x"}], "messages": [],
                           "max_tokens": 5}))
    assert (d.kind, d.wire_format) == ("llm", "anthropic")
    d = detect("llm.corp.internal", "POST", "/x", None, {"request": {"contents": []}})
    assert d.wire_format == "gemini-cloudcode"
    assert detect("github.com", "GET", "/login").kind == "app"
    assert detect("api.openai.com", "CONNECT", "").kind == "llm"
    assert detect("example.com", "CONNECT", "").kind == "unknown"
    assert detect("api.openai.com", "GET", "/v1/models").kind == "app"  # a listing, not a model call
    assert detect("api.githubcopilot.com", "POST", "/chat/completions",
                  {"Accept": "text/event-stream"}, b"{}").stream


def test_extract_model_of_a_flow_in_any_format() -> None:
    assert extract_model(None, b'{"model":"gpt-4o"}', "/v1/chat/completions") == "gpt-4o"
    assert extract_model(None, b"{}", "/v1beta/models/gemini-2.5-flash:generateContent") == \
        "gemini-2.5-flash"
    assert extract_model(None, {"model": "gemini-2.5-pro", "request": {}},
                         "/v1internal:generateContent") == "gemini-2.5-pro"
    assert extract_model(None, None, "/openai/deployments/my-gpt4/chat/completions") == "my-gpt4"
    assert extract_model(None, b"", "/model/anthropic.claude-v2/invoke") == "anthropic.claude-v2"
    kiro = {"conversationState": {"currentMessage": {"userInputMessage": {
        "modelId": "CLAUDE_SONNET_4"}}}}
    assert extract_model(None, kiro, "/generateAssistantResponse") == "CLAUDE_SONNET_4"
    assert extract_model(None, b"not json", "/x") is None


@pytest.mark.parametrize(("method", "host", "path"), [
    ("GET", "api.anthropic.com", "/api/claude_code/settings"),
    ("GET", "api.anthropic.com", "/api/claude_code/policy_limits"),
    ("POST", "api.anthropic.com", "/api/event_logging/batch"),
    ("GET", "chatgpt.com", "/backend-api/wham/usage"),
    ("GET", "api.openai.com", "/v1/models"),
])
def test_an_agents_settings_and_telemetry_are_not_model_calls(method: str, host: str, path: str) -> None:
    assert detect(host, method, path).kind == "app"


def test_model_calls_on_llm_hosts_stay_llm() -> None:
    assert detect("api.anthropic.com", "POST", "/v1/messages").kind == "llm"
    assert detect("api.openai.com", "POST", "/v1/images/generations").kind == "llm"
    assert detect("api.anthropic.com", "CONNECT", "").kind == "llm"  # a tunnel: the host is all we know
