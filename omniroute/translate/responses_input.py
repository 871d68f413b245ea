"""OpenAI Responses request ``input`` items ↔ IR messages.

Items are flat (a message, a function call, its output, a reasoning item each stand alone);
IR messages group a turn's parts. Apart from openai_responses (the request's other fields and
the reply) because this grouping and its reverse are a rule set of their own.
"""

from __future__ import annotations

from typing import Any

from . import responses_custom as custom
from . import responses_extras as extras
from .base import image_to_url
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
from .responses_wire import FORMAT, content_to_ir, reasoning_to_ir

_ROLES = ("user", "assistant", "system", "developer")


def input_to_ir(ir: IRRequest, inp: Any) -> None:
    """The request's ``input`` (a string or a list of items) appended to ``ir.messages``."""
    if isinstance(inp, str):
        ir.messages.append(Message("user", [TextPart(inp)]))
    else:
        for i, item in enumerate(inp or []):
            _item_to_ir(ir, item, f"input[{i}]")
    extras.drop_orphan_results(ir)


def _append(ir: IRRequest, role: str, part: Part) -> None:
    """Items are flat; consecutive items of one role form one IR message."""
    if ir.messages and ir.messages[-1].role == role and _joinable(ir.messages[-1], part):
        ir.messages[-1].content.append(part)
    else:
        ir.messages.append(Message(role, [part]))  # type: ignore[arg-type]


def _joinable(msg: Message, part: Part) -> bool:
    if msg.role == "assistant":
        return True
    # keep tool results and user text in separate user turns, as chat/anthropic clients do
    return isinstance(part, ToolResultPart) == all(isinstance(p, ToolResultPart) for p in msg.content)


def _item_to_ir(ir: IRRequest, item: dict[str, Any], where: str) -> None:
    kind = item.get("type", "message")
    if kind == "message":
        _message_to_ir(ir, item.get("role", "user"), content_to_ir(item.get("content"), where), where)
    elif kind == "function_call":
        name = extras.flat_name(item.get("name", ""), item.get("namespace"))
        _append(ir, "assistant", ToolCallPart(item.get("call_id", ""), name, item.get("arguments") or "{}"))
    elif kind == "custom_tool_call":
        name = extras.flat_name(item.get("name", ""), item.get("namespace"))
        _append(ir, "assistant", custom.call_to_ir({**item, "name": name}))
    elif kind in ("function_call_output", "custom_tool_call_output"):
        out = item.get("output")
        content = [TextPart(out)] if isinstance(out, str) else content_to_ir(out, where)
        _append(ir, "user", ToolResultPart(item.get("call_id", ""), content))  # type: ignore[arg-type]
    elif kind == "reasoning":
        _append(ir, "assistant", reasoning_to_ir(item))
    elif kind != "additional_tools" and item.get("role") in _ROLES and "content" in item:
        _message_to_ir(ir, item["role"], content_to_ir(item["content"], where), where)  # extras rule 2
    # any other item: extras rule 3 (additional_tools' tools are read with the others)


def _message_to_ir(ir: IRRequest, role: str, parts: list[Part], where: str) -> None:
    if role in ("system", "developer"):
        ir.system.extend(p for p in parts if isinstance(p, TextPart))
    elif role == "assistant":
        for part in parts:  # reasoning, text and calls of one turn form one IR message
            _append(ir, "assistant", part)
    elif role == "user":
        ir.messages.append(Message("user", parts))
    else:
        raise TranslationError(f"{where}.role", f"unsupported role {role!r}")



def input_from_ir(messages: list[Message]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    custom_calls = {p.id for m in messages for p in m.content if isinstance(p, ToolCallPart) and p.custom}
    for msg in messages:
        pending: list[dict[str, Any]] = []  # content of the current message item

        def flush() -> None:
            if pending:
                items.append({"type": "message", "role": msg.role, "content": list(pending)})
                pending.clear()

        for part in msg.content:
            if isinstance(part, TextPart):
                kind = "output_text" if msg.role == "assistant" else "input_text"
                pending.append({"type": kind, "text": part.text})
            elif isinstance(part, ImagePart):
                if msg.role == "assistant":
                    raise TranslationError("messages.content", "images in assistant turns")
                pending.append(_image(part))
            elif isinstance(part, ToolCallPart) and part.custom:
                flush()
                items.append(custom.call_from_ir(part))
            elif isinstance(part, ToolCallPart):
                flush()
                items.append({"type": "function_call", "call_id": part.id, "name": part.name,
                              "arguments": part.arguments})  # fmt: skip
            elif isinstance(part, ToolResultPart):
                flush()
                kind = "custom_tool_call_output" if part.tool_call_id in custom_calls else "function_call_output"
                items.append({"type": kind, "call_id": part.tool_call_id,
                              "output": _result_output(part)})  # fmt: skip
            elif isinstance(part, ThinkingPart) and part.signature_format == FORMAT and (part.signature or part.id):
                flush()
                item: dict[str, Any] = {"type": "reasoning",
                                        "summary": [{"type": "summary_text", "text": part.text}] if part.text else []}  # fmt: skip
                if part.signature:
                    item["encrypted_content"] = part.signature
                if part.id:
                    item["id"] = part.id
                items.append(item)
            # other thinking: not replayable to OpenAI (see module docstring)
        flush()
    return items


def _image(part: ImagePart) -> dict[str, Any]:
    return {"type": "input_image", "image_url": image_to_url(part), "detail": part.detail or "auto"}


def _result_output(part: ToolResultPart) -> Any:
    text = "".join(p.text for p in part.content if isinstance(p, TextPart))
    if part.is_error:
        text = f"Error: {text}"  # Responses has no is_error flag; tell the model
    if not any(isinstance(p, ImagePart) for p in part.content):
        return text
    out: list[dict[str, Any]] = [{"type": "input_text", "text": text}] if text else []
    return out + [_image(p) for p in part.content if isinstance(p, ImagePart)]

