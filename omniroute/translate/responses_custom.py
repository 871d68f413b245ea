"""Responses freeform ("custom") tools — Codex's ``apply_patch`` on GPT-5 — in the IR.

A custom tool takes raw text (optionally constrained by a Lark/regex grammar) instead of JSON
arguments. No other format has that, so the IR models it as a function with a single string
parameter ``input`` whose description carries the grammar; the original format is kept on
``Tool.custom_format`` and calls are flagged ``ToolCallPart.custom`` so Responses → Responses
is lossless. A model of another family calling it produces ``{"input": "<raw text>"}``, which
the Responses encoders send as a ``function_call``; Codex's apply_patch handler accepts the
function form (``{"input": …}``) as well as the freeform one.
"""

from __future__ import annotations

import json
from typing import Any

from .base import parse_arguments
from .ir import Tool, ToolCallPart


def tool_to_ir(tool: dict[str, Any]) -> Tool:
    fmt = tool.get("format") or {"type": "text"}
    hint = "Raw input text for the tool (not JSON)."
    if fmt.get("type") == "grammar":
        hint += (
            f" It must match this {fmt.get('syntax', '')} grammar exactly:\n"
            f"{fmt.get('definition', '')}"
        )
    params = {
        "type": "object",
        "properties": {"input": {"type": "string", "description": hint}},
        "required": ["input"],
        "additionalProperties": False,
    }
    return Tool(tool.get("name", ""), tool.get("description"), params, custom_format=fmt)


def tool_from_ir(tool: Tool) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "custom", "name": tool.name, "format": tool.custom_format}
    if tool.description:
        out["description"] = tool.description
    return out


def call_to_ir(item: dict[str, Any]) -> ToolCallPart:
    args = json.dumps({"input": item.get("input", "")}, ensure_ascii=False)
    return ToolCallPart(item.get("call_id", ""), item.get("name", ""), args, custom=True)


def raw_input(arguments: str) -> str:
    value = parse_arguments(arguments).get("input", "")
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def call_from_ir(part: ToolCallPart) -> dict[str, Any]:
    return {"type": "custom_tool_call", "call_id": part.id, "name": part.name,
            "input": raw_input(part.arguments)}  # fmt: skip
