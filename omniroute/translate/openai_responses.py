"""OpenAI Responses (``/v1/responses``, Codex) ↔ IR: the request's fields and the reply.
The request's input items: responses_input. Parts, output items and usage shared with the
streams: responses_wire. Streams: responses_stream.

Deliberate choices:
* ``instructions`` and system/developer input messages go to ``IRRequest.system``.
* ``function_call`` items are keyed by ``call_id`` (the id tool results refer to); the item
  id (``fc_…``) is not a conversation id and is regenerated.
* Reasoning items carry ``encrypted_content``; it becomes the ThinkingPart signature tagged
  ``openai-responses``. Signed thinking of another provider (e.g. Claude, when Codex is routed
  to Claude) is sent to the client as ``encrypted_content`` tagged with its family
  (``base.tag_signature``) so it comes back intact on the next turn. Reasoning is replayed to
  OpenAI only when OpenAI produced it.
* ``user``, ``metadata``, ``store``, ``include``, ``prompt_cache_key``, ``safety_identifier``,
  ``service_tier``, ``truncation`` and ``text.verbosity`` are kept for responses→responses
  only. Towards OpenAI from another format we send ``store: false``: a client that never
  asked OpenAI to keep its conversation must not have it stored.
* ``previous_response_id``, ``conversation``, ``prompt``, ``background`` depend on
  server-side state and fail loudly towards other formats (``passthrough``).
* Any other field, item, tool or content part not handled here follows the one rule stated in
  responses_extras (with what current Codex adds): carried to Responses, read as what it is
  shaped like, or dropped towards another format; never a 400 for being new.
* Freeform ("custom") tools such as Codex's apply_patch: see responses_custom.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from . import responses_custom as custom
from . import responses_extras as extras
from .base import budget_to_effort, check_passthrough, new_id, same_format_metadata
from .errors import TranslationError
from .ir import (
    FinishReason,
    IRRequest,
    IRResponse,
    Reasoning,
    ResponseFormat,
    Sampling,
    TextPart,
    Tool,
    ToolCallPart,
    ToolChoice,
)
from .responses_input import input_from_ir, input_to_ir
from .responses_stream import Framer, StreamDecoder, StreamEncoder
from .responses_wire import (
    FORMAT,
    content_to_ir,
    incomplete_details,
    output_from_ir,
    reasoning_to_ir,
    response_status,
    usage_from_ir,
    usage_to_ir,
)

__all__ = [
    "FORMAT", "Framer", "StreamDecoder", "StreamEncoder",
    "request_from_ir", "request_to_ir", "response_from_ir", "response_to_ir",
]  # fmt: skip

_HANDLED = {
    "model", "instructions", "input", "tools", "tool_choice", "parallel_tool_calls",
    "temperature", "top_p", "max_output_tokens", "reasoning", "text", "stream",
}  # fmt: skip


# ---------------------------------------------------------------- request → IR


def request_to_ir(body: dict[str, Any]) -> IRRequest:
    ir = IRRequest(model=body.get("model", ""), stream=bool(body.get("stream")))
    if body.get("instructions"):
        ir.system.append(TextPart(body["instructions"]))
    input_to_ir(ir, body.get("input"))
    ir.tools = extras.tools_to_ir(body, _tool_to_ir)
    tc, parallel = body.get("tool_choice"), body.get("parallel_tool_calls")
    if tc is not None or parallel is not None:
        ir.tool_choice = ToolChoice(parallel=parallel)
        if isinstance(tc, str):
            ir.tool_choice.mode = tc if tc in ("auto", "none", "required") else "auto"  # type: ignore[assignment]
        elif isinstance(tc, dict) and tc.get("type") in ("function", "custom"):
            ir.tool_choice.mode = "tool"
            ir.tool_choice.name = extras.flat_name(tc.get("name", ""), tc.get("namespace"))
        elif isinstance(tc, dict) and tc.get("mode") in ("auto", "none", "required"):
            ir.tool_choice.mode = tc["mode"]  # allowed_tools: its mode, not its subset (rule 3)
    ir.sampling = Sampling(
        temperature=body.get("temperature"),
        top_p=body.get("top_p"),
        max_tokens=body.get("max_output_tokens"),
    )
    r = body.get("reasoning")
    if isinstance(r, dict) and (r.get("effort") or r.get("summary")):
        effort = r.get("effort")
        ir.reasoning = Reasoning(enabled=effort != "none", effort=effort, summary=r.get("summary"))
    text = body.get("text") or {}
    fmt = text.get("format") or {}
    if fmt.get("type") == "json_object":
        ir.response_format = ResponseFormat("json_object")
    elif fmt.get("type") == "json_schema":
        ir.response_format = ResponseFormat(
            "json_schema", fmt.get("schema"), fmt.get("name"), fmt.get("strict"), fmt.get("description")
        )
    # Unknown fields ride with the metadata: re-emitted towards Responses, dropped elsewhere.
    ir.metadata = {k: v for k, v in body.items() if k not in _HANDLED and k not in extras.SERVER_STATE}
    if text.get("verbosity"):
        ir.metadata["text.verbosity"] = text["verbosity"]  # a style hint, harmless to drop
    ir.metadata_format = FORMAT
    ir.passthrough = {k: v for k, v in body.items() if k in extras.SERVER_STATE}
    ir.passthrough_format = FORMAT
    return ir



def _tool_to_ir(tool: dict[str, Any], where: str) -> Tool:
    if tool.get("type") == "custom":
        return custom.tool_to_ir(tool)
    if tool.get("type") != "function":
        raise TranslationError(f"{where}.type", f"tool type {tool.get('type')!r} not supported")
    return Tool(
        name=tool.get("name", ""),
        description=tool.get("description"),
        parameters=tool.get("parameters") or {"type": "object", "properties": {}},
        strict=tool.get("strict"),
    )


# ---------------------------------------------------------------- IR → request


def request_from_ir(ir: IRRequest) -> dict[str, Any]:
    s = ir.sampling
    own = ir.passthrough_format == FORMAT
    # top_k only narrows sampling: dropped, as towards OpenAI chat.
    for name in ("seed", "presence_penalty", "frequency_penalty"):
        if getattr(s, name) is not None:
            raise TranslationError(name, "the Responses API has no equivalent; remove it")
    if s.stop:
        raise TranslationError("stop", "the Responses API has no stop sequences; remove them")
    if s.n is not None and s.n > 1:
        raise TranslationError("n", "the Responses API returns one response per request")
    body: dict[str, Any] = {"model": ir.model}
    if ir.system:
        body["instructions"] = "\n\n".join(p.text for p in ir.system)
    body["input"] = input_from_ir(ir.messages)
    if ir.tools:
        body["tools"] = [_tool_from_ir(t) for t in ir.tools]
    tc = ir.tool_choice
    if tc is not None and (ir.tools or tc.mode == "none"):
        if tc.mode == "tool":
            kind = "custom" if any(t.name == tc.name and t.custom_format for t in ir.tools) else "function"
            body["tool_choice"] = {"type": kind, "name": tc.name}
        else:
            body["tool_choice"] = tc.mode
        if tc.parallel is not None:
            body["parallel_tool_calls"] = tc.parallel
    if s.max_tokens is not None:
        body["max_output_tokens"] = s.max_tokens
    if s.temperature is not None:
        body["temperature"] = s.temperature
    if s.top_p is not None:
        body["top_p"] = s.top_p
    r = ir.reasoning
    if r is not None and (r.enabled or own):  # see openai_chat: "none" only when asked for
        reasoning: dict[str, Any] = {
            "effort": "none" if not r.enabled else (r.effort or budget_to_effort(r.budget_tokens))
        }
        if r.summary or (r.enabled and not own):
            reasoning["summary"] = r.summary or "auto"  # so thinking can be shown to the client
        body["reasoning"] = reasoning
    rf = ir.response_format
    if rf is not None and rf.type != "text":
        fmt: dict[str, Any] = {"type": rf.type}
        if rf.type == "json_schema":
            fmt.update(name=rf.name or "response", schema=rf.schema or {})
            if rf.strict is not None:
                fmt["strict"] = rf.strict
            if rf.description:
                fmt["description"] = rf.description
        body["text"] = {"format": fmt}
    if ir.stream:
        body["stream"] = True
    meta = dict(same_format_metadata(ir, FORMAT))
    verbosity = meta.pop("text.verbosity", None)
    if verbosity:
        body.setdefault("text", {})["verbosity"] = verbosity
    if ir.metadata_format != FORMAT:
        body["store"] = False
    body.update(meta)
    body.update(check_passthrough(ir, FORMAT))
    return body



def _tool_from_ir(tool: Tool) -> dict[str, Any]:
    if tool.custom_format is not None:
        return custom.tool_from_ir(tool)
    out: dict[str, Any] = {"type": "function", "name": tool.name, "parameters": tool.parameters,
                           "strict": bool(tool.strict)}  # fmt: skip
    if tool.description:
        out["description"] = tool.description
    return out


# ---------------------------------------------------------------- responses


def response_to_ir(body: dict[str, Any]) -> IRResponse:
    resp = IRResponse(id=body.get("id", ""), model=body.get("model", ""))
    created = body.get("created_at")
    resp.created = int(created) if created else None
    for j, item in enumerate(body.get("output") or []):
        kind = item.get("type")
        if kind == "message":
            resp.content.extend(content_to_ir(item.get("content"), f"output[{j}]"))
        elif kind == "function_call":
            resp.content.append(ToolCallPart(item.get("call_id", ""), item.get("name", ""), item.get("arguments") or "{}"))
        elif kind == "custom_tool_call":
            resp.content.append(custom.call_to_ir(item))
        elif kind == "reasoning":
            resp.content.append(reasoning_to_ir(item))
        else:
            raise TranslationError(f"output[{j}].type", f"output item {kind!r} cannot be translated")
    status = body.get("status")
    reason = ((body.get("incomplete_details") or {}).get("reason")) or ""
    if status == "incomplete":
        resp.finish_reason = FinishReason.CONTENT_FILTER if reason == "content_filter" else FinishReason.LENGTH
    elif status == "failed":
        resp.finish_reason = FinishReason.ERROR
    elif any(isinstance(p, ToolCallPart) for p in resp.content):
        resp.finish_reason = FinishReason.TOOL_CALLS
    resp.usage = usage_to_ir(body.get("usage"))
    return resp


def response_from_ir(ir: IRResponse, names: Mapping[str, extras.ToolName] | None = None) -> dict[str, Any]:
    rid = ir.id if ir.id.startswith("resp_") else "resp_" + (ir.id or new_id(""))
    return {
        "id": rid,
        "object": "response",
        "created_at": ir.created or int(time.time()),
        "status": response_status(ir.finish_reason),
        "model": ir.model,
        "output": output_from_ir(ir.content, rid, names),
        "incomplete_details": incomplete_details(ir.finish_reason),
        "error": None,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": usage_from_ir(ir.usage),
    }
