"""Shared core of the mock provider's wire formats: the reply rules, stream events, errors.

Nothing here does I/O. Each API family has a module (``mock_openai``, ``mock_anthropic``,
``mock_gemini``, ``mock_ollama``) with a ``plan_*`` function that reads a request body into a
:class:`ReplyPlan` via :func:`finish_plan` (what to answer, and the usage numbers), and builders
that render a plan as that API's JSON body or list of stream :class:`Event` objects. The rules
are documented in ``mock_provider``'s module docstring.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

ECHO_LIMIT = 200
DEFAULT_MODELS: tuple[str, ...] = ("mock-model", "mock-fast", "mock-large")

_TOOL_WORD = re.compile(r"\btools?\b", re.IGNORECASE)
# Lossless word-sized pieces: joining them gives back the original text exactly.
_PIECES = re.compile(r"\S+\s*|\s+")

JSON = dict[str, Any]


def dumps(obj: Any) -> str:
    """Compact JSON, the one encoder every framing uses."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


@dataclass(slots=True)
class Event:
    """One stream event. ``data`` is a JSON object, or a literal string such as ``[DONE]``."""

    data: JSON | str
    name: str | None = None  # the SSE ``event:`` field, when the API uses one


@dataclass(slots=True)
class ReplyPlan:
    """What the mock answers to one request; every builder renders one of these."""

    model: str
    text: str = ""
    tool_name: str | None = None
    tool_args: JSON | None = None
    thinking: str | None = None
    input_tokens: int = 1
    output_tokens: int = 0

    @property
    def tool_args_json(self) -> str:
        return dumps(self.tool_args or {})


