"""Anthropic Messages wire format for the mock provider (JSON, SSE, count_tokens, models)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from typing import Any

from tests.support.mock_formats import (
    JSON,
    Conversation,
    Event,
    Ids,
    ReplyPlan,
    Structured,
    content_texts,
    finish_plan,
    has_tool_result,
    pieces,
    user_turn,
)


def _wants_thinking(body: JSON) -> bool:
    thinking = body.get("thinking")
    return isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive")


def plan_anthropic(body: JSON, model: str) -> ReplyPlan:
    conv = Conversation()
    conv.texts.extend(content_texts(body.get("system")))
    for msg in body.get("messages") or []:
        if not isinstance(msg, dict):
            continue
        content = msg.get("content")
        conv.texts.extend(content_texts(content))
        if msg.get("role") == "user":
            user_turn(conv, content_texts(content, False), has_tool_result(content))
        else:
            conv.ends_with_user_text = False
    # Server tools (web_search, bash, ...) carry a versioned type; only client tools get called.
    tools = [t for t in body.get("tools") or []
             if isinstance(t, dict) and t.get("type") in (None, "custom") and isinstance(t.get("name"), str)]
    tool = tools[0]["name"] if tools else None
    return finish_plan(conv, model, tool, thinking=_wants_thinking(body),
                       structured=_structured(body, tools))


def _structured(body: JSON, tools: list[JSON]) -> Structured | None:
    """A forced ``tool_choice`` (``tool`` or ``any``), or structured outputs' JSON schema."""
    choice = body.get("tool_choice") if isinstance(body.get("tool_choice"), dict) else {}
    named = [t for t in tools if choice.get("type") == "any" or t["name"] == choice.get("name")]
    if choice.get("type") in ("tool", "any") and named:
        return Structured(named[0].get("input_schema"), named[0]["name"])
    config = body.get("output_config") if isinstance(body.get("output_config"), dict) else {}
    for fmt in (config.get("format"), body.get("output_format")):
        if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
            return Structured(fmt.get("schema"))
    return None


def anthropic_count_tokens(body: JSON) -> JSON:
    return {"input_tokens": plan_anthropic(body, "count").input_tokens}


def _signature(thinking: str) -> str:
    return base64.b64encode(hashlib.sha256(thinking.encode()).digest()).decode()


def _anthropic_usage(plan: ReplyPlan, output_tokens: int) -> JSON:
    return {"input_tokens": plan.input_tokens, "output_tokens": output_tokens,
            "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
            "service_tier": "standard"}


def anthropic_message(plan: ReplyPlan, ids: Ids) -> JSON:
    content: list[JSON] = []
    if plan.thinking:
        content.append({"type": "thinking", "thinking": plan.thinking,
                        "signature": _signature(plan.thinking)})
    if plan.tool_name:
        content.append({"type": "tool_use", "id": ids.next("toolu_mock"),
                        "name": plan.tool_name, "input": plan.tool_args})
    else:
        content.append({"type": "text", "text": plan.text})
    return {"id": ids.next("msg_mock"), "type": "message", "role": "assistant",
            "model": plan.model, "content": content,
            "stop_reason": "tool_use" if plan.tool_name else "end_turn",
            "stop_sequence": None, "usage": _anthropic_usage(plan, plan.output_tokens)}


def anthropic_stream(plan: ReplyPlan, ids: Ids) -> list[Event]:
    def ev(kind: str, **fields: Any) -> Event:
        return Event({"type": kind, **fields}, name=kind)

    message = {"id": ids.next("msg_mock"), "type": "message", "role": "assistant",
               "model": plan.model, "content": [], "stop_reason": None, "stop_sequence": None,
               "usage": _anthropic_usage(plan, 1)}
    out = [ev("message_start", message=message)]
    index = 0

    def block(start: JSON, deltas: list[JSON]) -> None:
        nonlocal index
        out.append(ev("content_block_start", index=index, content_block=start))
        if index == 0:
            out.append(ev("ping"))  # the real API pings right after the first block opens
        out.extend(ev("content_block_delta", index=index, delta=d) for d in deltas)
        out.append(ev("content_block_stop", index=index))
        index += 1

    if plan.thinking:
        block({"type": "thinking", "thinking": "", "signature": ""},
              [{"type": "thinking_delta", "thinking": p} for p in pieces(plan.thinking)]
              + [{"type": "signature_delta", "signature": _signature(plan.thinking)}])
    if plan.tool_name:
        block({"type": "tool_use", "id": ids.next("toolu_mock"), "name": plan.tool_name,
               "input": {}},
              [{"type": "input_json_delta", "partial_json": p}
               for p in pieces(plan.tool_args_json)])
    else:
        block({"type": "text", "text": ""},
              [{"type": "text_delta", "text": p} for p in pieces(plan.text)])
    out.append(ev("message_delta",
                  delta={"stop_reason": "tool_use" if plan.tool_name else "end_turn",
                         "stop_sequence": None},
                  usage=_anthropic_usage(plan, plan.output_tokens)))
    out.append(ev("message_stop"))
    return out



def anthropic_models(models: Sequence[str]) -> JSON:
    data = [{"type": "model", "id": m, "display_name": m,
             "created_at": "2024-01-01T00:00:00Z"} for m in models]
    return {"data": data, "has_more": False, "first_id": models[0] if models else None,
            "last_id": models[-1] if models else None}
