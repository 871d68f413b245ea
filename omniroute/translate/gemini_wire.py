"""Gemini wire pieces shared by the request/response converters and the stream classes.

Shapes follow the public ``v1beta`` REST reference as mirrored by the google-genai SDK's
pydantic types (``google.genai.types``: ``Part``, ``FunctionCall``, ``Candidate``,
``GenerateContentResponseUsageMetadata``, ``FinishReason``); the SDK forbids unknown fields,
so everything emitted here is a field those types know.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from typing import Any

from .base import dump_arguments, parse_arguments, tag_signature, untag_signature
from .errors import TranslationError
from .ir import (
    FinishReason,
    ImagePart,
    Part,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
    Usage,
    UsagePartial,
)

# Finish reasons: Gemini says STOP even when the turn ended in function calls, so callers
# upgrade STOP to TOOL_CALLS when the candidate holds a functionCall.
_FINISH_TO_IR: dict[str, FinishReason] = {
    "STOP": FinishReason.STOP,
    "MAX_TOKENS": FinishReason.LENGTH,
    "SAFETY": FinishReason.CONTENT_FILTER,
    "RECITATION": FinishReason.CONTENT_FILTER,
    "BLOCKLIST": FinishReason.CONTENT_FILTER,
    "PROHIBITED_CONTENT": FinishReason.CONTENT_FILTER,
    "SPII": FinishReason.CONTENT_FILTER,
    "IMAGE_SAFETY": FinishReason.CONTENT_FILTER,
    "IMAGE_PROHIBITED_CONTENT": FinishReason.CONTENT_FILTER,
    "MALFORMED_FUNCTION_CALL": FinishReason.ERROR,
    "UNEXPECTED_TOOL_CALL": FinishReason.ERROR,
}
_FINISH_FROM_IR: dict[FinishReason, str] = {
    FinishReason.STOP: "STOP",
    FinishReason.LENGTH: "MAX_TOKENS",
    FinishReason.TOOL_CALLS: "STOP",
    FinishReason.CONTENT_FILTER: "SAFETY",
    FinishReason.ERROR: "OTHER",
}


# Gemini and Cloud Code share one signature family (same models behind both).
SIGNATURE_FORMAT = "gemini"
_OWN_SIGNATURES = (None, "gemini", "gemini-cloudcode")


def signature_to_client(sig: str, family: str | None) -> str:
    """thoughtSignature for a Gemini *client*. Another family's signature (Claude behind
    Kiro or Anthropic) must come back on the next turn, but the field is base64 bytes (the
    SDK validates it), so the family-tagged string is base64-wrapped; our own go out as is."""
    if family in _OWN_SIGNATURES:
        return sig
    return base64.b64encode(tag_signature(sig, family or "").encode()).decode()


def signature_from_client(value: str) -> tuple[str, str]:
    """``(signature, family)`` of a thoughtSignature a client sent (see signature_to_client)."""
    try:
        raw = base64.b64decode(value, validate=True)
    except ValueError:
        raw = b""
    if raw.startswith(b"omr1:"):
        return untag_signature(raw.decode("utf-8", "replace"), SIGNATURE_FORMAT)
    return untag_signature(value, SIGNATURE_FORMAT)


def own_signature(sig: str | None, family: str | None, to_client: bool) -> str | None:
    """The thoughtSignature to emit: towards a client anything (wrapped if foreign), towards
    the Gemini API only Gemini's own — it cannot verify another family's."""
    if not sig:
        return None
    sig, family = untag_signature(sig, family or SIGNATURE_FORMAT)
    if to_client:
        return signature_to_client(sig, family)
    return sig if family in _OWN_SIGNATURES else None


def finish_to_ir(reason: str | None, has_tool_calls: bool) -> FinishReason:
    ir = _FINISH_TO_IR.get(reason or "STOP", FinishReason.STOP)
    if ir is FinishReason.STOP and has_tool_calls:
        return FinishReason.TOOL_CALLS
    return ir


def finish_from_ir(reason: FinishReason) -> str:
    return _FINISH_FROM_IR.get(reason, "STOP")


def usage_partial(meta: dict[str, Any] | None) -> UsagePartial | None:
    """usageMetadata → cumulative IR usage.

    ``promptTokenCount`` already includes ``cachedContentTokenCount`` (IR semantics), but
    ``candidatesTokenCount`` excludes ``thoughtsTokenCount`` while IR output includes
    reasoning, so output = candidates + thoughts. Tool-use prompt tokens are prompt tokens.
    """
    if not meta:
        return None
    prompt = meta.get("promptTokenCount")
    tool_prompt = meta.get("toolUsePromptTokenCount")
    cand = meta.get("candidatesTokenCount")
    thoughts = meta.get("thoughtsTokenCount")
    out = UsagePartial()
    if prompt is not None or tool_prompt is not None:
        out.input_tokens = (prompt or 0) + (tool_prompt or 0)
    if cand is not None or thoughts is not None:
        out.output_tokens = (cand or 0) + (thoughts or 0)
    if thoughts is not None:
        out.reasoning_tokens = thoughts
    if meta.get("cachedContentTokenCount") is not None:
        out.cached_input_tokens = meta["cachedContentTokenCount"]
    return out


def usage_to_ir(meta: dict[str, Any] | None) -> Usage:
    usage = Usage()
    partial = usage_partial(meta)
    if partial is not None:
        partial.merge_into(usage)
    return usage


def usage_from_ir(usage: Usage) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "promptTokenCount": usage.input_tokens,
        "candidatesTokenCount": max(usage.output_tokens - usage.reasoning_tokens, 0),
        "totalTokenCount": usage.input_tokens + usage.output_tokens,
    }
    if usage.reasoning_tokens:
        meta["thoughtsTokenCount"] = usage.reasoning_tokens
    if usage.cached_input_tokens:
        meta["cachedContentTokenCount"] = usage.cached_input_tokens
    return meta


def response_call_id(seed: str, k: int) -> str:
    """Id for a functionCall that came without one (the public API usually omits ids).

    Derived from the response id (or content) and the call's position so the same response
    always yields the same ids, and two responses do not collide (Anthropic rejects duplicate
    tool_use ids across a conversation).
    """
    digest = hashlib.sha256(f"{seed}:{k}".encode()).hexdigest()[:16]
    return f"call_{digest}"


def request_call_id(content_index: int, k: int) -> str:
    """Id for an id-less functionCall in request history: position based, so a growing
    history (same prefix every turn) maps every call to the same id on every turn."""
    return f"call_{content_index}_{k}"


def image_to_ir(part: dict[str, Any], where: str) -> ImagePart:
    if "inlineData" in part:
        blob = part["inlineData"]
        mime = blob.get("mimeType", "")
        if not mime.startswith("image/"):
            # The IR has image parts only; a PDF or audio blob would be mislabelled downstream.
            raise TranslationError(
                f"{where}.inlineData", f"{mime or 'untyped'} data is not supported"
            )
        return ImagePart(data=blob.get("data", ""), media_type=mime)
    ref = part["fileData"]
    mime = ref.get("mimeType") or None
    if mime and not mime.startswith("image/"):
        raise TranslationError(f"{where}.fileData", f"{mime} files are not supported")
    return ImagePart(url=ref.get("fileUri", ""), media_type=mime)


def image_from_ir(part: ImagePart) -> dict[str, Any]:
    if part.data is not None:
        return {"inlineData": {"mimeType": part.media_type or "image/png", "data": part.data}}
    url = part.url or ""
    if url.startswith("data:"):
        head, _, data = url.partition(",")
        mime = head[5:].split(";")[0] or "image/png"
        return {"inlineData": {"mimeType": mime, "data": data}}
    return {"fileData": {"mimeType": part.media_type or _guess_mime(url), "fileUri": url}}


def _guess_mime(url: str) -> str:
    path = url.split("?")[0].lower()
    for ext, mime in ((".png", "image/png"), (".gif", "image/gif"), (".webp", "image/webp")):
        if path.endswith(ext):
            return mime
    return "image/jpeg"


def function_call_to_ir(call: dict[str, Any], fallback_id: str) -> ToolCallPart:
    return ToolCallPart(
        id=call.get("id") or fallback_id,
        name=call.get("name", ""),
        arguments=dump_arguments(call.get("args") or {}),
    )


def function_call_from_ir(part: ToolCallPart) -> dict[str, Any]:
    return {
        "functionCall": {"id": part.id, "name": part.name, "args": parse_arguments(part.arguments)}
    }


def function_response_to_ir(resp: dict[str, Any], call_id: str, where: str) -> ToolResultPart:
    """functionResponse → tool result. ``{"output": s}`` / ``{"error": s}`` is the convention
    gemini-cli and the SDK's automatic function calling use; other objects stay JSON."""
    body = resp.get("response") or {}
    is_error = False
    if set(body) == {"output"} and isinstance(body["output"], str):
        text = body["output"]
    elif set(body) == {"error"} and isinstance(body["error"], str):
        text, is_error = body["error"], True
    else:
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    content: list[TextPart | ImagePart] = [TextPart(text)] if text else []
    for i, sub in enumerate(resp.get("parts") or []):
        content.append(image_to_ir(sub, f"{where}.functionResponse.parts[{i}]"))
    return ToolResultPart(
        tool_call_id=call_id, content=content, is_error=is_error, name=resp.get("name")
    )


