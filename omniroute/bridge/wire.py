"""Wire formats agents speak, and reading the requested model out of a request in each.

Agents speak the formats the translation layer converts (the engine takes those as they are,
at `/v1/bridge/{format}`), plus two it does not: Zed's LLM-service envelope (unwrapped into one
of them by ``omniroute.bridge.zed``) and Cursor's Connect protobuf (captured, never routed).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from omniroute.translate.formats import TRANSLATED, WireFormat

WIRE_FORMATS = TRANSLATED | {WireFormat.CONNECT_PROTO, WireFormat.ZED}

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


# Where a request names its model outside the body, when its format is not known.
_MODEL_IN_PATH = (
    _GEMINI_PATH_MODEL,  # Gemini
    re.compile(r"/model/([^/]+)/"),  # Bedrock
    re.compile(r"/deployments/([^/]+)/"),  # Azure OpenAI deployment name
)


def _kiro_model(data: Mapping[str, Any]) -> str | None:
    node: Any = data
    for key in ("conversationState", "currentMessage", "userInputMessage", "modelId"):
        node = node.get(key) if isinstance(node, Mapping) else None
    return _str_or_none(node)


def extract_model(
    wire_format: str | None, body: bytes | str | Mapping[str, Any] | None, path: str = ""
) -> str | None:
    """The model a request asks for, or None when it names none.

    With a known ``wire_format`` only that format's place is read (Gemini: the path; Kiro:
    deep in the body; the others: the body's ``model``). With None (a captured flow of any
    kind) every place is tried: the body's ``model``, Kiro's, then the path (Gemini, Bedrock,
    Azure deployments).
    """
    plain = path.partition("?")[0]
    if wire_format == WireFormat.GEMINI and (found := _GEMINI_PATH_MODEL.search(plain)):
        return found.group(1)
    if wire_format == WireFormat.CONNECT_PROTO:
        return None  # protobuf: no schema to read it with
    data = json_object(body)
    if data is not None:
        if wire_format == WireFormat.KIRO:
            return _kiro_model(data)
        model = _str_or_none(data.get("model"))
        if model and wire_format in (None, WireFormat.GEMINI, WireFormat.GEMINI_CLOUDCODE):
            model = model.removeprefix("models/")
        if model or wire_format is not None:
            return model
        if kiro := _kiro_model(data):
            return kiro
    if wire_format is None:
        for rx in _MODEL_IN_PATH:
            if found := rx.search(plain):
                return found.group(1)
    return None


def wants_stream(wire_format: str, path: str, body: Mapping[str, Any] | None) -> bool:
    """Does a request in ``wire_format`` ask for a streamed answer (the one rule for `/v1`, the
    AgentBridge and replay)?"""
    if wire_format in (WireFormat.GEMINI, WireFormat.GEMINI_CLOUDCODE):
        return ":streamGenerateContent" in path
    if wire_format in (WireFormat.KIRO, WireFormat.ZED):
        return True  # CodeWhisperer answers with an event stream; Zed always reads a stream
    if wire_format == WireFormat.OLLAMA:
        return bool(body.get("stream", True)) if body else True
    return bool(body.get("stream", False)) if body else False
