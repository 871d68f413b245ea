"""JSON output towards Anthropic Messages, which has no ``response_format``: the rule.

A request from another format that asks for JSON (OpenAI ``response_format``, Responses
``text.format``, Gemini ``responseMimeType``/``responseSchema``/``responseJsonSchema``,
Ollama ``format``) becomes, towards an Anthropic-format provider:

* a JSON schema of an object, in a request without client tools: a **forced tool**. One tool,
  :data:`JSON_TOOL`, takes the schema as its ``input_schema`` and ``tool_choice`` names it, so
  the model must answer with an object the API has checked against the schema. Thinking is
  turned off for that request (the API refuses a forced ``tool_choice`` with thinking, and the
  answer's form is the caller's contract where thinking is only a hint). The reply's call of
  that tool comes back to the client as the answer's text (the JSON of its input) with finish
  reason ``stop``: the client sees what its own API would have answered. This works on every
  Claude model and every Anthropic-format provider (Bedrock, Vertex, compatible APIs), where
  structured outputs do not.
* a JSON schema in a request with client tools (forcing our tool would keep the model from
  calling the client's), or a schema that is not an object (a tool's input must be one): a
  system instruction that carries the schema.
* ``json_object`` (JSON, no schema): a system instruction.

The tool name is reserved: a reply's call of :data:`JSON_TOOL` is always read as the answer,
which needs no state between the request and its response.
"""

from __future__ import annotations

import json
from typing import Any

from .ir import FinishReason, IRResponse, ResponseFormat, TextPart, ToolCallPart

JSON_TOOL = "omniroute_json_answer"
JSON_INSTRUCTION = "Respond with a single valid JSON object and nothing else."
_TOOL_DESCRIPTION = "Give the answer: its input is the whole reply, as the caller's JSON schema requires."


def forced_tool(rf: ResponseFormat | None, has_tools: bool) -> dict[str, Any] | None:
    """The tool that carries ``rf``'s schema, when the rule above forces one."""
    if rf is None or rf.type != "json_schema" or has_tools:
        return None
    schema = rf.schema or {}
    if schema.get("type", "object") != "object":
        return None
    return {"name": JSON_TOOL, "description": rf.description or _TOOL_DESCRIPTION,
            "input_schema": {"type": "object", **schema}}


def instruction(rf: ResponseFormat | None) -> str | None:
    """The system instruction for JSON output that no forced tool carries."""
    if rf is None or rf.type == "text":
        return None
    if rf.type == "json_schema" and rf.schema:
        schema = json.dumps(rf.schema, ensure_ascii=False, separators=(",", ":"))
        return f"{JSON_INSTRUCTION} It must validate against this JSON schema: {schema}"
    return JSON_INSTRUCTION


def answer_from_tool(resp: IRResponse) -> IRResponse:
    """A reply whose call of :data:`JSON_TOOL` becomes the answer's text."""
    if not any(isinstance(p, ToolCallPart) and p.name == JSON_TOOL for p in resp.content):
        return resp
    resp.content = [TextPart(p.arguments) if isinstance(p, ToolCallPart) and p.name == JSON_TOOL else p
                    for p in resp.content]
    if resp.finish_reason == FinishReason.TOOL_CALLS and not any(isinstance(p, ToolCallPart) for p in resp.content):
        resp.finish_reason = FinishReason.STOP
    return resp
