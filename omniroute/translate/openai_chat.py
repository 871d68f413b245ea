"""OpenAI Chat Completions (``/v1/chat/completions``) ↔ IR. Streams: openai_chat_stream.

Deliberate choices:
* ``system`` and ``developer`` messages all go to ``IRRequest.system`` (the other formats
  have one system prompt); their relative position among turns is not kept.
* ``role: "tool"`` messages become ToolResultParts of one user message (consecutive ones
  merged); going out, a tool result holding images (chat tool messages are text-only) is sent
  as the tool message's text plus a user message carrying the images right after it.
* Thinking parts of earlier assistant turns are not sent to chat models (the API has no
  input field for them and no way to verify another provider's signature).
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
    image_from_url,
    image_to_url,
    new_id,
    same_format_metadata,
)
from .errors import TranslationError
from .ir import (
    FinishReason,
    ImagePart,
    IRRequest,
    IRResponse,
    Message,
    Part,
    Reasoning,
    ResponseFormat,
    Sampling,
    TextPart,
    ThinkingPart,
    Tool,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
)
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
        _message_to_ir(ir, msg, f"messages[{i}]")
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


def _message_to_ir(ir: IRRequest, msg: dict[str, Any], where: str) -> None:
    role = msg.get("role")
    content = msg.get("content")
    if role in ("system", "developer"):
        ir.system.extend(p for p in _content_to_ir(content, where) if isinstance(p, TextPart))
        return
    if role == "tool":
        result = ToolResultPart(
            tool_call_id=msg.get("tool_call_id", ""),
            content=[p for p in _content_to_ir(content, where)],  # type: ignore[misc]
        )
        last = ir.messages[-1] if ir.messages else None
        if last and last.role == "user" and all(
            isinstance(p, ToolResultPart) for p in last.content
        ):
            last.content.append(result)
        else:
            ir.messages.append(Message("user", [result]))
        return
    if role == "user":
        ir.messages.append(Message("user", _content_to_ir(content, where)))
        return
    if role != "assistant":
        raise TranslationError(f"{where}.role", f"unsupported role {role!r}")
    parts: list[Part] = []
    reasoning = msg.get("reasoning_content") or msg.get("reasoning")
    if isinstance(reasoning, str) and reasoning:
        parts.append(ThinkingPart(reasoning))
    parts.extend(_content_to_ir(content, where))
    if msg.get("refusal"):
        parts.append(TextPart(msg["refusal"]))
    for j, call in enumerate(msg.get("tool_calls") or []):
        if call.get("type", "function") != "function":
            raise TranslationError(f"{where}.tool_calls[{j}].type", "only function calls")
        fn = call.get("function") or {}
        parts.append(ToolCallPart(call.get("id", ""), fn.get("name", ""), fn.get("arguments") or "{}"))
    ir.messages.append(Message("assistant", parts))


def _content_to_ir(content: Any, where: str) -> list[Part]:
    if content is None:
        return []
    if isinstance(content, str):
        return [TextPart(content)] if content else []
    parts: list[Part] = []
    for j, item in enumerate(content):
        kind = item.get("type")
        if kind == "text":
            if item.get("text"):
                # OpenRouter-style cache_control on chat parts: kept for Anthropic upstreams
                parts.append(TextPart(item["text"], item.get("cache_control")))
        elif kind == "refusal":
            parts.append(TextPart(item.get("refusal", "")))
        elif kind == "image_url":
            img = item.get("image_url") or {}
            url = img if isinstance(img, str) else img.get("url", "")
            detail = None if isinstance(img, str) else img.get("detail")
            parts.append(image_from_url(url, detail))
        else:
            raise TranslationError(f"{where}.content[{j}]", f"content type {kind!r} not supported")
    return parts


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
    body: dict[str, Any] = {"model": ir.model, "messages": _messages_from_ir(ir)}
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


def _messages_from_ir(ir: IRRequest) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if ir.system:
        texts = [p.text for p in ir.system]
        content: Any = texts[0] if len(texts) == 1 else [{"type": "text", "text": t} for t in texts]
        out.append({"role": "system", "content": content})
    for msg in ir.messages:
        if msg.role == "assistant":
            turn = _assistant_from_ir(msg)
            if turn["content"] is not None or "tool_calls" in turn:
                out.append(turn)  # a turn that held only (unreplayable) thinking is dropped
            continue
        rest: list[Part] = []
        for part in msg.content:
            if isinstance(part, ToolResultPart):
                text = "".join(p.text for p in part.content if isinstance(p, TextPart))
                images = [p for p in part.content if isinstance(p, ImagePart)]
                if part.is_error:
                    text = f"Error: {text}"  # chat has no is_error flag; tell the model
                out.append({"role": "tool", "tool_call_id": part.tool_call_id, "content": text})
                if images:
                    out.append({"role": "user", "content": [_part_from_ir(p) for p in images]})
            else:
                rest.append(part)
        if rest:
            out.append({"role": "user", "content": _user_content(rest)})
    return out


def _user_content(parts: list[Part]) -> Any:
    if len(parts) == 1 and isinstance(parts[0], TextPart):
        return parts[0].text
    return [_part_from_ir(p) for p in parts]


def _part_from_ir(part: Part) -> dict[str, Any]:
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text}
    if isinstance(part, ImagePart):
        img: dict[str, Any] = {"url": image_to_url(part)}
        if part.detail:
            img["detail"] = part.detail
        return {"type": "image_url", "image_url": img}
    raise TranslationError("messages.content", f"{type(part).__name__} not allowed in a user turn")


def _assistant_from_ir(msg: Message) -> dict[str, Any]:
    texts = [p.text for p in msg.content if isinstance(p, TextPart)]
    calls = [
        {"id": p.id, "type": "function", "function": {"name": p.name, "arguments": p.arguments}}
        for p in msg.content
        if isinstance(p, ToolCallPart)
    ]
    if any(isinstance(p, ImagePart) for p in msg.content):
        raise TranslationError("messages.content", "images in assistant turns")
    out: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts else None}
    if calls:
        out["tool_calls"] = calls
    return out


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
    calls = [
        {"id": p.id, "type": "function", "function": {"name": p.name, "arguments": p.arguments}}
        for p in ir.content
        if isinstance(p, ToolCallPart)
    ]
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

