"""OpenAI Chat Completions (``/v1/chat/completions``) ↔ IR: the request's fields and the reply.
Messages and their content parts: openai_chat_messages. Streams: openai_chat_stream.

Deliberate choices:
* ``user``, ``metadata``, ``store``, ``service_tier``, ``prompt_cache_key`` and
  ``safety_identifier`` are identity/billing metadata: kept only for chat→chat. So are
  DashScope's hints (``preserve_thinking``, ``enable_thinking``, ``thinking_budget``,
  ``vl_high_resolution_images``), which Qwen Code sends and only Qwen's service reads.
* ``top_k`` from another format (Gemini CLI's ``topK``) is dropped: it only narrows sampling
  and OpenAI refuses it; a chat client's own is kept for chat→chat (vLLM, OpenRouter take it).
* Fields that change the result but have no IR equivalent (``logprobs``, ``logit_bias``,
  ``audio``, ``prediction`` …) go to ``passthrough`` and fail loudly towards other formats.
"""

from __future__ import annotations

import time
from typing import Any

from .base import (
    budget_to_effort,
    check_passthrough,
    new_id,
    same_format_metadata,
)
from .errors import TranslationError
from .ir import (
    FinishReason,
    IRRequest,
    IRResponse,
    Reasoning,
    ResponseFormat,
    Sampling,
    TextPart,
    ThinkingPart,
    Tool,
    ToolCallPart,
    ToolChoice,
)
from .openai_chat_messages import message_to_ir, messages_from_ir, tool_calls_from_ir
from .openai_chat_stream import (
    FINISH_FROM_IR,
    FINISH_TO_IR,
    Framer,
    StreamDecoder,
    StreamEncoder,
    usage_from_ir,
    usage_to_ir,
)

FORMAT = "openai-chat"

__all__ = [
    "FORMAT",
    "Framer",
    "StreamDecoder",
    "StreamEncoder",
    "request_from_ir",
    "request_to_ir",
    "response_from_ir",
    "response_to_ir",
]

_DASHSCOPE_HINTS = ("preserve_thinking", "vl_high_resolution_images", "enable_thinking", "thinking_budget")
_METADATA_KEYS = (
    "user", "metadata", "store", "service_tier", "prompt_cache_key", "safety_identifier",
    "prompt_cache_retention", *_DASHSCOPE_HINTS,
)  # fmt: skip
_HANDLED = {
    "model", "messages", "tools", "tool_choice", "parallel_tool_calls", "temperature", "top_p",
    "top_k", "max_tokens", "max_completion_tokens", "stop", "seed", "presence_penalty",
    "frequency_penalty", "n", "reasoning_effort", "response_format", "stream",
    "stream_options", "functions", "function_call", *_METADATA_KEYS,
}  # fmt: skip
# OpenAI-only reasoning-model families reject max_tokens and want max_completion_tokens.
_COMPLETION_TOKENS_PREFIXES = ("o1", "o3", "o4", "gpt-5", "gpt-4.1")

# ---------------------------------------------------------------- request → IR


def request_to_ir(body: dict[str, Any]) -> IRRequest:
    if body.get("functions") or body.get("function_call"):
        raise TranslationError("functions", "legacy function calling: use tools/tool_choice")
    ir = IRRequest(model=body.get("model", ""), stream=bool(body.get("stream")))
    for i, msg in enumerate(body.get("messages") or []):
        message_to_ir(ir, msg, f"messages[{i}]")
    ir.tools = [_tool_to_ir(t, f"tools[{i}]") for i, t in enumerate(body.get("tools") or [])]
    ir.tool_choice = _tool_choice_to_ir(body.get("tool_choice"), body.get("parallel_tool_calls"))
    stop = body.get("stop")
    ir.sampling = Sampling(
        temperature=body.get("temperature"),
        top_p=body.get("top_p"),
        top_k=body.get("top_k"),
        max_tokens=body.get("max_completion_tokens") or body.get("max_tokens"),
        stop=[stop] if isinstance(stop, str) else list(stop or []),
        seed=body.get("seed"),
        presence_penalty=body.get("presence_penalty"),
        frequency_penalty=body.get("frequency_penalty"),
        n=body.get("n"),
    )
    if body.get("reasoning_effort"):
        effort = body["reasoning_effort"]
        ir.reasoning = Reasoning(enabled=effort != "none", effort=effort)
    ir.response_format = _response_format_to_ir(body.get("response_format"))
    if isinstance(body.get("stream_options"), dict):
        ir.stream_usage = body["stream_options"].get("include_usage")
    ir.metadata = {k: body[k] for k in _METADATA_KEYS if k in body}
    ir.metadata_format = FORMAT
    ir.passthrough = {k: v for k, v in body.items() if k not in _HANDLED}
    ir.passthrough_format = FORMAT
    return ir


def _tool_to_ir(tool: dict[str, Any], where: str) -> Tool:
    if tool.get("type", "function") != "function":
        raise TranslationError(f"{where}.type", f"tool type {tool.get('type')!r} not supported")
    fn = tool.get("function") or {}
    return Tool(
        name=fn.get("name", ""),
        description=fn.get("description"),
        parameters=fn.get("parameters") or {"type": "object", "properties": {}},
        strict=fn.get("strict"),
    )


def _tool_choice_to_ir(choice: Any, parallel: bool | None) -> ToolChoice | None:
    if choice is None and parallel is None:
        return None
    tc = ToolChoice(parallel=parallel)
    if isinstance(choice, str):
        tc.mode = choice if choice in ("auto", "none", "required") else "auto"  # type: ignore[assignment]
    elif isinstance(choice, dict):
        tc.mode, tc.name = "tool", (choice.get("function") or {}).get("name")
    return tc


