"""Wire formats agents speak, and reading the requested model out of a request in each.

The names are the strings of ``omniroute.translate.Format``, plus two the translation layer
does not convert: Zed's LLM-service envelope (unwrapped by ``omniroute.bridge.zed``) and
Cursor's Connect protobuf.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

OPENAI_CHAT = "openai-chat"
OPENAI_RESPONSES = "openai-responses"
ANTHROPIC = "anthropic"
GEMINI = "gemini"
GEMINI_CLOUDCODE = "gemini-cloudcode"
OLLAMA = "ollama"
KIRO = "kiro"
CONNECT_PROTO = "connect-proto"
ZED = "zed"  # {"provider", "model", "provider_request": <provider payload>} on llm.zed.dev
WIRE_FORMATS = frozenset(
    {OPENAI_CHAT, OPENAI_RESPONSES, ANTHROPIC, GEMINI, GEMINI_CLOUDCODE, OLLAMA, KIRO,
     CONNECT_PROTO, ZED}
)
# Formats the engine takes as they are (`/v1/bridge/{format}`): Zed's envelope is unwrapped into
# one of these first, Cursor's protobuf never is.
ENGINE_FORMATS = frozenset(
    {OPENAI_CHAT, OPENAI_RESPONSES, ANTHROPIC, GEMINI, GEMINI_CLOUDCODE, OLLAMA, KIRO}
)
WireFormat = str

_GEMINI_PATH_MODEL = re.compile(r"/models/([^/:?]+):")


def json_object(body: bytes | str | Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """``body`` as a JSON object, or None when it is absent, not JSON or not an object."""
    if body is None:
        return None
    if isinstance(body, Mapping):
        return body
    if not body:
        return None
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def extract_model(
    wire_format: WireFormat, body: bytes | str | Mapping[str, Any] | None, path: str = ""
) -> str | None:
    """The model the agent asked for, or None when the request does not name one."""
    if wire_format == GEMINI:
        found = _GEMINI_PATH_MODEL.search(path.split("?", 1)[0])
        if found:
            return found.group(1)
    if wire_format == CONNECT_PROTO:
        return None  # protobuf: no schema to read it with
    data = json_object(body)
    if data is None:
        return None
    if wire_format == KIRO:
        node: Any = data
        for key in ("conversationState", "currentMessage", "userInputMessage", "modelId"):
            node = node.get(key) if isinstance(node, Mapping) else None
        return _str_or_none(node)
    model = _str_or_none(data.get("model"))
    if model and wire_format in (GEMINI, GEMINI_CLOUDCODE):
        model = model.removeprefix("models/")
    return model
