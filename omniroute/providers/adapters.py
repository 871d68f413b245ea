"""How each provider type is called: wire formats it accepts, endpoint paths, auth headers.

Adapters are data plus two small functions; the HTTP work is in `pool.py` and the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote

from omniroute.translate.formats import WireFormat


@dataclass(frozen=True, slots=True)
class ProviderAdapter:
    type: str
    formats: tuple[str, ...]  # first is the primary format (what we translate into)
    default_url: str
    auth_header: str | None = "authorization"  # header carrying the key
    auth_scheme: str = "Bearer "
    extra_headers: dict[str, str] = field(default_factory=dict)
    models_path: str = "/models"
    embeddings_path: str | None = "/embeddings"
    # OpenAI-style bases already end in /v1 (as in the OpenAI SDK's base_url); the demo's
    # base is a bare origin, so it adds the prefix itself.
    openai_prefix: str = ""

    def can_serve(self, client_format: str) -> bool:
        """Every chat format can be translated; embeddings need the provider's own endpoint."""
        return self.embeddings_path is not None if client_format == WireFormat.OPENAI_EMBEDDINGS else True

    def upstream_format(self, client_format: str) -> str:
        """Speak the client's format when the provider does; otherwise its primary one."""
        if client_format in self.formats or client_format == WireFormat.OPENAI_EMBEDDINGS:
            return client_format
        return self.formats[0]

    def headers(self, api_key: str | None) -> dict[str, str]:
        headers = dict(self.extra_headers)
        if api_key and self.auth_header:
            headers[self.auth_header] = f"{self.auth_scheme}{api_key}"
        return headers

    def endpoint(self, base_url: str, wire_format: str, model: str, stream: bool) -> str:
        base = base_url.rstrip("/")
        match wire_format:
            case WireFormat.OPENAI_CHAT:
                return f"{base}{self.openai_prefix}/chat/completions"
            case WireFormat.OPENAI_RESPONSES:
                return f"{base}{self.openai_prefix}/responses"
            case WireFormat.ANTHROPIC:
                return f"{base}/v1/messages"
            case WireFormat.GEMINI:
                action = "streamGenerateContent?alt=sse" if stream else "generateContent"
                return f"{base}/v1beta/models/{quote(model, safe='')}:{action}"
            case WireFormat.OLLAMA:
                return f"{base}/api/chat"
            case "openai-embeddings" if self.embeddings_path:
                return f"{base}{self.embeddings_path}"
        raise ValueError(f"provider type {self.type} cannot speak {wire_format}")


_OPENAI_LIKE = (WireFormat.OPENAI_CHAT,)

ADAPTERS: dict[str, ProviderAdapter] = {
    "openai": ProviderAdapter("openai", (WireFormat.OPENAI_CHAT, WireFormat.OPENAI_RESPONSES), "https://api.openai.com/v1"),
    "openai-compatible": ProviderAdapter("openai-compatible", _OPENAI_LIKE, "http://127.0.0.1:8000/v1"),
    "openrouter": ProviderAdapter("openrouter", _OPENAI_LIKE, "https://openrouter.ai/api/v1"),
    "groq": ProviderAdapter("groq", _OPENAI_LIKE, "https://api.groq.com/openai/v1"),
    "deepseek": ProviderAdapter("deepseek", _OPENAI_LIKE, "https://api.deepseek.com/v1"),
    "mistral": ProviderAdapter("mistral", _OPENAI_LIKE, "https://api.mistral.ai/v1"),
    "together": ProviderAdapter("together", _OPENAI_LIKE, "https://api.together.xyz/v1"),
    "vllm": ProviderAdapter("vllm", _OPENAI_LIKE, "http://127.0.0.1:8000/v1"),
    "lmstudio": ProviderAdapter("lmstudio", _OPENAI_LIKE, "http://127.0.0.1:1234/v1"),
    "anthropic": ProviderAdapter(
        "anthropic",
        (WireFormat.ANTHROPIC,),
        "https://api.anthropic.com",
        auth_header="x-api-key",
        auth_scheme="",
        extra_headers={"anthropic-version": "2023-06-01"},
        models_path="/v1/models",
        embeddings_path=None,
    ),
    "gemini": ProviderAdapter(
        "gemini",
        (WireFormat.GEMINI,),
        "https://generativelanguage.googleapis.com",
        auth_header="x-goog-api-key",
        auth_scheme="",
        models_path="/v1beta/models",
        embeddings_path=None,
    ),
    "ollama": ProviderAdapter(
        "ollama", (WireFormat.OLLAMA,), "http://127.0.0.1:11434", auth_header=None,
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