def function_response_from_ir(part: ToolResultPart, where: str) -> dict[str, Any]:
    if not part.name:
        raise TranslationError(f"{where}.name", "Gemini needs the function name of a tool result")
    text = "".join(p.text for p in part.content if isinstance(p, TextPart))
    resp: dict[str, Any] = {
        "id": part.tool_call_id,
        "name": part.name,
        "response": {"error" if part.is_error else "output": text},
    }
    images = [image_from_ir(p) for p in part.content if isinstance(p, ImagePart)]
    if images:
        resp["parts"] = images  # multimodal function responses (FunctionResponse.parts)
    return {"functionResponse": resp}


def parts_to_ir(
    parts: list[dict[str, Any]],
    where: str,
    call_id: Callable[[int, dict[str, Any]], str],
    result_id: Callable[[dict[str, Any]], str] | None = None,
) -> list[Part]:
    """Gemini parts of one model/user turn → IR parts.

    ``call_id(k, call)`` supplies ids for id-less function calls, ``result_id(resp)`` for
    id-less function responses (only requests carry those). A ``thoughtSignature`` on a
    non-thought part (Gemini 2.5/3 attach it to the first functionCall or the last text part)
    becomes a signature-only ``ThinkingPart`` right before that part, so it survives any
    format that keeps thinking blocks and is re-attached on the way back.
    """
    out: list[Part] = []
    calls = 0
    for i, part in enumerate(parts):
        here = f"{where}.parts[{i}]"
        sig, family = part.get("thoughtSignature"), None
        if sig:
            sig, family = signature_from_client(sig)
        if part.get("thought"):
            prev = out[-1] if out else None
            if isinstance(prev, ThinkingPart) and prev.signature is None and prev.text:
                # Streamed thought chunks kept as separate parts by the client: one block,
                # signed by the signature on its last chunk.
                prev.text += part.get("text", "")
                prev.signature, prev.signature_format = sig, family
            else:
                out.append(ThinkingPart(part.get("text", ""), sig, family))
            continue
        if sig:
            out.append(ThinkingPart("", sig, family))
        if "text" in part:
            if part["text"]:
                out.append(TextPart(part["text"]))
        elif "functionCall" in part:
            out.append(
                function_call_to_ir(part["functionCall"], call_id(calls, part["functionCall"]))
            )
            calls += 1
        elif "inlineData" in part or "fileData" in part:
            out.append(image_to_ir(part, here))
        elif "functionResponse" in part and result_id is not None:
            resp = part["functionResponse"]
            out.append(function_response_to_ir(resp, resp.get("id") or result_id(resp), here))
        else:
            kinds = ",".join(sorted(k for k in part if k != "thoughtSignature")) or "empty part"
            raise TranslationError(here, f"unsupported Gemini part ({kinds})")
    return out


