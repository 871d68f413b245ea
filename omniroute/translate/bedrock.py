"""Amazon Bedrock ``Converse`` ↔ IR (streams: :mod:`.bedrock_stream`).

Shapes from the Bedrock Runtime API reference (``Converse``, ``Message``, ``ContentBlock``,
``ToolConfiguration``, ``InferenceConfiguration``)::

    {"messages": [{"role": "user" | "assistant", "content": [
        {"text"} | {"image": {"format": "png", "source": {"bytes": "<base64>"}}}
        | {"toolUse": {"toolUseId", "name", "input": {...}}}
        | {"toolResult": {"toolUseId", "content": [{"text"} | {"json"} | {"image"}], "status"}}
        | {"reasoningContent": {"reasoningText": {"text", "signature"}} | {"redactedContent"}}
        | {"cachePoint": {"type": "default"}}]}],
     "system": [{"text"} | {"cachePoint"}],
     "inferenceConfig": {"maxTokens", "temperature", "topP", "stopSequences"},
     "toolConfig": {"tools": [{"toolSpec": {"name", "description", "inputSchema": {"json"}}}],
                    "toolChoice": {"auto": {}} | {"any": {}} | {"tool": {"name"}}},
     "additionalModelRequestFields": {...}}          # model-specific: top_k, thinking

The model id is in the URL (``/model/{modelId}/converse``), never in the body. Response:
``{"output": {"message": {...}}, "stopReason", "usage": {...}, "metrics": {...}}``.

Deliberate choices:
* A ``cachePoint`` block marks the end of a cacheable prefix (Anthropic's ``cache_control`` on
  the block before it): the two are converted into each other.
* ``top_k`` and extended thinking go in ``additionalModelRequestFields`` in the Anthropic
  spelling Bedrock's Claude models read; other models ignore what they do not know.
* Things Converse cannot say (seed, penalties, n > 1, tool_choice "none", JSON mode) raise.
"""

from __future__ import annotations

import json
from typing import Any

from .base import (
    check_passthrough,
    dump_arguments,
    effort_to_budget,
    inline_image,
    parse_arguments,
    untag_signature,
)
from .bedrock_stream import (
    FORMAT,
    OWN_SIGNATURES,
    SIGNATURE_FAMILY,
    STOP_FROM_IR,
    STOP_TO_IR,
    Framer,
    StreamDecoder,
    StreamEncoder,
    usage_from_ir,
    usage_to_ir,
)
from .errors import TranslationError
from .ir import (
    ImagePart,
    IRRequest,
    IRResponse,
    Message,
    Part,
    Reasoning,
    RedactedThinkingPart,
    TextPart,
    ThinkingPart,
    Tool,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
    Usage,
)

__all__ = ["Framer", "StreamDecoder", "StreamEncoder", "request_from_ir", "request_to_ir",
           "response_from_ir", "response_to_ir"]

_CACHE_POINT = {"cachePoint": {"type": "default"}}
_EPHEMERAL = {"type": "ephemeral"}
_HANDLED = {"messages", "system", "inferenceConfig", "toolConfig", "additionalModelRequestFields"}


# ---------------------------------------------------------------- request → IR


def request_to_ir(body: dict[str, Any]) -> IRRequest:
    ir = IRRequest(model=str(body.get("modelId") or ""))
    ir.system = _texts_to_ir(body.get("system") or [])
    for i, msg in enumerate(body.get("messages") or []):
        role = msg.get("role")
        if role not in ("user", "assistant"):
            raise TranslationError(f"messages[{i}].role", f"unsupported role {role!r}")
        ir.messages.append(Message(role, _blocks_to_ir(msg.get("content") or [], f"messages[{i}]")))
    cfg = body.get("inferenceConfig") or {}
    s = ir.sampling
    s.max_tokens, s.temperature, s.top_p = cfg.get("maxTokens"), cfg.get("temperature"), cfg.get("topP")
    s.stop = list(cfg.get("stopSequences") or [])
    extra = dict(body.get("additionalModelRequestFields") or {})
    s.top_k = extra.pop("top_k", None)
    thinking = extra.pop("thinking", None)
    if isinstance(thinking, dict):
        enabled = thinking.get("type") == "enabled"
        ir.reasoning = Reasoning(enabled=enabled, budget_tokens=thinking.get("budget_tokens"))
    tools = body.get("toolConfig") or {}
    for spec in tools.get("tools") or []:
        if "cachePoint" in spec and ir.tools:
            ir.tools[-1].cache = dict(_EPHEMERAL)
            continue
        ts = spec.get("toolSpec") or {}
        schema = (ts.get("inputSchema") or {}).get("json") or {"type": "object", "properties": {}}
        ir.tools.append(Tool(ts.get("name", ""), ts.get("description") or None, schema))
    choice = tools.get("toolChoice")
    if isinstance(choice, dict):
        if "any" in choice:
            ir.tool_choice = ToolChoice("required")
        elif "tool" in choice:
            ir.tool_choice = ToolChoice("tool", (choice["tool"] or {}).get("name"))
        else:
            ir.tool_choice = ToolChoice("auto")
    rest = {k: v for k, v in body.items() if k not in _HANDLED and k != "modelId"}
    if extra:
        rest["additionalModelRequestFields"] = extra
    if rest:
        ir.passthrough, ir.passthrough_format = rest, FORMAT
    return ir


