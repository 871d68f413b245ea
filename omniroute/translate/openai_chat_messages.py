"""OpenAI Chat Completions messages ↔ IR messages: roles, tool messages, content parts.

Apart from openai_chat (the request's other fields and the reply): turn by turn mapping is
a rule set of its own. Deliberate choices:
* ``system`` and ``developer`` messages all go to ``IRRequest.system`` (the other formats
  have one system prompt); their relative position among turns is not kept.
* ``role: "tool"`` messages become ToolResultParts of one user message (consecutive ones
  merged); going out, a tool result holding images (chat tool messages are text-only) is sent
  as the tool message's text plus a user message carrying the images right after it.
* Thinking parts of earlier assistant turns are not sent to chat models (the API has no
  input field for them and no way to verify another provider's signature).
"""

from __future__ import annotations

from typing import Any

from .base import image_from_url, image_to_url
from .errors import TranslationError
from .ir import (
    ImagePart,
    IRRequest,
    Message,
    Part,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
)


def message_to_ir(ir: IRRequest, msg: dict[str, Any], where: str) -> None:
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



def messages_from_ir(ir: IRRequest) -> list[dict[str, Any]]:
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
    calls = tool_calls_from_ir(msg.content)
    if any(isinstance(p, ImagePart) for p in msg.content):
        raise TranslationError("messages.content", "images in assistant turns")
    out: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts else None}
    if calls:
        out["tool_calls"] = calls
    return out


def tool_calls_from_ir(parts: list[Part]) -> list[dict[str, Any]]:
    """The ``tool_calls`` of an assistant message (a request's turn or the reply)."""
    return [
        {"id": p.id, "type": "function", "function": {"name": p.name, "arguments": p.arguments}}
        for p in parts
        if isinstance(p, ToolCallPart)
    ]
