"""OpenAI Responses (``/v1/responses``, Codex) ↔ IR. Streams: responses_stream.

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
from .base import (
    budget_to_effort,
    check_passthrough,
    image_from_url,
    image_to_url,
    new_id,
    same_format_metadata,
    untag_signature,
)
from .errors import TranslationError
from .ir import (
    FinishReason, ImagePart, IRRequest, IRResponse, Message, Part, Reasoning,
    RedactedThinkingPart, ResponseFormat, Sampling, TextPart, ThinkingPart, Tool, ToolCallPart,
    ToolChoice, ToolResultPart,
)  # fmt: skip
from .responses_stream import (
    REDACTED,
    Framer,
    StreamDecoder,
    StreamEncoder,
    incomplete_details,
    output_from_ir,
    response_status,
    usage_from_ir,
    usage_to_ir,
)

FORMAT = "openai-responses"

__all__ = [
    "FORMAT", "Framer", "StreamDecoder", "StreamEncoder",
    "request_from_ir", "request_to_ir", "response_from_ir", "response_to_ir",
]  # fmt: skip

_ROLES = ("user", "assistant", "system", "developer")
_HANDLED = {
    "model", "instructions", "input", "tools", "tool_choice", "parallel_tool_calls",
    "temperature", "top_p", "max_output_tokens", "reasoning", "text", "stream",
}  # fmt: skip


# ---------------------------------------------------------------- request → IR


def request_to_ir(body: dict[str, Any]) -> IRRequest:
    ir = IRRequest(model=body.get("model", ""), stream=bool(body.get("stream")))
    if body.get("instructions"):
        ir.system.append(TextPart(body["instructions"]))
    inp = body.get("input")
    if isinstance(inp, str):
        ir.messages.append(Message("user", [TextPart(inp)]))
    else:
        for i, item in enumerate(inp or []):
            _item_to_ir(ir, item, f"input[{i}]")
    extras.drop_orphan_results(ir)
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


def _append(ir: IRRequest, role: str, part: Part) -> None:
    """Items are flat; consecutive items of one role form one IR message."""
    if ir.messages and ir.messages[-1].role == role and _joinable(ir.messages[-1], part):
        ir.messages[-1].content.append(part)
    else:
        ir.messages.append(Message(role, [part]))  # type: ignore[arg-type]


def _joinable(msg: Message, part: Part) -> bool:
    if msg.role == "assistant":
        return True
    # keep tool results and user text in separate user turns, as chat/anthropic clients do
    return isinstance(part, ToolResultPart) == all(isinstance(p, ToolResultPart) for p in msg.content)


def _item_to_ir(ir: IRRequest, item: dict[str, Any], where: str) -> None:
    kind = item.get("type", "message")
    if kind == "message":
        _message_to_ir(ir, item.get("role", "user"), _content_to_ir(item.get("content"), where), where)
    elif kind == "function_call":
        name = extras.flat_name(item.get("name", ""), item.get("namespace"))
        _append(ir, "assistant", ToolCallPart(item.get("call_id", ""), name, item.get("arguments") or "{}"))
    elif kind == "custom_tool_call":
        name = extras.flat_name(item.get("name", ""), item.get("namespace"))
        _append(ir, "assistant", custom.call_to_ir({**item, "name": name}))
    elif kind in ("function_call_output", "custom_tool_call_output"):
        out = item.get("output")
        content = [TextPart(out)] if isinstance(out, str) else _content_to_ir(out, where)
        _append(ir, "user", ToolResultPart(item.get("call_id", ""), content))  # type: ignore[arg-type]
    elif kind == "reasoning":
        _append(ir, "assistant", _reasoning_to_ir(item))
    elif kind != "additional_tools" and item.get("role") in _ROLES and "content" in item:
        _message_to_ir(ir, item["role"], _content_to_ir(item["content"], where), where)  # extras rule 2
    # any other item: extras rule 3 (additional_tools' tools are read with the others)


def _message_to_ir(ir: IRRequest, role: str, parts: list[Part], where: str) -> None:
    if role in ("system", "developer"):
        ir.system.extend(p for p in parts if isinstance(p, TextPart))
    elif role == "assistant":
        for part in parts:  # reasoning, text and calls of one turn form one IR message
            _append(ir, "assistant", part)
    elif role == "user":
        ir.messages.append(Message("user", parts))
    else:
        raise TranslationError(f"{where}.role", f"unsupported role {role!r}")


def _reasoning_to_ir(item: dict[str, Any]) -> Part:
    """A reasoning item; encrypted_content may carry another family's tagged signature."""
    text = "\n\n".join(s.get("text", "") for s in item.get("summary") or [])
    if not text:
        text = "".join(c.get("text", "") for c in item.get("content") or [])
    enc = item.get("encrypted_content")
    # Without encrypted_content the item is a reference by id (store=true): still ours.
    sig, fmt = untag_signature(enc, FORMAT) if enc else (None, FORMAT)
    if fmt == REDACTED and sig is not None:
        return RedactedThinkingPart(sig)
    return ThinkingPart(text, sig, fmt, item.get("id"))


