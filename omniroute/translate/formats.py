"""Every wire format OmniRoute names, and the modules that translate the ones it converts.

The one list of format names: the translator, the AgentBridge (which formats agents speak),
the provider adapters and the inspector's detection all use `WireFormat`.
"""

from __future__ import annotations

import importlib
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .base import FormatModule


class WireFormat(StrEnum):
    OPENAI_CHAT = "openai-chat"
    OPENAI_RESPONSES = "openai-responses"
    ANTHROPIC = "anthropic"
    GEMINI = "gemini"
    GEMINI_CLOUDCODE = "gemini-cloudcode"  # Gemini inside Cloud Code's {model, project, request}
    OLLAMA = "ollama"
    KIRO = "kiro"
    BEDROCK = "bedrock"  # the Converse API
    BEDROCK_ANTHROPIC = "bedrock-anthropic"  # Anthropic messages in Bedrock's InvokeModel envelope
    # Named, never translated: passed through (embeddings), unwrapped first by the bridge
    # (Zed's LLM-service envelope), or captured only (legacy completions, Cursor's protobuf).
    OPENAI_EMBEDDINGS = "openai-embeddings"
    OPENAI_COMPLETIONS = "openai-completions"
    CONNECT_PROTO = "connect-proto"
    ZED = "zed"  # {"provider", "model", "provider_request": <provider payload>} on llm.zed.dev
    COHERE = "cohere"
    # The media and ranking endpoints: passed through to a provider serving the same API.
    OPENAI_IMAGES = "openai-images"
    OPENAI_SPEECH = "openai-speech"
    OPENAI_TRANSCRIPTIONS = "openai-transcriptions"
    OPENAI_MODERATIONS = "openai-moderations"
    RERANK = "rerank"  # Cohere/Jina-style {model, query, documents}, also served by vLLM and Together


# Modules are imported on first use: a format whose module is missing or broken must not
# stop the others from working (and importing them all up front costs start-up time).
_MODULES: dict[WireFormat, str] = {
    WireFormat.OPENAI_CHAT: "openai_chat",
    WireFormat.OPENAI_RESPONSES: "openai_responses",
    WireFormat.ANTHROPIC: "anthropic",
    WireFormat.GEMINI: "gemini",
    WireFormat.GEMINI_CLOUDCODE: "gemini_cloudcode",
    WireFormat.OLLAMA: "ollama",
    WireFormat.KIRO: "kiro",
    WireFormat.BEDROCK: "bedrock",
    WireFormat.BEDROCK_ANTHROPIC: "bedrock_anthropic",
}
TRANSLATED: frozenset[WireFormat] = frozenset(_MODULES)
# Formats a provider serves with an endpoint of its own (never translated); the path is
# appended to an OpenAI-style base URL.
MEDIA_PATHS: dict[WireFormat, str] = {
    WireFormat.OPENAI_IMAGES: "/images/generations",
    WireFormat.OPENAI_SPEECH: "/audio/speech",
    WireFormat.OPENAI_TRANSCRIPTIONS: "/audio/transcriptions",
    WireFormat.OPENAI_MODERATIONS: "/moderations",
    WireFormat.RERANK: "/rerank",
}
PASSTHROUGH: frozenset[WireFormat] = frozenset({WireFormat.OPENAI_EMBEDDINGS, *MEDIA_PATHS})
_loaded: dict[WireFormat, Any] = {}


def get_format(fmt: str) -> FormatModule:
    """The module implementing ``fmt``.

    Raises ``ValueError`` for a name that is not a translated format and
    ``NotImplementedError`` when its module is not available.
    """
    try:
        key = WireFormat(fmt)
    except ValueError:
        raise ValueError(f"{fmt!r} is not a wire format") from None
    if key in _loaded:
        return _loaded[key]  # type: ignore[no-any-return]
    if key not in _MODULES:
        raise ValueError(f"{key} is not a format OmniRoute translates")
    name = f"{__package__}.{_MODULES[key]}"
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise  # a real import error inside the module: surface it
        raise NotImplementedError(f"format {key} is not available ({exc})") from None
    _loaded[key] = module
    return module  # type: ignore[return-value]


def available_formats() -> list[WireFormat]:
    out = []
    for fmt in _MODULES:
        try:
            get_format(fmt)
        except NotImplementedError:
            continue
        out.append(fmt)
    return out
