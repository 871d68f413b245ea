"""What a provider type is: the wire formats it accepts, endpoint paths, auth headers.

Adapters are data plus small functions; the HTTP work is in `pool.py` and the engine. The
table of types is in `adapters.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from omniroute.translate.formats import MEDIA_PATHS, WireFormat

if TYPE_CHECKING:
    from omniroute.providers.cloud_auth import Authorizer

# Short names for the `WireFormat` members the adapter tables use.
OPENAI_CHAT = WireFormat.OPENAI_CHAT
OPENAI_RESPONSES = WireFormat.OPENAI_RESPONSES
ANTHROPIC = WireFormat.ANTHROPIC
GEMINI = WireFormat.GEMINI
OLLAMA = WireFormat.OLLAMA
EMBEDDINGS = WireFormat.OPENAI_EMBEDDINGS  # not a chat format: passed through, never translated
BEDROCK = WireFormat.BEDROCK
BEDROCK_ANTHROPIC = WireFormat.BEDROCK_ANTHROPIC
NO_SETTINGS: Mapping[str, Any] = MappingProxyType({})


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
    # Well-known model ids, offered by the UI and returned by `models` when the provider has
    # no model list endpoint (`models_path=None`).
    models: tuple[str, ...] = ()
    # The media and rerank endpoints (`MEDIA_PATHS`) the provider serves under its OpenAI-style base.
    media: frozenset[str] = frozenset()

    def base_url(self, url: str, settings: Mapping[str, Any] = NO_SETTINGS) -> str:
        """The connection's base URL: its own, else the provider's default."""
        return url or self.default_url

    def models_url(self, base_url: str, settings: Mapping[str, Any] = NO_SETTINGS) -> str | None:
        return base_url.rstrip("/") + self.models_path if self.models_path else None

    def model_ids(self, data: Any) -> list[str]:
        """Model ids out of the provider's model list answer."""
        raw = (data.get("data") or data.get("models") or []) if isinstance(data, dict) else []
        return [str(m.get("id") or m.get("name") or "") for m in raw if isinstance(m, dict)]

    def connection_settings(self, api_key: str | None, extra: Mapping[str, Any]) -> Mapping[str, Any]:
        """The settings the engine uses: the stored ones plus what the credentials imply."""
        return extra

    def authorizer(self, api_key: str | None, settings: Mapping[str, Any]) -> Authorizer | None:
        """Per-request signing or token auth (cloud providers); None: the static header."""
        return None

    def finish_body(self, wire_format: str, body: dict[str, Any]) -> dict[str, Any]:
        """Provider-specific touches on the upstream body, after translation."""
        return body

    def can_serve(self, client_format: str) -> bool:
        """Every chat format can be translated; embeddings and media need the provider's own endpoint."""
        if client_format == EMBEDDINGS:
            return self.embeddings_path is not None
        return client_format in self.media if client_format in MEDIA_PATHS else True

    def upstream_format(self, client_format: str, model: str = "") -> str:
        """Speak the client's format when the provider does; otherwise its primary one."""
        if client_format in self.formats or client_format == EMBEDDINGS or client_format in MEDIA_PATHS:
            return client_format
        return self.formats[0]

    def headers(self, api_key: str | None) -> dict[str, str]:
        headers = dict(self.extra_headers)
        if api_key and self.auth_header:
            headers[self.auth_header] = f"{self.auth_scheme}{api_key}"
        return headers

    def endpoint(
        self, base_url: str, wire_format: str, model: str, stream: bool,
        settings: Mapping[str, Any] = NO_SETTINGS,
    ) -> str:
        base = base_url.rstrip("/")
        match wire_format:
            case "openai-chat":
                return f"{base}{self.openai_prefix}/chat/completions"
            case "openai-responses":
                return f"{base}{self.openai_prefix}/responses"
            case "anthropic":
                return f"{base}/v1/messages"
            case "gemini":
                action = "streamGenerateContent?alt=sse" if stream else "generateContent"
                return f"{base}/v1beta/models/{quote(model, safe='')}:{action}"
            case "ollama":
                return f"{base}/api/chat"
            case "openai-embeddings" if self.embeddings_path:
                return f"{base}{self.embeddings_path}"
            case _ if wire_format in self.media:
                return f"{base}{self.openai_prefix}{MEDIA_PATHS[WireFormat(wire_format)]}"
        raise ValueError(f"provider type {self.type} cannot speak {wire_format}")