def _content_to_ir(content: Any, where: str) -> list[Part]:
    if content is None:
        return []
    if isinstance(content, str):
        return [TextPart(content)] if content else []
    parts: list[Part] = []
    for j, c in enumerate(content):
        kind = c.get("type")
        if kind in ("input_text", "output_text", "text"):
            parts.append(TextPart(c.get("text", "")))
        elif kind == "refusal":
            parts.append(TextPart(c.get("refusal", "")))
        elif kind == "input_image" and c.get("image_url"):
            parts.append(image_from_url(c["image_url"], c.get("detail")))
        elif kind in ("input_file", "input_audio"):  # user content, known: not for rule 3
            raise TranslationError(f"{where}.content[{j}]", f"content type {kind!r} not supported")
        elif (text := extras.unknown_part_to_ir(c)) is not None:  # extras rule 2, else rule 3
            parts.append(text)
    return parts


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
    body["input"] = _input_from_ir(ir.messages)
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


def _input_from_ir(messages: list[Message]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    custom_calls = {p.id for m in messages for p in m.content if isinstance(p, ToolCallPart) and p.custom}
    for msg in messages:
        pending: list[dict[str, Any]] = []  # content of the current message item

        def flush() -> None:
            if pending:
                items.append({"type": "message", "role": msg.role, "content": list(pending)})
                pending.clear()

        for part in msg.content:
            if isinstance(part, TextPart):
                kind = "output_text" if msg.role == "assistant" else "input_text"
                pending.append({"type": kind, "text": part.text})
            elif isinstance(part, ImagePart):
                if msg.role == "assistant":
                    raise TranslationError("messages.content", "images in assistant turns")
                pending.append(_image(part))
            elif isinstance(part, ToolCallPart) and part.custom:
                flush()
                items.append(custom.call_from_ir(part))
            elif isinstance(part, ToolCallPart):
                flush()
                items.append({"type": "function_call", "call_id": part.id, "name": part.name,
                              "arguments": part.arguments})  # fmt: skip
            elif isinstance(part, ToolResultPart):
                flush()
                kind = "custom_tool_call_output" if part.tool_call_id in custom_calls else "function_call_output"
                items.append({"type": kind, "call_id": part.tool_call_id,
                              "output": _result_output(part)})  # fmt: skip
            elif isinstance(part, ThinkingPart) and part.signature_format == FORMAT and (part.signature or part.id):
                flush()
                item: dict[str, Any] = {"type": "reasoning",
                                        "summary": [{"type": "summary_text", "text": part.text}] if part.text else []}  # fmt: skip
                if part.signature:
                    item["encrypted_content"] = part.signature
                if part.id:
                    item["id"] = part.id
                items.append(item)
            # other thinking: not replayable to OpenAI (see module docstring)
        flush()
    return items


def _image(part: ImagePart) -> dict[str, Any]:
    return {"type": "input_image", "image_url": image_to_url(part), "detail": part.detail or "auto"}


def _result_output(part: ToolResultPart) -> Any:
    text = "".join(p.text for p in part.content if isinstance(p, TextPart))
    if part.is_error:
        text = f"Error: {text}"  # Responses has no is_error flag; tell the model
    if not any(isinstance(p, ImagePart) for p in part.content):
        return text
    out: list[dict[str, Any]] = [{"type": "input_text", "text": text}] if text else []
    return out + [_image(p) for p in part.content if isinstance(p, ImagePart)]


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
            resp.content.extend(_content_to_ir(item.get("content"), f"output[{j}]"))
        elif kind == "function_call":
            resp.content.append(ToolCallPart(item.get("call_id", ""), item.get("name", ""), item.get("arguments") or "{}"))
        elif kind == "custom_tool_call":
            resp.content.append(custom.call_to_ir(item))
        elif kind == "reasoning":
            resp.content.append(_reasoning_to_ir(item))
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
