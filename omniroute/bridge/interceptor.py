"""What the AgentBridge does with one intercepted request: route it, or pass it through.

Pure decisions over the catalog and the mapping store; the addon applies them to the flow.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from omniroute.bridge.catalog import (
    CONNECT_PROTO,
    GEMINI,
    GEMINI_CLOUDCODE,
    KIRO,
    AgentCatalog,
    AgentSpec,
    extract_model,
)
from omniroute.bridge.mapping_store import MappingStore

# Formats the engine can take from an agent (everything but Cursor's protobuf and Zed's wrapper).
ROUTABLE_FORMATS = frozenset(
    {"openai-chat", "openai-responses", "anthropic", GEMINI, GEMINI_CLOUDCODE, "ollama", KIRO}
)

# Headers the rewritten request carries to the API on loopback.
H_INTERNAL = "x-omniroute-internal"
H_SOURCE = "x-omniroute-source"
H_AGENT = "x-omniroute-agent"
H_ORIGINAL_HOST = "x-omniroute-original-host"
H_MODEL = "x-omniroute-model"
H_STREAM = "x-omniroute-stream"
H_LOOP_GUARD = "x-omniroute-hop"


@dataclass(frozen=True, slots=True)
class Decision:
    """`route` is True when the call goes to the engine; otherwise it passes through."""

    agent: AgentSpec | None
    wire_format: str | None = None
    source_model: str | None = None
    target_model: str | None = None
    stream: bool = False
    note: str | None = None  # why a model call was not routed, shown in the inspector
    websocket: bool = False  # a Responses WebSocket session: each frame's model is mapped by the API

    @property
    def route(self) -> bool:
        return self.target_model is not None or self.websocket

    def engine_path(self) -> str:
        return "/v1/responses" if self.websocket else f"/v1/bridge/{self.wire_format}"


def wants_stream(wire_format: str, path: str, body: Mapping[str, Any] | None) -> bool:
    if wire_format in (GEMINI, GEMINI_CLOUDCODE):
        return ":streamGenerateContent" in path
    if wire_format == KIRO:
        return True  # CodeWhisperer always answers with an event stream
    if wire_format == "ollama":
        return bool(body.get("stream", True)) if body else True
    return bool(body.get("stream", False)) if body else False


def decide(
    catalog: AgentCatalog,
    mappings: MappingStore,
    *,
    host: str,
    method: str,
    path: str,
    headers: Mapping[str, str],
    body: bytes | None,
) -> Decision:
    match = catalog.identify(host, path, headers.get("user-agent"))
    if match is None:
        return Decision(None)
    agent = match.agent
    wire_format = catalog.is_model_call(agent, method, path, headers)
    if not agent.routable:
        # Cursor, Trae: every call is captured and passed through, and the inspector says why.
        return Decision(agent, wire_format, note=agent.reason)
    if wire_format is None:
        return Decision(agent)  # settings, telemetry, auth: not a model call
    if wire_format == CONNECT_PROTO or wire_format not in ROUTABLE_FORMATS:
        return Decision(agent, wire_format, note=agent.reason or f"{wire_format} is not routable")
    if headers.get("upgrade", "").lower() == "websocket":
        # The model is only known per frame; route the session when the agent has any rule.
        routed = bool(mappings.rules(agent.id))
        return Decision(agent, wire_format, websocket=routed, note=None if routed else "unmapped")
    data = _json(body)
    source_model = extract_model(wire_format, data if data is not None else body, path)
    target = mappings.target_for(agent.id, source_model)
    stream = wants_stream(wire_format, path, data)
    if target is None:
        return Decision(agent, wire_format, source_model, stream=stream, note="unmapped")
    return Decision(agent, wire_format, source_model, target, stream)


def _json(body: bytes | None) -> dict[str, Any] | None:
    if not body:
        return None
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None