def parts_from_ir(parts: list[Part], where: str, to_client: bool = False) -> list[dict[str, Any]]:
    """IR parts of one turn → Gemini parts; signature-only thinking re-attaches forward.

    ``to_client``: the parts go to a Gemini client (a response), not to the Gemini API."""
    out: list[dict[str, Any]] = []
    pending_sig: str | None = None
    for i, part in enumerate(parts):
        here = f"{where}.content[{i}]"
        item: dict[str, Any] | None
        if isinstance(part, ThinkingPart):
            sig = own_signature(part.signature, part.signature_format, to_client)
            if part.signature and sig is None:
                continue  # signed by another provider family: Gemini cannot verify it
            if not part.text and sig:
                pending_sig = sig
                continue
            item = {"text": part.text, "thought": True}
            if sig:
                item["thoughtSignature"] = sig
        elif isinstance(part, TextPart):
            item = {"text": part.text}
        elif isinstance(part, ImagePart):
            item = image_from_ir(part)
        elif isinstance(part, ToolCallPart):
            item = function_call_from_ir(part)
        elif isinstance(part, ToolResultPart):
            item = function_response_from_ir(part, here)
        else:
            # RedactedThinkingPart: an encrypted blob only its issuing provider can read;
            # Gemini has no slot for it, so it is left out on purpose.
            item = None
        if item is None:
            continue
        if pending_sig is not None:
            item["thoughtSignature"] = pending_sig
            pending_sig = None
        out.append(item)
    if pending_sig is not None:
        out.append({"text": "", "thoughtSignature": pending_sig})
    return out