def _texts_to_ir(blocks: list[dict[str, Any]]) -> list[TextPart]:
    out: list[TextPart] = []
    for block in blocks:
        if "cachePoint" in block and out:
            out[-1].cache = dict(_EPHEMERAL)
        elif "text" in block:
            out.append(TextPart(block["text"]))
    return out


def _image_to_ir(image: dict[str, Any]) -> ImagePart:
    fmt = image.get("format", "png")
    return ImagePart(data=(image.get("source") or {}).get("bytes", ""), media_type=f"image/{fmt}")


def _blocks_to_ir(blocks: list[dict[str, Any]], where: str) -> list[Part]:
    parts: list[Part] = []
    for j, block in enumerate(blocks):
        if "cachePoint" in block:
            if parts and hasattr(parts[-1], "cache"):
                parts[-1].cache = dict(_EPHEMERAL)  # type: ignore[union-attr]
        elif "text" in block:
            parts.append(TextPart(block["text"]))
        elif "image" in block:
            parts.append(_image_to_ir(block["image"]))
        elif "toolUse" in block:
            use = block["toolUse"]
            parts.append(ToolCallPart(use.get("toolUseId", ""), use.get("name", ""), dump_arguments(use.get("input"))))
        elif "toolResult" in block:
            parts.append(_result_to_ir(block["toolResult"]))
        elif "reasoningContent" in block:
            rc = block["reasoningContent"]
            if "redactedContent" in rc:
                parts.append(RedactedThinkingPart(rc["redactedContent"]))
            else:
                rt = rc.get("reasoningText") or {}
                sig = rt.get("signature")
                parts.append(ThinkingPart(rt.get("text", ""), sig, SIGNATURE_FAMILY if sig else None))
        else:
            raise TranslationError(f"{where}.content[{j}]", f"block {next(iter(block), '?')!r} cannot be translated")
    return parts


def _result_to_ir(result: dict[str, Any]) -> ToolResultPart:
    content: list[TextPart | ImagePart] = []
    for item in result.get("content") or []:
        if "text" in item:
            content.append(TextPart(item["text"]))
        elif "json" in item:
            content.append(TextPart(json.dumps(item["json"], ensure_ascii=False, separators=(",", ":"))))
        elif "image" in item:
            content.append(_image_to_ir(item["image"]))
    return ToolResultPart(result.get("toolUseId", ""), content, is_error=result.get("status") == "error")


# ---------------------------------------------------------------- IR → request


def request_from_ir(ir: IRRequest) -> dict[str, Any]:
    s = ir.sampling
    for name in ("seed", "presence_penalty", "frequency_penalty"):
        if getattr(s, name) is not None:
            raise TranslationError(name, "Bedrock Converse has no equivalent; remove it")
    if s.n is not None and s.n > 1:
        raise TranslationError("n", "Bedrock Converse returns one answer per request")
    if ir.response_format is not None and ir.response_format.type != "text":
        raise TranslationError("response_format", "Bedrock Converse has no JSON output mode")
    body: dict[str, Any] = {"messages": [m for m in (_message_from_ir(m, i) for i, m in enumerate(ir.messages))
                                         if m["content"]]}  # fmt: skip
    if ir.system:
        body["system"] = _texts_from_ir(ir.system)
    cfg: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    budget = None
    if ir.reasoning is not None and ir.reasoning.enabled:
        budget = max(1024, ir.reasoning.budget_tokens or effort_to_budget(ir.reasoning.effort))
        extra["thinking"] = {"type": "enabled", "budget_tokens": budget}
    if s.max_tokens is not None:
        cfg["maxTokens"] = s.max_tokens if budget is None else max(s.max_tokens, budget + 1)
    elif budget is not None:
        cfg["maxTokens"] = budget + 4096
    if budget is None:  # Claude refuses sampling settings while thinking
        if s.temperature is not None:
            cfg["temperature"] = s.temperature
        if s.top_p is not None:
            cfg["topP"] = s.top_p
        if s.top_k is not None:
            extra["top_k"] = s.top_k
    if s.stop:
        cfg["stopSequences"] = list(s.stop)
    if cfg:
        body["inferenceConfig"] = cfg
    if ir.tools:
        body["toolConfig"] = _tools_from_ir(ir.tools, ir.tool_choice)
    elif any(isinstance(p, ToolCallPart | ToolResultPart) for m in ir.messages for p in m.content):
        # Bedrock refuses toolUse/toolResult blocks without a toolConfig; declare the tools
        # the history used (a client that stopped sending tools mid-conversation).
        names = {p.name for m in ir.messages for p in m.content if isinstance(p, ToolCallPart)}
        body["toolConfig"] = {"tools": [{"toolSpec": {"name": n, "inputSchema": {"json": {"type": "object"}}}}
                                        for n in sorted(names)]}  # fmt: skip
    passthrough = dict(check_passthrough(ir, FORMAT))
    extra.update(passthrough.pop("additionalModelRequestFields", None) or {})
    if extra:
        body["additionalModelRequestFields"] = extra
    body.update(passthrough)
    return body