class Ids:
    """Sequential ids per app instance, so tests see stable, readable ids."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)

    def next(self, prefix: str) -> str:
        return f"{prefix}{next(self._counter):08d}"


@dataclass(slots=True)
class Conversation:
    """What the reply rules need from a request, extracted per API by the ``plan_*`` functions."""

    texts: list[str] = field(default_factory=list)  # every counted text, in order
    last_user_text: str = ""
    ends_with_user_text: bool = False  # False when the last turn is a tool result


def count_words(texts: Iterable[str]) -> int:
    return sum(len(t.split()) for t in texts)


def pieces(text: str) -> list[str]:
    """Split text into word-sized deltas (at least one, even for empty text)."""
    return _PIECES.findall(text) or [text]


def content_texts(content: Any, tool_results: bool = True) -> list[str]:
    """Text of a message content in any supported shape (str, parts, blocks).

    Tool-result text counts as input tokens but is not something the user typed, so
    ``tool_results=False`` leaves it out when looking for the last user text.
    """
    if isinstance(content, str):
        return [content]
    out: list[str] = []
    if isinstance(content, list):
        for part in content:
            if isinstance(part, str):
                out.append(part)
            elif isinstance(part, dict):
                text = part.get("text")
                if isinstance(text, str):
                    out.append(text)
                elif tool_results and part.get("type") == "tool_result":
                    out.extend(content_texts(part.get("content")))
    return out


def has_tool_result(content: Any) -> bool:
    return isinstance(content, list) and any(
        isinstance(p, dict) and p.get("type") in ("tool_result", "function_call_output")
        for p in content
    )


@dataclass(frozen=True, slots=True)
class Structured:
    """A request that fixes the reply's form: a forced tool's call, or JSON text (``tool`` None)."""

    schema: JSON | None
    tool: str | None = None


def schema_instance(schema: Any, text: str) -> Any:
    """The smallest value ``schema`` accepts, its strings filled with ``text``.

    Enough JSON Schema (and Gemini's upper-case OpenAPI subset) for the mock's structured replies:
    ``enum``/``const`` take their first value, objects their required properties (all of them
    when none is required), arrays ``minItems`` items, numbers 0, booleans false.
    """
    if not isinstance(schema, dict):
        return text
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if isinstance(schema.get(key), list) and schema[key]:
            return schema_instance(schema[key][0], text)
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    kind = str(kind).lower()
    if kind == "object":
        props = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
        names = schema.get("required") if isinstance(schema.get("required"), list) else list(props)
        return {name: schema_instance(props.get(name), text) for name in names}
    if kind == "array":
        count = schema.get("minItems") if isinstance(schema.get("minItems"), int) else 0
        return [schema_instance(schema.get("items"), text)] * max(0, min(count, 8))
    return {"integer": 0, "number": 0, "boolean": False, "null": None}.get(kind, text)


def finish_plan(conv: Conversation, model: str, tool_name: str | None,
                thinking: bool, structured: Structured | None = None) -> ReplyPlan:
    """Apply the deterministic reply rules to an extracted conversation."""
    echo = conv.last_user_text[:ECHO_LIMIT]
    plan = ReplyPlan(model=model, input_tokens=max(1, count_words(conv.texts)))
    if thinking:
        plan.thinking = f"mock thinking from {model}"
    reply = f"mock reply from {model}:" + (f" {echo}" if echo else "")
    if structured is not None and structured.tool:
        plan.tool_name = structured.tool
        args = schema_instance(structured.schema or {"type": "object"}, reply)
        plan.tool_args = args if isinstance(args, dict) else {"query": echo}
        plan.output_tokens = len(plan.tool_args_json.split())
    elif structured is not None:
        plan.text = dumps(schema_instance(structured.schema, reply) if structured.schema else {"reply": reply})
        plan.output_tokens = len(plan.text.split())
    elif tool_name and conv.ends_with_user_text and _TOOL_WORD.search(conv.last_user_text):
        plan.tool_name = tool_name
        plan.tool_args = {"query": echo}
        plan.output_tokens = len(plan.tool_args_json.split())
    else:
        plan.text = reply
        plan.output_tokens = len(plan.text.split())
    if plan.thinking:
        plan.output_tokens += len(plan.thinking.split())
    return plan


def user_turn(conv: Conversation, texts: list[str], tool_result: bool) -> None:
    joined = " ".join(t for t in texts if t)
    if joined:
        conv.last_user_text = joined
    conv.ends_with_user_text = bool(joined) and not tool_result


# --------------------------------------------------------------------------- errors

_OPENAI_ERR = {400: "invalid_request_error", 401: "authentication_error",
               403: "permission_error", 404: "not_found_error", 429: "rate_limit_exceeded"}
_ANTHROPIC_ERR = {400: "invalid_request_error", 401: "authentication_error",
                  403: "permission_error", 404: "not_found_error", 413: "request_too_large",
                  429: "rate_limit_error", 500: "api_error", 529: "overloaded_error"}
_GEMINI_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
                  404: "NOT_FOUND", 409: "ABORTED", 429: "RESOURCE_EXHAUSTED",
                  499: "CANCELLED", 500: "INTERNAL", 501: "NOT_IMPLEMENTED",
                  503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}


def openai_error_type(status: int) -> str:
    return _OPENAI_ERR.get(status, "server_error" if status >= 500 else "invalid_request_error")


def error_body(api: str, status: int, message: str) -> JSON:
    """The error object each API family sends, so clients parse mock errors like real ones."""
    if api == "anthropic":
        kind = _ANTHROPIC_ERR.get(status, "api_error" if status >= 500
                                  else "invalid_request_error")
        return {"type": "error", "error": {"type": kind, "message": message}}
    if api == "gemini":
        return {"error": {"code": status, "message": message,
                          "status": _GEMINI_STATUS.get(status, "UNKNOWN")}}
    if api == "ollama":
        return {"error": message}
    kind = openai_error_type(status)
    return {"error": {"message": message, "type": kind, "param": None,
                      "code": kind if status == 429 else None}}


def ws_error_event(status: int, message: str, retry_after: float | None) -> JSON:
    """Codex's wrapped WebSocket error frame: ``{type: error, status, error, headers}``."""
    kind = openai_error_type(status)
    event: JSON = {"type": "error", "status": status,
                   "error": {"type": kind, "code": kind, "message": message}}
    if retry_after is not None:
        event["headers"] = {"retry-after": format_seconds(retry_after)}
    return event


def format_seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
