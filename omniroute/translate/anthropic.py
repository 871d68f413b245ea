"""Anthropic Messages (``/v1/messages``) ↔ IR. Content blocks: anthropic_wire; streams:
anthropic_stream.

Deliberate choices:
* ``max_tokens`` is required by Anthropic: when the source has none we send
  ``DEFAULT_MAX_TOKENS`` (plus the thinking budget when thinking is on).
* Thinking parts are replayed only when Anthropic signed them (``signature_format ==
  "anthropic"`` and a non-empty signature); anything else (reasoning from GPT/Gemini, or our
  own unsigned stand-ins) is dropped because the API rejects unsigned thinking blocks.
  If thinking is requested while the last assistant turn is a tool call without signed
  thinking — which the API rejects ("final assistant message must start with a thinking
  block") — thinking is turned off for that request instead.
* Signatures of other families (OpenAI encrypted reasoning, Gemini thought signatures)
  are given to Anthropic clients tagged with their family (``base.tag_signature``) so a
  client like Claude Code hands them back intact and they reach only the family that made
  them; ``signature: ""`` stands for "no signature" (the SDK requires the field).
* ``temperature`` above 1 (OpenAI's range is 0–2) is clamped to 1. With thinking on the API
  rejects ``temperature``/``top_k`` and ``top_p`` < 0.95, so the explicit reasoning request
  wins: those sampling hints are dropped / raised to 0.95.
* ``metadata`` / ``service_tier`` / ``context_management`` are kept for anthropic→anthropic
  only; ``context_management`` only trims context server-side, so dropping it is harmless.
* JSON output asked in another format becomes a forced tool or a system instruction, by the
  rule stated in ``anthropic_json``.
"""

from __future__ import annotations

from typing import Any

from . import anthropic_json
from .anthropic_stream import Framer, StreamDecoder, StreamEncoder, usage_from_ir, usage_to_ir
from .anthropic_wire import (
    FORMAT,
    STOP_FROM_IR,
    STOP_TO_IR,
    block_to_ir,
    blocks_to_ir,
    client_signature,
    part_from_ir,
    signed,
    text_block,
)
from .base import (
    check_passthrough,
    effort_to_budget,
    fill_tool_result_names,
    new_id,
    parse_arguments,
    same_format_metadata,
)
from .errors import TranslationError
from .ir import (
    FinishReason,
    IRRequest,
    IRResponse,
    Message,
    Reasoning,
    RedactedThinkingPart,
    ResponseFormat,
    Sampling,
    TextPart,
    ThinkingPart,
    Tool,
    ToolCallPart,
    ToolChoice,
)

DEFAULT_MAX_TOKENS = 8192

__all__ = [
    "DEFAULT_MAX_TOKENS", "FORMAT", "Framer", "StreamDecoder", "StreamEncoder",
    "request_from_ir", "request_to_ir", "response_from_ir", "response_to_ir",
]  # fmt: skip

# Re-emitted only towards Anthropic. diagnostics: Claude Code's client telemetry;
# output_config: Claude Code's {"effort": ...} (also read into the IR's reasoning effort).
_METADATA_KEYS = ("metadata", "service_tier", "context_management", "diagnostics", "output_config")
_HANDLED = {
    "model", "system", "messages", "tools", "tool_choice", "max_tokens", "temperature",
    "top_p", "top_k", "stop_sequences", "thinking", "stream", "output_format", *_METADATA_KEYS,
}  # fmt: skip


# ---------------------------------------------------------------- request → IR


