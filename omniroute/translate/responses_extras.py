"""What current Codex adds to a Responses request, and the one rule for what is new.

Codex (``@openai/codex``) sends more than the public Responses API documents: tools declared
in an ``additional_tools`` input item instead of ``tools``, ``namespace`` tools grouping
functions (``{"type": "namespace", "name": "collaboration", "tools": [...]}``), calls that
name their namespace (``{"type": "function_call", "namespace": "collaboration", ...}``), a
warm-up request with ``generate: false``, ``client_metadata``, ``reasoning.context``, per-item
``internal_chat_message_metadata_passthrough``, and history items of OpenAI-hosted tools
(``tool_search_call``, ``web_search_call``, ``compaction`` …).

The rule, for a Responses request translated to another format (docs/TRANSLATION.md says the
same). Towards an OpenAI Responses provider nothing is translated: everything is carried.

1. What the IR can express is translated (tools inside ``additional_tools`` and namespaces
   join the request's tools; a namespaced tool is named ``<namespace>__<name>``, except in
   the default ``functions`` namespace, and its calls get their namespace back on the way out).
2. What is shaped like something the IR knows is read as that: an unknown item with ``role``
   and ``content`` is a message, an unknown content part with ``text`` is text, an unknown
   tool with ``name`` and ``parameters`` is a function.
3. Everything else is dropped: unknown top-level fields (they steer OpenAI's own service:
   storage, caching, telemetry, warm-up), hosted-tool declarations and their history items,
   and tool results whose call was one of those dropped items.
4. Never a 400 for something merely new. Only fields whose meaning is state held by OpenAI's
   server (``SERVER_STATE``) fail, naming the field, since dropping them would change the
   answer without a word.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .ir import IRRequest, TextPart, Tool, ToolCallPart, ToolResultPart
from .responses_custom import raw_input

SERVER_STATE = frozenset({"previous_response_id", "conversation", "prompt", "background"})
DEFAULT_NAMESPACE = "functions"  # the namespace of plain function tools: names stay bare
_SEP = "__"


@dataclass(frozen=True, slots=True)
class ToolName:
    """How the client declared a tool the other model knows by a flat name."""

    name: str
    namespace: str | None = None
    custom: bool = False


def flat_name(name: str, namespace: str | None) -> str:
    if not namespace or namespace == DEFAULT_NAMESPACE:
        return name
    return f"{namespace}{_SEP}{name}"


def declared_tools(body: Mapping[str, Any]) -> Iterator[tuple[dict[str, Any], str | None]]:
    """Every tool the request declares, with its namespace: ``tools``, then those of each
    ``additional_tools`` item, namespaces opened."""
    groups: list[Any] = [body.get("tools")]
    inp = body.get("input")
    if isinstance(inp, list):
        groups += [i.get("tools") for i in inp if isinstance(i, dict) and i.get("type") == "additional_tools"]
    for group in groups:
        for tool in group if isinstance(group, list) else []:
            if not isinstance(tool, dict):
                continue
            if tool.get("type") == "namespace":
                for child in tool.get("tools") or []:
                    if isinstance(child, dict):
                        yield child, str(tool.get("name") or "") or None
            else:
                yield tool, None


def tool_names(body: Mapping[str, Any]) -> dict[str, ToolName]:
    """Flat name → the client's own, for the tools whose calls need more than a function_call
    named like the tool (namespaced or freeform ones); empty when there are none."""
    names: dict[str, ToolName] = {}
    for tool, namespace in declared_tools(body):
        name, custom = tool.get("name"), tool.get("type") == "custom"
        if isinstance(name, str) and (namespace or custom):
            names[flat_name(name, namespace)] = ToolName(name, namespace, custom)
    return names


def tools_to_ir(body: Mapping[str, Any], one: Callable[[dict[str, Any], str], Tool]) -> list[Tool]:
    """The request's tools in the IR; ``one`` converts a function or custom tool."""
    tools: list[Tool] = []
    for i, (tool, namespace) in enumerate(declared_tools(body)):
        kind = tool.get("type")
        if kind in ("function", "custom") or (kind not in _HOSTED and "parameters" in tool and tool.get("name")):
            converted = one({**tool, "type": kind if kind == "custom" else "function"}, f"tools[{i}]")
            converted.name = flat_name(converted.name, namespace)
            tools.append(converted)
    return tools


# Tools OpenAI runs itself: another provider cannot, so their declarations are dropped.
_HOSTED = frozenset({
    "web_search", "web_search_preview", "file_search", "tool_search", "local_shell", "computer_use_preview",
    "image_generation", "code_interpreter", "mcp",
})  # fmt: skip


def unknown_part_to_ir(part: Mapping[str, Any]) -> TextPart | None:
    text = part.get("text")
    return TextPart(text) if isinstance(text, str) and text else None


def drop_orphan_results(ir: IRRequest) -> None:
    """Tool results whose call was dropped (a hosted tool's item) would be refused by every
    other format; they go with it."""
    calls = {p.id for m in ir.messages for p in m.content if isinstance(p, ToolCallPart)}
    for msg in ir.messages:
        msg.content = [p for p in msg.content if not (isinstance(p, ToolResultPart) and p.tool_call_id not in calls)]
    ir.messages = [m for m in ir.messages if m.content]


def restore_call(item: dict[str, Any], names: Mapping[str, ToolName] | None) -> dict[str, Any]:
    """A function_call output item named by its flat name → the client's own call."""
    spec = names.get(item.get("name", "")) if names else None
    if spec is None:
        return item
    out = {**item, "name": spec.name}
    if spec.namespace:
        out["namespace"] = spec.namespace
    if spec.custom and out.get("type") == "function_call":
        out["type"] = "custom_tool_call"
        out["input"] = raw_input(out.pop("arguments", "") or "{}")
        out["id"] = "ctc_" + str(out.get("id", "")).removeprefix("fc_")
    return out
