"""What the AgentBridge does with one intercepted request: route it, or pass it through.

Pure decisions over the catalog and the mapping store; the addon applies them to the flow.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from omniroute.bridge import zed
from omniroute.bridge.catalog import AgentCatalog, AgentSpec
from omniroute.bridge.mapping_store import MappingStore
from omniroute.bridge.wire import (
    extract_model,
    json_object,
    wants_stream,
)
from omniroute.translate.formats import TRANSLATED, WireFormat

ZED_WEBSOCKET_NOTE = "WebSocket refused: Zed falls back to HTTP /completions, which is routed"
# Anthropic's token counter: not a generation, but under a mapping it is counted for the model
# the agent's calls go to (engine.counting), never sent to a host the agent no longer uses.
COUNT_TOKENS_PATH = "/v1/messages/count_tokens"


@dataclass(frozen=True, slots=True)
class DirectReply:
    """An answer the bridge gives the agent itself, in the agent's own format."""

    status: int
    body: bytes
    content_type: str


@dataclass(frozen=True, slots=True)
class Decision:
    """`route` is True when the call goes to the engine; otherwise it passes through, unless
    `reply` answers it on the spot."""

    agent: AgentSpec | None
    wire_format: str | None = None
    source_model: str | None = None
    target_model: str | None = None
    stream: bool = False
    note: str | None = None  # why a model call was not routed, shown in the inspector
    websocket: bool = False  # a Responses WebSocket session: each frame's model is mapped by the API
    # Set when the engine gets another format and body than the agent sent (Zed's envelope,
    # unwrapped to its provider payload).
    engine_format: str | None = None
    engine_body: bytes | None = None
    reply: DirectReply | None = None
    counting: bool = False  # an Anthropic count_tokens call, answered by engine.counting

    @property
    def route(self) -> bool:
        return self.reply is None and (self.target_model is not None or self.websocket)

    def engine_path(self) -> str:
        if self.websocket:
            return "/v1/responses"
        return f"/v1/bridge/{self.engine_format or self.wire_format}"


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
    if wire_format is None and _counts_tokens(agent, method, path):
        data = json_object(body)
        source_model = extract_model(WireFormat.ANTHROPIC, data)
        target = mappings.target_for(agent.id, source_model)
        return Decision(agent, WireFormat.ANTHROPIC, source_model, target, note=None if target else "unmapped",
                        counting=True)
    if wire_format is None:
        return Decision(agent)  # settings, telemetry, auth: not a model call
    if wire_format == WireFormat.ZED:
        return _decide_zed(agent, mappings, headers, body)
    if wire_format == WireFormat.CONNECT_PROTO or wire_format not in TRANSLATED:
        return Decision(agent, wire_format, note=agent.reason or f"{wire_format} is not routable")
    if _is_websocket(headers):
        # The model is only known per frame; route the session when the agent has any rule.
        routed = bool(mappings.rules(agent.id))
        return Decision(agent, wire_format, websocket=routed, note=None if routed else "unmapped")
    data = json_object(body)
    source_model = extract_model(wire_format, data if data is not None else body, path)
    target = mappings.target_for(agent.id, source_model)
    stream = wants_stream(wire_format, path, data)
    if target is None:
        return Decision(agent, wire_format, source_model, stream=stream, note="unmapped")
    return Decision(agent, wire_format, source_model, target, stream)


def _decide_zed(
    agent: AgentSpec, mappings: MappingStore, headers: Mapping[str, str], body: bytes | None
) -> Decision:
    if _is_websocket(headers):
        # `/completions/session` frames are envelopes around Responses turns; Zed retries a
        # refused session over HTTP, so mapped OpenAI calls reach the routed path below.
        if not mappings.rules(agent.id):
            return Decision(agent, WireFormat.ZED, note="unmapped")
        refusal = DirectReply(426, ZED_WEBSOCKET_NOTE.encode(), "text/plain")
        return Decision(agent, WireFormat.ZED, note=ZED_WEBSOCKET_NOTE, reply=refusal)
    data = json_object(body)
    source_model = extract_model(WireFormat.ZED, data)
    target = mappings.target_for(agent.id, source_model)
    if target is None:
        return Decision(agent, WireFormat.ZED, source_model, stream=True, note="unmapped")
    try:
        call = zed.parse_completion(data)
    except zed.UnknownZedProvider as exc:
        return Decision(agent, WireFormat.ZED, source_model, stream=True, note=str(exc))
    except zed.ZedEnvelopeError as exc:
        error = DirectReply(400, zed.error_body(400, str(exc)), "application/json")
        return Decision(agent, WireFormat.ZED, source_model, note=str(exc), reply=error)
    return Decision(
        agent, WireFormat.ZED, source_model, target, stream=True,
        engine_format=call.inner_format, engine_body=call.engine_body(),
    )


def _counts_tokens(agent: AgentSpec, method: str, path: str) -> bool:
    return (method == "POST" and path.partition("?")[0] == COUNT_TOKENS_PATH
            and WireFormat.ANTHROPIC in agent.wire_formats)


def _is_websocket(headers: Mapping[str, str]) -> bool:
    return headers.get("upgrade", "").lower() == "websocket"
