"""OpenAI Responses wire pieces shared by the request/response converters and the stream
classes: reasoning items and content parts → IR parts, IR parts → output items, usage and
status. One home for them, so the converters and the streams do not import each other.
Shapes follow the openai SDK's ``types.responses`` (``ResponseOutputItem``,
``ResponseReasoningItem``, ``ResponseUsage``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import responses_extras as extras
from .base import image_from_url, tag_signature, untag_signature
from .errors import TranslationError
from .ir import (
    FinishReason,
    Part,
    RedactedThinkingPart,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    Usage,
)
from .responses_custom import call_from_ir as custom_call_from_ir
from .responses_extras import ToolName, restore_call

FORMAT = "openai-responses"
REDACTED = "anthropic-redacted"  # tag for Anthropic redacted_thinking in encrypted_content


def usage_to_ir(u: dict[str, Any] | None) -> Usage:
    if not u:
        return Usage()
    details = u.get("input_tokens_details") or {}
    return Usage(
        input_tokens=u.get("input_tokens") or 0,
        output_tokens=u.get("output_tokens") or 0,
        cached_input_tokens=details.get("cached_tokens") or 0,
        cache_creation_tokens=details.get("cache_write_tokens") or 0,
        reasoning_tokens=(u.get("output_tokens_details") or {}).get("reasoning_tokens") or 0,
    )


def usage_from_ir(u: Usage) -> dict[str, Any]:
    return {
        "input_tokens": u.input_tokens,
        "input_tokens_details": {"cached_tokens": u.cached_input_tokens,
                                 "cache_write_tokens": u.cache_creation_tokens},  # fmt: skip
        "output_tokens": u.output_tokens,
        "output_tokens_details": {"reasoning_tokens": u.reasoning_tokens},
        "total_tokens": u.input_tokens + u.output_tokens,
    }


def response_status(reason: FinishReason) -> str:
    if reason in (FinishReason.LENGTH, FinishReason.CONTENT_FILTER):
        return "incomplete"
    return "failed" if reason == FinishReason.ERROR else "completed"


def incomplete_details(reason: FinishReason) -> dict[str, str] | None:
    if reason == FinishReason.LENGTH:
        return {"reason": "max_output_tokens"}
    if reason == FinishReason.CONTENT_FILTER:
        return {"reason": "content_filter"}
    return None


def output_from_ir(content: list[Part], rid: str, names: Mapping[str, ToolName] | None = None) -> list[dict[str, Any]]:
    """IR content parts → Responses output items (consecutive text joins one message item);
    ``names``: the client's namespaced and freeform tools by flat name (responses_extras)."""
    out: list[dict[str, Any]] = []
    base = rid.removeprefix("resp_")
    for n, part in enumerate(content):
        if isinstance(part, TextPart):
            if out and out[-1]["type"] == "message":
                out[-1]["content"].append({"type": "output_text", "text": part.text, "annotations": []})
                continue
            out.append({"type": "message", "id": f"msg_{base}_{n}", "status": "completed", "role": "assistant",
                        "content": [{"type": "output_text", "text": part.text, "annotations": []}]})  # fmt: skip
        elif isinstance(part, ToolCallPart) and part.custom:
            out.append({**custom_call_from_ir(part), "id": f"ctc_{base}_{n}", "status": "completed"})
        elif isinstance(part, ToolCallPart):
            out.append(restore_call({"type": "function_call", "id": f"fc_{base}_{n}", "call_id": part.id,
                                     "name": part.name, "arguments": part.arguments, "status": "completed"}, names))  # fmt: skip
        elif isinstance(part, ThinkingPart):
            item: dict[str, Any] = {"type": "reasoning", "id": part.id or f"rs_{base}_{n}",
                                    "summary": [{"type": "summary_text", "text": part.text}] if part.text else []}  # fmt: skip
            if part.signature:
                fmt = part.signature_format or FORMAT
                item["encrypted_content"] = part.signature if fmt == FORMAT else tag_signature(part.signature, fmt)
            out.append(item)
        elif isinstance(part, RedactedThinkingPart):
            out.append({"type": "reasoning", "id": f"rs_{base}_{n}", "summary": [],
                        "encrypted_content": tag_signature(part.data, REDACTED)})  # fmt: skip
    return out


def reasoning_to_ir(item: dict[str, Any]) -> Part:
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


def content_to_ir(content: Any, where: str) -> list[Part]:
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