def _response_format_to_ir(rf: Any) -> ResponseFormat | None:
    if not isinstance(rf, dict) or rf.get("type") in (None, "text"):
        return None
    if rf["type"] == "json_object":
        return ResponseFormat("json_object")
    js = rf.get("json_schema") or {}
    return ResponseFormat(
        "json_schema", js.get("schema"), js.get("name"), js.get("strict"), js.get("description")
    )


# ---------------------------------------------------------------- IR → request


def request_from_ir(ir: IRRequest) -> dict[str, Any]:
    s = ir.sampling
    if len(s.stop) > 4:
        raise TranslationError("stop_sequences", "OpenAI chat accepts at most 4 stop sequences")
    body: dict[str, Any] = {"model": ir.model, "messages": messages_from_ir(ir)}
    if ir.tools:
        body["tools"] = [_tool_from_ir(t) for t in ir.tools]
    tc = ir.tool_choice
    if tc is not None and (ir.tools or tc.mode == "none"):
        body["tool_choice"] = (
            {"type": "function", "function": {"name": tc.name}} if tc.mode == "tool" else tc.mode
        )
        if tc.parallel is not None and ir.tools:
            body["parallel_tool_calls"] = tc.parallel
    if s.max_tokens is not None:
        key = "max_tokens"
        if ir.model.startswith(_COMPLETION_TOKENS_PREFIXES) or ir.reasoning is not None:
            key = "max_completion_tokens"
        body[key] = s.max_tokens
    for name in ("temperature", "top_p", "seed", "presence_penalty", "frequency_penalty", "n"):
        value = getattr(s, name)
        if value is not None:
            body[name] = value
    if s.top_k is not None and ir.passthrough_format == FORMAT:
        body["top_k"] = s.top_k
    if s.stop:
        body["stop"] = s.stop
    r = ir.reasoning
    if r is not None and (r.enabled or ir.passthrough_format == FORMAT):
        # "disabled" from another format is simply not asking: "none" is only valid on the
        # newest models, so it is sent only when a chat client asked for it.
        body["reasoning_effort"] = "none" if not r.enabled else (r.effort or budget_to_effort(r.budget_tokens))
    rf = ir.response_format
    if rf is not None and rf.type != "text":
        if rf.type == "json_object":
            body["response_format"] = {"type": "json_object"}
        else:
            js: dict[str, Any] = {"name": rf.name or "response", "schema": rf.schema or {}}
            if rf.strict is not None:
                js["strict"] = rf.strict
            if rf.description:
                js["description"] = rf.description
            body["response_format"] = {"type": "json_schema", "json_schema": js}
    if ir.stream:
        body["stream"] = True
        # Always ask for usage: the router accounts tokens even if the client did not ask.
        body["stream_options"] = {"include_usage": True}
    body.update(same_format_metadata(ir, FORMAT))
    body.update(check_passthrough(ir, FORMAT))
    return body


def _tool_from_ir(tool: Tool) -> dict[str, Any]:
    fn: dict[str, Any] = {"name": tool.name, "parameters": tool.parameters}
    if tool.description:
        fn["description"] = tool.description
    if tool.strict is not None:
        fn["strict"] = tool.strict
    return {"type": "function", "function": fn}


# ---------------------------------------------------------------- responses


def response_to_ir(body: dict[str, Any]) -> IRResponse:
    resp = IRResponse(id=body.get("id", ""), model=body.get("model", ""), created=body.get("created"))
    choices = body.get("choices") or []
    if choices:
        choice = choices[0]
        msg = choice.get("message") or {}
        reasoning = msg.get("reasoning_content") or msg.get("reasoning")
        if isinstance(reasoning, str) and reasoning:
            resp.content.append(ThinkingPart(reasoning))
        if msg.get("content"):
            resp.content.append(TextPart(msg["content"]))
        if msg.get("refusal"):
            resp.content.append(TextPart(msg["refusal"]))
        for call in msg.get("tool_calls") or []:
            fn = call.get("function") or {}
            resp.content.append(ToolCallPart(call.get("id", ""), fn.get("name", ""), fn.get("arguments") or "{}"))
        resp.finish_reason = FINISH_TO_IR.get(choice.get("finish_reason") or "stop", FinishReason.STOP)
    resp.usage = usage_to_ir(body.get("usage"))
    return resp


def response_from_ir(ir: IRResponse) -> dict[str, Any]:
    texts = [p.text for p in ir.content if isinstance(p, TextPart)]
    thinking = [p.text for p in ir.content if isinstance(p, ThinkingPart) and p.text]
    calls = tool_calls_from_ir(ir.content)
    message: dict[str, Any] = {
        "role": "assistant",
        "content": "".join(texts) if texts or not calls else None,
        "refusal": None,
    }
    if thinking:
        # Not in OpenAI's schema, but the de-facto field (DeepSeek, vLLM, OpenRouter) that
        # chat clients display; the SDK keeps unknown fields.
        message["reasoning_content"] = "\n\n".join(thinking)
    if calls:
        message["tool_calls"] = calls
    return {
        "id": ir.id or new_id("chatcmpl-"),
        "object": "chat.completion",
        "created": ir.created or int(time.time()),
        "model": ir.model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": FINISH_FROM_IR[ir.finish_reason],
                "logprobs": None,
            }
        ],
        "usage": usage_from_ir(ir.usage),
    }