def _texts_from_ir(parts: list[TextPart]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for part in parts:
        out.append({"text": part.text})
        if part.cache is not None:
            out.append(dict(_CACHE_POINT))
    return out


def _tools_from_ir(tools: list[Tool], choice: ToolChoice | None) -> dict[str, Any]:
    specs: list[dict[str, Any]] = []
    for tool in tools:
        spec: dict[str, Any] = {"name": tool.name, "inputSchema": {"json": tool.parameters}}
        if tool.description:
            spec["description"] = tool.description
        specs.append({"toolSpec": spec})
        if tool.cache is not None:
            specs.append(dict(_CACHE_POINT))
    config: dict[str, Any] = {"tools": specs}
    if choice is not None:
        if choice.mode == "none":
            raise TranslationError("tool_choice", "Bedrock Converse has no 'none' tool choice; leave the tools out")
        config["toolChoice"] = {"auto": {"auto": {}}, "required": {"any": {}},
                                "tool": {"tool": {"name": choice.name}}}[choice.mode]  # fmt: skip
    return config


def _image_from_ir(part: ImagePart, where: str) -> dict[str, Any]:
    fmt, data = inline_image(part, where, "Bedrock")
    return {"image": {"format": "jpeg" if fmt == "jpg" else fmt, "source": {"bytes": data}}}


def _part_from_ir(part: Part, where: str, replay: bool = True) -> dict[str, Any] | None:
    """One content block; ``replay`` (a request) leaves out thinking Bedrock cannot verify."""
    if isinstance(part, TextPart):
        return {"text": part.text} if part.text else None
    if isinstance(part, ImagePart):
        return _image_from_ir(part, where)
    if isinstance(part, ToolCallPart):
        return {"toolUse": {"toolUseId": part.id, "name": part.name, "input": parse_arguments(part.arguments)}}
    if isinstance(part, ToolResultPart):
        content = [_image_from_ir(p, where) if isinstance(p, ImagePart) else {"text": p.text}
                   for p in part.content] or [{"text": ""}]  # fmt: skip
        return {"toolResult": {"toolUseId": part.tool_call_id, "content": content,
                               "status": "error" if part.is_error else "success"}}  # fmt: skip
    if isinstance(part, ThinkingPart):
        sig, family = untag_signature(part.signature, part.signature_format or FORMAT) if part.signature else ("", "")
        if family not in OWN_SIGNATURES:
            if replay:
                return None  # unsigned or foreign thinking cannot be replayed to Bedrock
            return {"reasoningContent": {"reasoningText": {"text": part.text}}}
        return {"reasoningContent": {"reasoningText": {"text": part.text, "signature": sig}}}
    if isinstance(part, RedactedThinkingPart):
        return {"reasoningContent": {"redactedContent": part.data}}
    return None


def _message_from_ir(msg: Message, i: int) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = []
    for j, part in enumerate(msg.content):
        block = _part_from_ir(part, f"messages[{i}].content[{j}]")
        if block is not None:
            blocks.append(block)
            if getattr(part, "cache", None) is not None:
                blocks.append(dict(_CACHE_POINT))
    return {"role": msg.role, "content": blocks}


# ---------------------------------------------------------------- responses


def response_to_ir(body: dict[str, Any]) -> IRResponse:
    message = (body.get("output") or {}).get("message") or {}
    resp = IRResponse(content=_blocks_to_ir(message.get("content") or [], "output.message"))
    resp.finish_reason = STOP_TO_IR.get(body.get("stopReason") or "end_turn", resp.finish_reason)
    resp.usage = Usage()
    usage_to_ir(body.get("usage") or {}).merge_into(resp.usage)
    return resp


def response_from_ir(ir: IRResponse) -> dict[str, Any]:
    content = [b for j, p in enumerate(ir.content) if (b := _part_from_ir(p, f"content[{j}]", False)) is not None]
    return {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": STOP_FROM_IR.get(ir.finish_reason, "end_turn"),
        "usage": usage_from_ir(ir.usage),
        "metrics": {"latencyMs": 0},
    }
