"""Kiro / AWS CodeWhisperer ``generateAssistantResponse`` ↔ IR (streams: :mod:`.kiro_stream`).

Request shape, as sent by the Kiro agent and rebuilt by open-source gateways (hank9999/kiro.rs
``src/kiro/model/requests/{conversation,tool}.rs``, jwadow/kiro-gateway)::

    {"conversationState": {
        "conversationId", "chatTriggerType": "MANUAL", "agentTaskType"?, "agentContinuationId"?,
        "currentMessage": {"userInputMessage": {
            "content", "modelId", "origin": "AI_EDITOR",
            "images"?: [{"format": "png", "source": {"bytes": "<b64>"}}],
            "userInputMessageContext": {
                "tools": [{"toolSpecification": {"name", "description", "inputSchema": {"json"}}}],
                "toolResults": [{"toolUseId", "content": [{"text"} | {"json"}], "status"}]}}},
        "history": [{"userInputMessage": {...same, no tools...}}
                    | {"assistantResponseMessage": {"content", "toolUses"?: [{"toolUseId",
                       "name", "input": {...}}], "reasoningContent"?: {"reasoningText":
                       {"text", "signature"}} | {"redactedContent"}}}]},
     "profileArn"?}

The response is always an event stream; ``response_to_ir`` / ``response_from_ir`` use the
Framer's event dicts as the body: ``{"events": [{"message_type", "event", "data"}, ...]}``
(:func:`response_bytes` gives the raw stream).

Deliberate choices:
* Kiro has no system prompt field: it is prepended to the first user turn (what the Kiro
  agent itself and the gateways do). Coming back it stays user text.
* Kiro has no sampling fields: temperature / top_p / top_k / max_tokens / seed / penalties
  are tuning hints its service fixes itself; they are dropped on purpose. Things that change
  the answer's shape (stop sequences, JSON output, forced tool choice, n > 1) raise.
* Thinking replayed to Kiro needs a signature; unsigned thinking from another model (and
  signatures of other families, which Kiro cannot verify) is left out of history.
* ``conversationId``, ``profileArn`` and the other envelope fields are metadata for
  Kiro→Kiro only; otherwise the conversation id is derived from the first user turn, so it
  stays the same across the turns of one conversation.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from .base import (
    ResponseAccumulator,
    check_passthrough,
    inline_image,
    parse_arguments,
    same_format_metadata,
    untag_signature,
)
from .errors import TranslationError
from .ir import (
    BlockStop,
    ImagePart,
    IREvent,
    IRRequest,
    IRResponse,
    Message,
    MessageStart,
    Part,
    RedactedThinkingBlock,
    RedactedThinkingPart,
    TextDelta,
    TextPart,
    ThinkingDelta,
    ThinkingPart,
    Tool,
    ToolCallDelta,
    ToolCallPart,
    ToolCallStart,
    ToolResultPart,
    UsageEvent,
    UsagePartial,
)
from .kiro_stream import _OWN_SIGNATURES, END_EVENT, Framer, StreamDecoder, StreamEncoder

__all__ = [
    "Framer",
    "StreamDecoder",
    "StreamEncoder",
    "request_from_ir",
    "request_to_ir",
    "response_bytes",
    "response_from_ir",
    "response_to_ir",
]

FORMAT = "kiro"
_STATE_META = ("conversationId", "chatTriggerType", "agentTaskType", "agentContinuationId")
_HANDLED_STATE = {"currentMessage", "history", *_STATE_META}


# ---------------------------------------------------------------- requests


def request_to_ir(body: dict[str, Any]) -> IRRequest:
    state = body.get("conversationState") or {}
    current = (state.get("currentMessage") or {}).get("userInputMessage")
    if current is None:
        raise TranslationError("conversationState.currentMessage", "missing userInputMessage")
    ir = IRRequest(model=current.get("modelId", ""), stream=True)
    for i, entry in enumerate(state.get("history") or []):
        where = f"conversationState.history[{i}]"
        if "userInputMessage" in entry:
            ir.messages.append(_user_to_ir(entry["userInputMessage"], where + ".userInputMessage"))
        elif "assistantResponseMessage" in entry:
            ir.messages.append(_assistant_to_ir(entry["assistantResponseMessage"]))
        else:
            raise TranslationError(where, "neither userInputMessage nor assistantResponseMessage")
    ir.messages.append(_user_to_ir(current, "conversationState.currentMessage.userInputMessage"))
    ctx = current.get("userInputMessageContext") or {}
    for spec in ctx.get("tools") or []:
        ts = spec.get("toolSpecification") or {}
        schema = (ts.get("inputSchema") or {}).get("json") or {"type": "object", "properties": {}}
        ir.tools.append(Tool(ts.get("name", ""), ts.get("description") or None, schema))
    meta = {k: state[k] for k in _STATE_META if k in state}
    if "profileArn" in body:
        meta["profileArn"] = body["profileArn"]
    if "origin" in current:
        meta["origin"] = current["origin"]
    # envState / editorState …: the IDE's context for Kiro's own service, not conversation.
    ctx_extra = {k: v for k, v in ctx.items() if k not in ("tools", "toolResults")}
    if ctx_extra:
        meta["userInputMessageContext"] = ctx_extra
    ir.metadata, ir.metadata_format = meta, FORMAT
    extra = {k: v for k, v in body.items() if k not in ("conversationState", "profileArn")}
    extra.update({k: v for k, v in state.items() if k not in _HANDLED_STATE})
    if extra:
        ir.passthrough, ir.passthrough_format = extra, FORMAT
    return ir


def _user_to_ir(msg: dict[str, Any], where: str) -> Message:
    parts: list[Part] = []
    ctx = msg.get("userInputMessageContext") or {}
    for r in ctx.get("toolResults") or []:
        content: list[TextPart | ImagePart] = []
        for item in r.get("content") or []:
            if "text" in item:
                content.append(TextPart(item["text"]))
            elif "json" in item:
                content.append(
                    TextPart(json.dumps(item["json"], ensure_ascii=False, separators=(",", ":")))
                )
        parts.append(
            ToolResultPart(r.get("toolUseId", ""), content, is_error=r.get("status") == "error")
        )
    if msg.get("content"):
        parts.append(TextPart(msg["content"]))
    for img in msg.get("images") or []:
        fmt = img.get("format", "png")
        parts.append(
            ImagePart(data=(img.get("source") or {}).get("bytes", ""), media_type=f"image/{fmt}")
        )
    if not parts:
        parts.append(TextPart(""))
    return Message("user", parts)


def _assistant_to_ir(msg: dict[str, Any]) -> Message:
    parts: list[Part] = []
    rc = msg.get("reasoningContent") or {}
    if "reasoningText" in rc:
        rt = rc["reasoningText"]
        parts.append(ThinkingPart(rt.get("text", ""), rt.get("signature"), FORMAT))
    elif "redactedContent" in rc:
        parts.append(RedactedThinkingPart(rc["redactedContent"]))
    if msg.get("content"):
        parts.append(TextPart(msg["content"]))
    for use in msg.get("toolUses") or []:
        args = use.get("input")
        arguments = (
            args
            if isinstance(args, str)
            else json.dumps(args or {}, ensure_ascii=False, separators=(",", ":"))
        )
        parts.append(ToolCallPart(use.get("toolUseId", ""), use.get("name", ""), arguments))
    return Message("assistant", parts)


def request_from_ir(ir: IRRequest) -> dict[str, Any]:
    _check_expressible(ir)
    passthrough = dict(check_passthrough(ir, FORMAT))
    turns = _merged(ir.messages)
    if not turns or turns[-1].role != "user":
        raise TranslationError("messages", "Kiro needs the conversation to end with a user turn")
    if turns[0].role != "user":
        raise TranslationError("messages[0]", "Kiro conversations start with a user turn")
    system = "\n\n".join(p.text for p in ir.system if p.text)
    history: list[dict[str, Any]] = []
    for i, msg in enumerate(turns):
        where = f"messages[{i}]"
        if msg.role == "assistant":
            history.append({"assistantResponseMessage": _assistant_from_ir(msg)})
            continue
        user = _user_from_ir(msg, ir.model, where)
        if i == 0 and system:
            user["content"] = f"{system}\n\n{user['content']}" if user["content"] else system
        history.append({"userInputMessage": user})
    current = history.pop()["userInputMessage"]
    meta = same_format_metadata(ir, FORMAT)
    origin = meta.get("origin", "AI_EDITOR")
    for user in [current, *(h["userInputMessage"] for h in history if "userInputMessage" in h)]:
        user["origin"] = origin
    if "userInputMessageContext" in meta:
        current["userInputMessageContext"] = {
            **meta["userInputMessageContext"],
            **current.get("userInputMessageContext", {}),
        }
    if ir.tools:
        current.setdefault("userInputMessageContext", {})["tools"] = [
            {
                "toolSpecification": {
                    "name": t.name,
                    "description": t.description or "",
                    "inputSchema": {"json": t.parameters},
                }
            }
            for t in ir.tools
        ]
    state: dict[str, Any] = {
        "chatTriggerType": meta.get("chatTriggerType", "MANUAL"),
        "conversationId": meta.get("conversationId") or _conversation_id(ir, turns),
        "currentMessage": {"userInputMessage": current},
    }
    state.update({k: meta[k] for k in ("agentTaskType", "agentContinuationId") if k in meta})
    if history:
        state["history"] = history
    body: dict[str, Any] = {"conversationState": state}
    if "profileArn" in meta:
        body["profileArn"] = meta["profileArn"]
    for key, value in passthrough.items():
        (body if key == "additionalModelRequestFields" else state)[key] = value
    return body


def _check_expressible(ir: IRRequest) -> None:
    if ir.sampling.stop:
        raise TranslationError("stop", "Kiro has no stop sequences")
    if ir.sampling.n not in (None, 1):
        raise TranslationError("n", "Kiro returns one answer per request")
    if ir.response_format is not None and ir.response_format.type != "text":
        raise TranslationError("response_format", "Kiro has no JSON / structured output mode")
    if ir.tool_choice is not None and ir.tool_choice.mode != "auto":
        raise TranslationError("tool_choice", "Kiro always lets the model choose (auto)")


def _merged(messages: list[Message]) -> list[Message]:
    """Kiro history strictly alternates user/assistant: merge consecutive same-role turns."""
    out: list[Message] = []
    for msg in messages:
        if out and out[-1].role == msg.role:
            out[-1] = Message(msg.role, out[-1].content + msg.content)
        else:
            out.append(Message(msg.role, list(msg.content)))
    return out


def _conversation_id(ir: IRRequest, turns: list[Message]) -> str:
    first = "".join(p.text for p in turns[0].content if isinstance(p, TextPart))
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"omniroute:kiro:{first}"))


def _image_from_ir(part: ImagePart, where: str) -> dict[str, Any]:
    fmt, data = inline_image(part, where, "Kiro")
    return {"format": fmt, "source": {"bytes": data}}


def _user_from_ir(msg: Message, model: str, where: str) -> dict[str, Any]:
    texts: list[str] = []
    images: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    for i, part in enumerate(msg.content):
        here = f"{where}.content[{i}]"
        if isinstance(part, TextPart):
            texts.append(part.text)
        elif isinstance(part, ImagePart):
            images.append(_image_from_ir(part, here))
        elif isinstance(part, ToolResultPart):
            for j, sub in enumerate(part.content):
                if isinstance(sub, ImagePart):
                    raise TranslationError(
                        f"{here}.content[{j}]", "Kiro tool results are text only"
                    )
            results.append(
                {
                    "toolUseId": part.tool_call_id,
                    "content": [{"text": p.text} for p in part.content if isinstance(p, TextPart)],
                    "status": "error" if part.is_error else "success",
                }
            )
        else:
            raise TranslationError(here, f"{type(part).__name__} cannot appear in a user turn")
    user: dict[str, Any] = {"content": "\n\n".join(t for t in texts if t), "modelId": model}
    if images:
        user["images"] = images
    if results:
        user["userInputMessageContext"] = {"toolResults": results}
    return user


def _assistant_from_ir(msg: Message) -> dict[str, Any]:
    texts: list[str] = []
    uses: list[dict[str, Any]] = []
    reasoning: dict[str, Any] | None = None
    for part in msg.content:
        if isinstance(part, TextPart):
            texts.append(part.text)
        elif isinstance(part, ToolCallPart):
            uses.append(
                {"toolUseId": part.id, "name": part.name, "input": parse_arguments(part.arguments)}
            )
        elif isinstance(part, ThinkingPart) and part.signature and reasoning is None:
            sig, family = untag_signature(part.signature, part.signature_format or FORMAT)
            if family in _OWN_SIGNATURES:
                reasoning = {"reasoningText": {"text": part.text, "signature": sig}}
        elif isinstance(part, RedactedThinkingPart) and reasoning is None:
            reasoning = {"redactedContent": part.data}
    out: dict[str, Any] = {"content": "".join(texts)}
    if uses:
        out["toolUses"] = uses
    if reasoning is not None:
        out["reasoningContent"] = reasoning
    return out


# ---------------------------------------------------------------- responses


def response_to_ir(body: dict[str, Any]) -> IRResponse:
    decoder, acc = StreamDecoder(), ResponseAccumulator()
    events = list(body.get("events") or [])
    if not events or events[-1].get("message_type") != "end":
        events.append(dict(END_EVENT))
    for event in events:
        for ev in decoder.feed(event):
            acc.feed(ev)
    if acc.error is not None:
        raise TranslationError("events", acc.error.message)
    return acc.result()


def response_from_ir(ir: IRResponse) -> dict[str, Any]:
    framer = Framer()
    events = framer.feed(response_bytes(ir))
    return {"events": events}


def response_bytes(ir: IRResponse) -> bytes:
    """The complete event-stream body Kiro would have sent for ``ir``.

    Kiro streams have no finish reason: a LENGTH / CONTENT_FILTER stop is not expressible and
    reads back as a normal end of turn."""
    enc = StreamEncoder(ir.model)
    u = ir.usage
    events: list[IREvent] = [MessageStart(ir.id, ir.model)]
    for i, part in enumerate(ir.content):
        if isinstance(part, TextPart):
            events.append(TextDelta(i, part.text))
        elif isinstance(part, ThinkingPart):
            events.append(ThinkingDelta(i, part.text, part.signature, part.signature_format))
        elif isinstance(part, RedactedThinkingPart):
            events.append(RedactedThinkingBlock(i, part.data))
        elif isinstance(part, ToolCallPart):
            events += [ToolCallStart(i, part.id, part.name), ToolCallDelta(i, part.arguments)]
        else:
            raise TranslationError(f"content[{i}]", f"Kiro cannot return {type(part).__name__}")
        events.append(BlockStop(i))
    usage = UsagePartial(
        u.input_tokens, u.output_tokens, u.cached_input_tokens, u.cache_creation_tokens
    )
    events.append(UsageEvent(usage))
    out = [b for ev in events for b in enc.feed(ev)]
    return b"".join(out + enc.finish())
