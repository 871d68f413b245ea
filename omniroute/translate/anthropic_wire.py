"""Anthropic Messages wire pieces shared by the request/response converters and the stream
classes: content blocks ↔ IR parts, stop reasons, and the signatures shown to clients.

Block shapes follow the Messages API reference as mirrored by the anthropic SDK's types
(``TextBlockParam``, ``ImageBlockParam``, ``ToolUseBlockParam``, ``ToolResultBlockParam``,
``ThinkingBlockParam``, ``RedactedThinkingBlockParam``).
"""

from __future__ import annotations

from typing import Any

from .base import dump_arguments, parse_arguments, tag_signature, untag_signature
from .errors import TranslationError
from .ir import (
    FinishReason,
    ImagePart,
    Part,
    RedactedThinkingPart,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
)

FORMAT = "anthropic"

STOP_TO_IR = {
    "end_turn": FinishReason.STOP,
    "stop_sequence": FinishReason.STOP,
    "pause_turn": FinishReason.STOP,
    "max_tokens": FinishReason.LENGTH,
    "model_context_window_exceeded": FinishReason.LENGTH,
    "tool_use": FinishReason.TOOL_CALLS,
    "refusal": FinishReason.CONTENT_FILTER,
}
STOP_FROM_IR = {
    FinishReason.STOP: "end_turn",
    FinishReason.LENGTH: "max_tokens",
    FinishReason.TOOL_CALLS: "tool_use",
    FinishReason.CONTENT_FILTER: "refusal",
    FinishReason.ERROR: "end_turn",
}


# ---------------------------------------------------------------- blocks → IR


def blocks_to_ir(content: Any, where: str) -> list[Part]:
    """A message's ``content`` (a string or a list of blocks) → IR parts."""
    if isinstance(content, str):
        return [TextPart(content)] if content else []
    return [block_to_ir(block, f"{where}.content[{j}]") for j, block in enumerate(content or [])]


def block_to_ir(block: dict[str, Any], where: str) -> Part:
    kind = block.get("type")
    cache = block.get("cache_control")
    if kind == "text":
        return TextPart(block.get("text", ""), cache)
    if kind == "image":
        src = block.get("source") or {}
        if src.get("type") == "base64":
            return ImagePart(data=src.get("data"), media_type=src.get("media_type"), cache=cache)
        if src.get("type") == "url":
            return ImagePart(url=src.get("url"), cache=cache)
        raise TranslationError(f"{where}.source.type", f"image source {src.get('type')!r}")
    if kind == "tool_use":
        return ToolCallPart(
            block.get("id", ""), block.get("name", ""), dump_arguments(block.get("input")), cache
        )
    if kind == "tool_result":
        inner = block.get("content")
        result: list[TextPart | ImagePart] = []
        for k, item in enumerate([] if inner is None else blocks_to_ir(inner, where)):
            if not isinstance(item, (TextPart, ImagePart)):
                raise TranslationError(f"{where}.content[{k}]", "tool results hold text and images")
            result.append(item)
        return ToolResultPart(
            block.get("tool_use_id", ""), result, bool(block.get("is_error")), cache=cache
        )
    if kind == "thinking":
        sig, fmt = untag_signature(block.get("signature") or "", FORMAT)
        return ThinkingPart(block.get("thinking", ""), sig or None, fmt)
    if kind == "redacted_thinking":
        return RedactedThinkingPart(block.get("data", ""))
    raise TranslationError(where, f"content block type {kind!r} not supported")


# ---------------------------------------------------------------- IR → blocks


def part_from_ir(part: Part) -> dict[str, Any] | None:
    """An IR part → an Anthropic block to send upstream; None for parts Anthropic would
    reject (empty text, thinking it did not sign)."""
    if isinstance(part, TextPart):
        return text_block(part) if part.text else None  # empty text blocks are rejected
    if isinstance(part, ImagePart):
        return image_block(part)
    if isinstance(part, ToolCallPart):
        block = {
            "type": "tool_use",
            "id": part.id,
            "name": part.name,
            "input": parse_arguments(part.arguments),
        }
        if part.cache is not None:
            block["cache_control"] = part.cache
        return block
    if isinstance(part, ToolResultPart):
        content = [
            text_block(p) if isinstance(p, TextPart) else image_block(p) for p in part.content
        ]
        block = {"type": "tool_result", "tool_use_id": part.tool_call_id, "content": content}
        if part.is_error:
            block["is_error"] = True
        if part.cache is not None:
            block["cache_control"] = part.cache
        return block
    if isinstance(part, ThinkingPart):
        if not signed(part):
            return None  # the API rejects thinking blocks without its own signature
        return {"type": "thinking", "thinking": part.text, "signature": part.signature}
    if isinstance(part, RedactedThinkingPart):
        return {"type": "redacted_thinking", "data": part.data}
    return None


def text_block(part: TextPart) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "text", "text": part.text}
    if part.cache is not None:
        block["cache_control"] = part.cache
    return block


def image_block(part: ImagePart) -> dict[str, Any]:
    if part.data is not None:
        src = {"type": "base64", "media_type": part.media_type or "image/png", "data": part.data}
    else:
        src = {"type": "url", "url": part.url or ""}
    block: dict[str, Any] = {"type": "image", "source": src}
    if part.cache is not None:
        block["cache_control"] = part.cache
    return block


# ---------------------------------------------------------------- signatures


def signed(part: ThinkingPart) -> bool:
    """Whether Anthropic signed this thinking (only such thinking can be replayed to it)."""
    return bool(part.signature) and part.signature_format in (FORMAT, None)


def client_signature(signature: str | None, fmt: str | None) -> str:
    """The signature to show an Anthropic client: ours as is, a foreign one tagged with its
    family so it is recognised (and routed only to that family) when it comes back; "" when
    there is none (the SDK requires the field)."""
    if not signature:
        return ""
    return signature if fmt in (FORMAT, None) else tag_signature(signature, fmt)
