"""How each provider type is called: the table of provider types and their adapters."""

from __future__ import annotations

from omniroute.providers.adapter_base import (
    ANTHROPIC,
    BEDROCK,
    EMBEDDINGS,
    GEMINI,
    NO_SETTINGS,
    OLLAMA,
    OPENAI_CHAT,
    OPENAI_RESPONSES,
    ProviderAdapter,
)
from omniroute.providers.clouds import CLOUD_ADAPTERS
from omniroute.translate.formats import WireFormat

__all__ = ["ADAPTERS", "ANTHROPIC", "BEDROCK", "EMBEDDINGS", "GEMINI", "NO_SETTINGS", "OLLAMA", "OPENAI_CHAT",
           "OPENAI_RESPONSES", "ProviderAdapter", "UnknownProviderType", "adapter_for"]

_OPENAI_LIKE = (OPENAI_CHAT,)
# What OpenAI serves besides chat; OpenAI-compatible servers (vLLM, LocalAI, Together) add rerank.
OPENAI_MEDIA = frozenset({WireFormat.OPENAI_IMAGES, WireFormat.OPENAI_SPEECH,
                          WireFormat.OPENAI_TRANSCRIPTIONS, WireFormat.OPENAI_MODERATIONS})
COMPATIBLE_MEDIA = OPENAI_MEDIA | {WireFormat.RERANK}


def _preset(type_: str, url: str, *models: str, models_path: str | None = "/models") -> ProviderAdapter:
    """An OpenAI-compatible service: chat completions under its base URL, bearer key."""
    return ProviderAdapter(type_, _OPENAI_LIKE, url, models_path=models_path, models=models)


ADAPTERS: dict[str, ProviderAdapter] = {
    "openai": ProviderAdapter("openai", (OPENAI_CHAT, OPENAI_RESPONSES), "https://api.openai.com/v1",
                              media=OPENAI_MEDIA),
    "openai-compatible": ProviderAdapter("openai-compatible", _OPENAI_LIKE, "http://127.0.0.1:8000/v1",
                                         media=COMPATIBLE_MEDIA),
    "openrouter": ProviderAdapter("openrouter", _OPENAI_LIKE, "https://openrouter.ai/api/v1"),
    "groq": ProviderAdapter("groq", _OPENAI_LIKE, "https://api.groq.com/openai/v1"),
    "deepseek": ProviderAdapter("deepseek", _OPENAI_LIKE, "https://api.deepseek.com/v1"),
    "mistral": ProviderAdapter("mistral", _OPENAI_LIKE, "https://api.mistral.ai/v1"),
    "together": ProviderAdapter("together", _OPENAI_LIKE, "https://api.together.xyz/v1",
                                media=frozenset({WireFormat.OPENAI_IMAGES, WireFormat.RERANK})),
    "vllm": ProviderAdapter("vllm", _OPENAI_LIKE, "http://127.0.0.1:8000/v1",
                            media=frozenset({WireFormat.OPENAI_TRANSCRIPTIONS, WireFormat.RERANK})),
    "lmstudio": ProviderAdapter("lmstudio", _OPENAI_LIKE, "http://127.0.0.1:1234/v1"),
    "xai": _preset("xai", "https://api.x.ai/v1", "grok-4", "grok-4-fast-reasoning", "grok-code-fast-1",
                   "grok-3-mini"),
    "fireworks": _preset(
        "fireworks", "https://api.fireworks.ai/inference/v1", "accounts/fireworks/models/kimi-k2-instruct-0905",
        "accounts/fireworks/models/deepseek-v3p1", "accounts/fireworks/models/qwen3-coder-480b-a35b-instruct",
        "accounts/fireworks/models/gpt-oss-120b",
    ),
    "cerebras": _preset("cerebras", "https://api.cerebras.ai/v1", "gpt-oss-120b", "qwen-3-coder-480b",
                        "llama-3.3-70b", "llama3.1-8b"),
    # Perplexity serves chat at the origin (no /v1) and has no model list endpoint.
    "perplexity": _preset("perplexity", "https://api.perplexity.ai", "sonar", "sonar-pro", "sonar-reasoning",
                          "sonar-reasoning-pro", "sonar-deep-research", models_path=None),
    "moonshot": _preset("moonshot", "https://api.moonshot.ai/v1", "kimi-k2-0905-preview", "kimi-k2-turbo-preview",
                        "kimi-latest", "moonshot-v1-128k"),
    "qwen": _preset("qwen", "https://dashscope-intl.aliyuncs.com/compatible-mode/v1", "qwen3-coder-plus",
                    "qwen3-max", "qwen-plus", "qwen-turbo", "qwq-plus"),
    "zai": _preset("zai", "https://api.z.ai/api/paas/v4", "glm-4.6", "glm-4.5", "glm-4.5-air", "glm-4.5-flash"),
    "llamacpp": _preset("llamacpp", "http://127.0.0.1:8080/v1"),
    "anthropic": ProviderAdapter(
        "anthropic",
        (ANTHROPIC,),
        "https://api.anthropic.com",
        auth_header="x-api-key",
        auth_scheme="",
        extra_headers={"anthropic-version": "2023-06-01"},
        models_path="/v1/models",
        embeddings_path=None,
    ),
    "gemini": ProviderAdapter(
        "gemini",
        (GEMINI,),
        "https://generativelanguage.googleapis.com",
        auth_header="x-goog-api-key",
        auth_scheme="",
        models_path="/v1beta/models",
        embeddings_path=None,
    ),
    "ollama": ProviderAdapter(
        "ollama", (OLLAMA,), "http://127.0.0.1:11434", auth_header=None,
        models_path="/api/tags", embeddings_path=None,
    ),
    # The built-in offline demo (`providers/demo.py`), served in-process: OpenAI chat only,
    # the engine translates for the other formats.
    "demo": ProviderAdapter(
        "demo",
        _OPENAI_LIKE,
        "http://demo.invalid",
        auth_header=None,
        models_path="/v1/models",
        embeddings_path="/v1/embeddings",
        openai_prefix="/v1",
    ),
}


ADAPTERS.update(CLOUD_ADAPTERS)


class UnknownProviderType(ValueError):
    pass


def adapter_for(provider_type: str) -> ProviderAdapter:
    try:
        return ADAPTERS[provider_type]
    except KeyError:
        supported = ", ".join(sorted(ADAPTERS))
        raise UnknownProviderType(
            f"unknown provider type {provider_type!r}; supported: {supported}"
        ) from None