def request_to_ir(body: dict[str, Any]) -> IRRequest:
    ir = IRRequest(model=body.get("model", ""), stream=bool(body.get("stream")))
    system = body.get("system")
    if isinstance(system, str):
        ir.system = [TextPart(system)] if system else []
    elif system:
        ir.system = [TextPart(b.get("text", ""), b.get("cache_control")) for b in system]
    for i, msg in enumerate(body.get("messages") or []):
        role = msg.get("role")
        if role == "system":
            # Claude Code (2.1.x) sends mid-conversation system messages; like OpenAI chat's
            # system/developer messages, their text joins the system prompt.
            ir.system.extend(p for p in blocks_to_ir(msg.get("content"), f"messages[{i}]") if isinstance(p, TextPart))
            continue
        if role not in ("user", "assistant"):
            raise TranslationError(f"messages[{i}].role", f"unsupported role {role!r}")
        ir.messages.append(Message(role, blocks_to_ir(msg.get("content"), f"messages[{i}]")))
    fill_tool_result_names(ir.messages)
    ir.tools = [_tool_to_ir(t, f"tools[{i}]") for i, t in enumerate(body.get("tools") or [])]
    ir.tool_choice = _tool_choice_to_ir(body.get("tool_choice"))
    ir.sampling = Sampling(
        temperature=body.get("temperature"),
        top_p=body.get("top_p"),
        top_k=body.get("top_k"),
        max_tokens=body.get("max_tokens"),
        stop=list(body.get("stop_sequences") or []),
    )
    thinking = body.get("thinking")
    if isinstance(thinking, dict):
        kind = thinking.get("type")
        if kind == "enabled":
            ir.reasoning = Reasoning(budget_tokens=thinking.get("budget_tokens"))
        elif kind == "adaptive":
            ir.reasoning = Reasoning()
        elif kind == "disabled":
            ir.reasoning = Reasoning(enabled=False)
    config = body.get("output_config")
    if isinstance(config, dict):
        effort = config.get("effort")
        if isinstance(effort, str) and ir.reasoning is not None and ir.reasoning.enabled:
            ir.reasoning.effort = effort
        elif isinstance(effort, str) and ir.reasoning is None:
            ir.reasoning = Reasoning(effort=effort)
    of = body.get("output_format")
    if isinstance(of, dict) and of.get("type") == "json_schema":
        ir.response_format = ResponseFormat("json_schema", of.get("schema"))
    ir.metadata = {k: body[k] for k in _METADATA_KEYS if k in body}
    ir.metadata_format = FORMAT
    ir.passthrough = {k: v for k, v in body.items() if k not in _HANDLED}
    ir.passthrough_format = FORMAT
    return ir


def _tool_to_ir(tool: dict[str, Any], where: str) -> Tool:
    if tool.get("type") not in (None, "custom"):
        raise TranslationError(where, f"server tool {tool.get('type')!r} cannot be translated")
    return Tool(
        name=tool.get("name", ""),
        description=tool.get("description"),
        parameters=tool.get("input_schema") or {"type": "object", "properties": {}},
        strict=tool.get("strict"),
        cache=tool.get("cache_control"),
    )


def _tool_choice_to_ir(tc: Any) -> ToolChoice | None:
    if not isinstance(tc, dict):
        return None
    mode = {"auto": "auto", "any": "required", "tool": "tool", "none": "none"}.get(tc.get("type"), "auto")
    parallel = False if tc.get("disable_parallel_tool_use") else None
    return ToolChoice(mode, tc.get("name"), parallel)  # type: ignore[arg-type]


# ---------------------------------------------------------------- IR → request


def request_from_ir(ir: IRRequest) -> dict[str, Any]:
    s = ir.sampling
    for name in ("seed", "presence_penalty", "frequency_penalty"):
        if getattr(s, name) is not None:
            raise TranslationError(name, "Anthropic Messages has no equivalent; remove it")
    if s.n is not None and s.n > 1:
        raise TranslationError("n", "Anthropic returns one completion per request")
    messages = [_message_from_ir(m) for m in ir.messages]
    messages = [m for m in messages if m["content"]]  # the API rejects empty turns
    body: dict[str, Any] = {"model": ir.model, "messages": messages}
    system = list(ir.system)
    json_tool = anthropic_json.forced_tool(ir.response_format, bool(ir.tools))
    if json_tool is None and (json_rule := anthropic_json.instruction(ir.response_format)):
        system.append(TextPart(json_rule))
    if system:
        if len(system) == 1 and system[0].cache is None:
            body["system"] = system[0].text
        else:
            body["system"] = [text_block(p) for p in system]
    thinking = None if json_tool else _thinking_from_ir(ir)
    max_tokens = s.max_tokens
    if max_tokens is None:
        max_tokens = DEFAULT_MAX_TOKENS + (thinking or 0)
    if thinking is not None and thinking >= max_tokens:
        # OpenAI's max_completion_tokens bounds reasoning+answer like Anthropic's max_tokens;
        # keep the bound and shrink the budget into it (the API minimum budget is 1024).
        thinking = max_tokens - 1 if max_tokens > 1024 else None
    body["max_tokens"] = max_tokens
    if thinking is not None:
        body["thinking"] = {"type": "enabled", "budget_tokens": thinking}
    elif ir.reasoning is not None and (json_tool or not ir.reasoning.enabled):
        body["thinking"] = {"type": "disabled"}
    if thinking is None:
        if s.temperature is not None:
            body["temperature"] = min(1.0, s.temperature)
        if s.top_k is not None:
            body["top_k"] = s.top_k
        if s.top_p is not None:
            body["top_p"] = s.top_p
    elif s.top_p is not None:
        body["top_p"] = max(0.95, s.top_p)  # the API's floor while thinking
    if s.stop:
        body["stop_sequences"] = s.stop
    if ir.tools:
        body["tools"] = [_tool_from_ir(t) for t in ir.tools]
        tc = ir.tool_choice
        if tc is not None:
            choice: dict[str, Any] = {
                "auto": {"type": "auto"}, "none": {"type": "none"},
                "required": {"type": "any"}, "tool": {"type": "tool", "name": tc.name},
            }[tc.mode]  # fmt: skip
            if tc.parallel is False and tc.mode != "none":
                choice["disable_parallel_tool_use"] = True
            body["tool_choice"] = choice
    if json_tool is not None:
        body["tools"] = [json_tool]
        body["tool_choice"] = {"type": "tool", "name": anthropic_json.JSON_TOOL}
    if ir.stream:
        body["stream"] = True
    body.update(same_format_metadata(ir, FORMAT))
    body.update(check_passthrough(ir, FORMAT))
    return body


