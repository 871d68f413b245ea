"""Where each cloud provider type sends a call: URLs from region, project and API version,
the format chosen per model and client, and what the presets default to."""

from __future__ import annotations

import pytest

from omniroute.providers.adapters import ADAPTERS, adapter_for


def _url(provider: str, url: str, fmt: str, model: str, stream: bool, **settings: str) -> str:
    adapter = adapter_for(provider)
    return adapter.endpoint(adapter.base_url(url, settings), fmt, model, stream, settings)


def test_bedrock_endpoints() -> None:
    model = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
    assert _url("bedrock", "", "bedrock", model, False, region="eu-central-1") == (
        "https://bedrock-runtime.eu-central-1.amazonaws.com/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse")
    assert _url("bedrock", "https://vpce.example", "bedrock", "amazon.nova-pro-v1:0", True).endswith(
        "/model/amazon.nova-pro-v1%3A0/converse-stream")
    assert _url("bedrock", "", "bedrock-anthropic", model, True).endswith("/invoke-with-response-stream")
    adapter = adapter_for("bedrock")
    # Anthropic clients reach Claude through InvokeModel; everything else through Converse.
    assert adapter.upstream_format("anthropic", model) == "bedrock-anthropic"
    assert adapter.upstream_format("anthropic", "meta.llama3-70b-instruct-v1:0") == "bedrock"
    assert adapter.upstream_format("openai-chat", model) == "bedrock"
    assert adapter.models_url(adapter.base_url("", {"region": "us-west-2"}), {"region": "us-west-2"}) == (
        "https://bedrock.us-west-2.amazonaws.com/foundation-models")


def test_vertex_endpoints() -> None:
    settings = {"region": "us-east5", "project": "my-proj"}
    assert _url("vertex", "", "gemini", "gemini-2.5-pro", True, **settings) == (
        "https://us-east5-aiplatform.googleapis.com/v1/projects/my-proj/locations/us-east5/publishers/google/"
        "models/gemini-2.5-pro:streamGenerateContent?alt=sse")
    assert _url("vertex", "", "anthropic", "claude-sonnet-4-5@20250929", False, region="global", project="p") == (
        "https://aiplatform.googleapis.com/v1/projects/p/locations/global/publishers/anthropic/"
        "models/claude-sonnet-4-5%4020250929:rawPredict")
    adapter = adapter_for("vertex")
    assert adapter.upstream_format("openai-chat", "claude-opus-4-1") == "anthropic"
    assert adapter.upstream_format("anthropic", "gemini-2.5-flash") == "gemini"
    body = adapter.finish_body("anthropic", {"model": "claude", "max_tokens": 5, "stream": True})
    assert body == {"max_tokens": 5, "stream": True, "anthropic_version": "vertex-2023-10-16"}


def test_vertex_project_defaults_to_the_service_account_s() -> None:
    settings = adapter_for("vertex").connection_settings('{"type": "service_account", "project_id": "from-key"}', {})
    assert settings["project"] == "from-key"


@pytest.mark.parametrize(("url", "fmt", "want"), [
    ("https://r.openai.azure.com", "openai-chat",
     "https://r.openai.azure.com/openai/deployments/gpt-4o%20mini/chat/completions?api-version=2024-10-21"),
    ("https://r.openai.azure.com", "openai-responses", "https://r.openai.azure.com/openai/responses?api-version=2024-10-21"),
    ("https://r.openai.azure.com/openai/v1", "openai-chat", "https://r.openai.azure.com/openai/v1/chat/completions"),
    ("https://r.openai.azure.com/openai/v1", "openai-responses", "https://r.openai.azure.com/openai/v1/responses"),
])
def test_azure_endpoints(url: str, fmt: str, want: str) -> None:
    assert _url("azure", url, fmt, "gpt-4o mini", False, apiVersion="2024-10-21") == want


def test_presets_have_their_services_defaults() -> None:
    for name, url in {"xai": "https://api.x.ai/v1", "fireworks": "https://api.fireworks.ai/inference/v1",
                      "cerebras": "https://api.cerebras.ai/v1", "perplexity": "https://api.perplexity.ai",
                      "moonshot": "https://api.moonshot.ai/v1",
                      "qwen": "https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
                      "zai": "https://api.z.ai/api/paas/v4", "llamacpp": "http://127.0.0.1:8080/v1"}.items():
        adapter = ADAPTERS[name]
        assert adapter.default_url == url and adapter.formats == ("openai-chat",)
        assert adapter.endpoint(url, "openai-chat", "m", False) == url + "/chat/completions"
    assert ADAPTERS["perplexity"].models_url(ADAPTERS["perplexity"].default_url) is None  # no list endpoint
    assert "sonar" in ADAPTERS["perplexity"].models
