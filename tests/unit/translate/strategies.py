"""Hypothesis strategies for IR conversations and responses, plus the normal form used to
compare them after round trips. Reusable for every format: add a format to ``FORMATS`` (or
pass your own list) and the round-trip tests cover every pair.

Normal form (what every format must preserve): system text (parts joined by a blank line),
the sequence of turns with consecutive same-role turns merged (every API merges them), text
within a turn concatenated in order, images (url or media type + data), tool calls (id, name,
arguments as parsed JSON) and tool results (id, text) in order.
"""

from __future__ import annotations

import json
import string
from typing import Any

from hypothesis import strategies as st

from omniroute.translate.ir import (
    FinishReason,
    ImagePart,
    IRRequest,
    IRResponse,
    Message,
    Part,
    RedactedThinkingPart,
    Sampling,
    TextPart,
    ThinkingPart,
    Tool,
    ToolCallPart,
    ToolResultPart,
    Usage,
)

FORMATS = ["openai-chat", "anthropic", "openai-responses"]

# Non-empty, not whitespace-only (APIs reject blank text blocks; formats may drop them).
texts = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")) | st.sampled_from("\n\t"),
    min_size=1,
    max_size=40,
).filter(lambda s: s.strip() != "")
names = st.text(alphabet=string.ascii_letters + "_", min_size=1, max_size=12)
ids = st.builds(
    lambda prefix, body: prefix + body,
    st.sampled_from(["call_", "toolu_", "fc_x", ""]),
    st.text(alphabet=string.ascii_letters + string.digits, min_size=6, max_size=24),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-1000, 1000) | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(names, inner, max_size=3),
    max_leaves=6,
)
arguments = st.dictionaries(names, json_values, max_size=4).map(
    lambda d: json.dumps(d, ensure_ascii=False)
)
images = st.one_of(
    st.builds(lambda n: ImagePart(url=f"https://example.com/img{n}.png"), st.integers(0, 999)),
    st.builds(
        lambda mt, data: ImagePart(data=data, media_type=mt),
        st.sampled_from(["image/png", "image/jpeg", "image/gif", "image/webp"]),
        st.text(alphabet=string.ascii_letters + string.digits + "+/", min_size=4, max_size=32),
    ),
)


@st.composite
def conversations(draw: st.DrawFn, max_turns: int = 6) -> IRRequest:
    """A valid conversation: user first, alternating turns, every tool call answered by a
    tool result (same id) in the next user turn, unique call ids."""
    ir = IRRequest(model=draw(st.sampled_from(["gpt-4o", "claude-sonnet-4-5", "gpt-5"])))
    ir.system = [TextPart(t) for t in draw(st.lists(texts, max_size=2))]
    used_ids: set[str] = set()
    tool_names: set[str] = set()
    pending: list[ToolCallPart] = []
    for turn in range(draw(st.integers(1, max_turns))):
        if turn % 2 == 0:
            parts: list[Part] = [
                ToolResultPart(c.id, [TextPart(draw(texts))], name=c.name) for c in pending
            ]
            pending = []
            extra = draw(st.lists(texts.map(TextPart) | images, min_size=0 if parts else 1, max_size=3))
            if parts and extra:
                ir.messages.append(Message("user", parts))
                parts = []
            ir.messages.append(Message("user", parts + extra))
        else:
            parts = []
            if draw(st.booleans()):
                parts.append(TextPart(draw(texts)))
            for _ in range(draw(st.integers(0 if parts else 1, 3))):
                call_id = draw(ids.filter(lambda i: i not in used_ids))
                used_ids.add(call_id)
                name = draw(names)
                tool_names.add(name)
                call = ToolCallPart(call_id, name, draw(arguments))
                parts.append(call)
                pending.append(call)
            ir.messages.append(Message("assistant", parts))
    ir.tools = [
        Tool(n, draw(st.none() | texts), {"type": "object", "properties": {"x": {"type": "string"}}})
        for n in sorted(tool_names)
    ]
    ir.sampling = Sampling(
        temperature=draw(st.none() | st.floats(0, 1).map(lambda f: round(f, 2))),
        max_tokens=draw(st.none() | st.integers(1025, 4096)),
    )
    return ir


@st.composite
def responses(draw: st.DrawFn, thinking: bool = True) -> IRResponse:
    """A model answer: optional thinking, text and/or tool calls, with usage."""
    content: list[Part] = []
    if thinking and draw(st.booleans()):
        content.append(ThinkingPart(draw(texts)))
    if draw(st.booleans()):
        content.append(TextPart(draw(texts)))
    calls = draw(st.lists(ids, min_size=0 if content else 1, max_size=3, unique=True))
    content.extend(ToolCallPart(i, draw(names), draw(arguments)) for i in calls)
    if calls:
        reason = FinishReason.TOOL_CALLS
    else:
        reason = draw(st.sampled_from([FinishReason.STOP, FinishReason.LENGTH]))
    inp = draw(st.integers(0, 10_000))
    cached = draw(st.integers(0, inp))
    out = draw(st.integers(0, 5000))
    usage = Usage(inp, out, cached, 0, draw(st.integers(0, out)))
    return IRResponse(id="resp_" + draw(ids), model="m", content=content, finish_reason=reason, usage=usage)


def _args(s: str) -> Any:
    try:
        return json.loads(s or "{}")
    except ValueError:
        return s


def normalize_parts(parts: list[Part], *, keep_thinking: bool = False) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    for p in parts:
        if isinstance(p, TextPart):
            if not p.text:
                continue
            if out and out[-1][0] == "text":
                out[-1] = ("text", out[-1][1] + p.text)
            else:
                out.append(("text", p.text))
        elif isinstance(p, ImagePart):
            out.append(("image", p.url, p.media_type if p.data else None, p.data))
        elif isinstance(p, ToolCallPart):
            out.append(("call", p.id, p.name, _args(p.arguments)))
        elif isinstance(p, ToolResultPart):
            text = "".join(c.text for c in p.content if isinstance(c, TextPart))
            out.append(("result", p.tool_call_id, text))
        elif isinstance(p, ThinkingPart) and keep_thinking:
            if out and out[-1][0] == "thinking":
                out[-1] = ("thinking", out[-1][1] + p.text)
            else:
                out.append(("thinking", p.text))
        elif isinstance(p, RedactedThinkingPart) and keep_thinking:
            out.append(("redacted", p.data))
    return out


def _assistant_order(parts: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    # Chat puts a turn's text before its tool calls; compare in that canonical order.
    texts_ = [p for p in parts if p[0] == "text"]
    joined = [("text", "".join(p[1] for p in texts_))] if texts_ else []
    return joined + [p for p in parts if p[0] != "text"]


def normalize_request(ir: IRRequest) -> dict[str, Any]:
    turns: list[list[Any]] = []
    for m in ir.messages:
        if turns and turns[-1][0] == m.role:
            turns[-1][1].extend(m.content)
        else:
            turns.append([m.role, list(m.content)])
    norm_turns = []
    for role, parts in turns:
        n = normalize_parts(parts)
        norm_turns.append((role, _assistant_order(n) if role == "assistant" else n))
    return {
        "system": "\n\n".join(p.text for p in ir.system),
        "turns": [t for t in norm_turns if t[1]],
        "tools": sorted((t.name, t.description or "") for t in ir.tools),
    }


def normalize_response(resp: IRResponse, *, keep_thinking: bool = True) -> list[tuple[Any, ...]]:
    return normalize_parts(resp.content, keep_thinking=keep_thinking)