def _thinking_from_ir(ir: IRRequest) -> int | None:
    r = ir.reasoning
    if r is None or not r.enabled:
        return None
    last = next((m for m in reversed(ir.messages) if m.role == "assistant"), None)
    if last is not None and any(isinstance(p, ToolCallPart) for p in last.content):
        first = last.content[0] if last.content else None
        replayable = (isinstance(first, ThinkingPart) and signed(first)) or isinstance(
            first, RedactedThinkingPart
        )
        if not replayable:
            return None
    return max(1024, r.budget_tokens or effort_to_budget(r.effort))


def _message_from_ir(msg: Message) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = []
    for part in msg.content:
        block = part_from_ir(part)
        if block is not None:
            blocks.append(block)
    if len(blocks) == 1 and blocks[0]["type"] == "text" and "cache_control" not in blocks[0]:
        return {"role": msg.role, "content": blocks[0]["text"]}
    return {"role": msg.role, "content": blocks}


def _tool_from_ir(tool: Tool) -> dict[str, Any]:
    out: dict[str, Any] = {"name": tool.name, "input_schema": tool.parameters}
    if tool.description:
        out["description"] = tool.description
    if tool.cache is not None:
        out["cache_control"] = tool.cache
    return out


# ---------------------------------------------------------------- responses


def response_to_ir(body: dict[str, Any]) -> IRResponse:
    resp = IRResponse(id=body.get("id", ""), model=body.get("model", ""))
    for j, block in enumerate(body.get("content") or []):
        if block.get("type") in ("server_tool_use", "web_search_tool_result"):
            raise TranslationError(f"content[{j}]", "server tool results cannot be translated")
        resp.content.append(block_to_ir(block, f"content[{j}]"))
    resp.finish_reason = STOP_TO_IR.get(body.get("stop_reason") or "end_turn", FinishReason.STOP)
    resp.stop_sequence = body.get("stop_sequence")
    resp.usage = usage_to_ir(body.get("usage") or {})
    return anthropic_json.answer_from_tool(resp)


def response_from_ir(ir: IRResponse) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    for part in ir.content:
        if isinstance(part, ThinkingPart):
            # Foreign reasoning has no Anthropic signature; "" keeps the SDK's schema valid and
            # makes request_from_ir drop it when the client sends it back.
            content.append({"type": "thinking", "thinking": part.text, "signature": client_signature(part.signature, part.signature_format)})
        elif isinstance(part, ToolCallPart):
            content.append({"type": "tool_use", "id": part.id, "name": part.name,
                            "input": parse_arguments(part.arguments)})  # fmt: skip
        else:
            block = part_from_ir(part)
            if block is not None:
                content.append(block)
    return {
        "id": ir.id or new_id("msg_"),
        "type": "message",
        "role": "assistant",
        "model": ir.model,
        "content": content,
        "stop_reason": "stop_sequence" if ir.stop_sequence else STOP_FROM_IR[ir.finish_reason],
        "stop_sequence": ir.stop_sequence,
        "usage": usage_from_ir(ir.usage),
    }
