"""Property tests for Gemini, Cloud Code, Ollama and Kiro: random conversations and answers
survive round trips through these formats — alone and chained with the core formats
(OpenAI chat, Anthropic, Responses) — without losing turns, text, images, tool calls or ids.

Where a format cannot carry something the comparison says so explicitly:
* Ollama has no tool-call ids: ids are compared up to a consistent renaming (every result
  still points at its own call), and its usage has no cached / reasoning counts.
* Kiro has no system prompt (prepended to the first user turn), joins a turn's texts with a
  blank line, orders a user turn as results, text, images; its stream has no finish reason
  other than "tool calls or not" and no reasoning count.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from google.genai import types as gt
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from omniroute.translate import gemini, gemini_cloudcode, get_format, kiro, ollama
from omniroute.translate.ir import (
    FinishReason,
    ImagePart,
    IRRequest,
    IRResponse,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
    Usage,
)

from .strategies import FORMATS, conversations, normalize_request, normalize_response, responses
from .strategies_ext import base64_only, encode_stream, stream_through

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MINE = {"gemini": gemini, "gemini-cloudcode": gemini_cloudcode, "ollama": ollama, "kiro": kiro}


def _relabel(norm: Any) -> Any:
    """Rename tool-call ids to c0, c1 … in order of appearance (for id-less Ollama)."""
    names: dict[str, str] = {}

    def walk(x: Any) -> Any:
        if isinstance(x, tuple) and x and x[0] in ("call", "result"):
            new = names.setdefault(x[1], f"c{len(names)}")
            return (x[0], new, *x[2:])
        if isinstance(x, (list, tuple)):
            return type(x)(walk(i) for i in x)
        if isinstance(x, dict):
            return {k: walk(v) for k, v in x.items()}
        return x

    return walk(norm)


def _no_media_type(norm: Any) -> Any:
    """Ollama images carry no media type (it is sniffed from the bytes)."""
    # An image part normalises to 4 items; a tool named "image" is ("image", description).
    if isinstance(norm, tuple) and len(norm) == 4 and norm[0] == "image":
        return ("image", norm[1], None, norm[3])
    if isinstance(norm, (list, tuple)):
        return type(norm)(_no_media_type(i) for i in norm)
    if isinstance(norm, dict):
        return {k: _no_media_type(v) for k, v in norm.items()}
    return norm


def _ollama_user_order(norm: dict[str, Any]) -> dict[str, Any]:
    """An Ollama user message is one text plus a list of images, after the tool messages:
    order a user turn as results, joined text, images."""
    turns = []
    for role, parts in norm["turns"]:
        if role == "user":
            text = "".join(p[1] for p in parts if p[0] == "text")
            parts = (
                [p for p in parts if p[0] == "result"]
                + ([("text", text)] if text else [])
                + [p for p in parts if p[0] == "image"]
            )
        turns.append((role, parts))
    return {**norm, "turns": turns}


def _kiro_norm(ir: IRRequest) -> list[tuple[Any, ...]]:
    """What Kiro can keep: per merged turn, results / joined text / images, or text / calls."""
    turns: list[tuple[str, list[Any]]] = []
    for m in ir.messages:
        if turns and turns[-1][0] == m.role:
            turns[-1][1].extend(m.content)
        else:
            turns.append((m.role, list(m.content)))
    system = "\n\n".join(p.text for p in ir.system if p.text)
    out: list[tuple[Any, ...]] = []
    for i, (role, parts) in enumerate(turns):
        texts = [p.text for p in parts if isinstance(p, TextPart) and p.text]
        if role == "user":
            text = "\n\n".join(([system] if i == 0 and system else []) + texts)
            results = [
                (
                    p.tool_call_id,
                    "".join(c.text for c in p.content if isinstance(c, TextPart)),
                    p.is_error,
                )
                for p in parts
                if isinstance(p, ToolResultPart)
            ]
            imgs = [(p.data, p.media_type) for p in parts if isinstance(p, ImagePart)]
            out.append(("user", results, text, imgs))
        else:
            calls = [
                (p.id, p.name, json.loads(p.arguments))
                for p in parts
                if isinstance(p, ToolCallPart)
            ]
            out.append(("assistant", "".join(texts), calls))
    return out


def _request_norm(fmt: str, ir: IRRequest) -> Any:
    if fmt == "kiro":
        return _kiro_norm(ir)
    norm = normalize_request(ir)
    return _ollama_user_order(_no_media_type(_relabel(norm))) if fmt == "ollama" else norm


def _prepare(fmt: str, ir: IRRequest) -> IRRequest:
    if fmt in ("ollama", "kiro"):
        ir = base64_only(ir)  # both take inline images only (URLs raise, tested elsewhere)
    if fmt == "kiro":
        assume(ir.messages[-1].role == "user")  # Kiro's current message is a user turn
    return ir


@pytest.mark.parametrize("fmt", list(MINE))
@SETTINGS
@given(ir=conversations())
def test_request_round_trip(fmt: str, ir: IRRequest) -> None:
    ir = _prepare(fmt, ir)
    mod = MINE[fmt]
    back = mod.request_to_ir(mod.request_from_ir(ir))
    assert _request_norm(fmt, back) == _request_norm(fmt, ir)


@pytest.mark.parametrize(("core", "fmt"), [(c, f) for c in FORMATS for f in MINE])
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ir=conversations())
def test_request_chain_with_core_formats(core: str, fmt: str, ir: IRRequest) -> None:
    """core body → IR → our body → IR → core body → IR keeps the conversation."""
    ir = _prepare(fmt, ir)
    core_mod, mod = get_format(core), MINE[fmt]
    start = core_mod.request_to_ir(core_mod.request_from_ir(ir))
    ours = mod.request_to_ir(mod.request_from_ir(start))
    end = core_mod.request_to_ir(core_mod.request_from_ir(ours))
    assert _request_norm(fmt, end) == _request_norm(fmt, start)


def _expected_usage(fmt: str, u: Usage) -> Usage:
    if fmt == "ollama":
        return Usage(u.input_tokens, u.output_tokens)
    if fmt == "kiro":
        return Usage(
            u.input_tokens, u.output_tokens, u.cached_input_tokens, u.cache_creation_tokens
        )
    return u


def _check_response(fmt: str, got: IRResponse, resp: IRResponse) -> None:
    norm_got, norm_want = normalize_response(got), normalize_response(resp)
    if fmt == "ollama":
        norm_got, norm_want = _relabel(norm_got), _relabel(norm_want)
    assert norm_got == norm_want
    want_reason = resp.finish_reason
    if fmt == "kiro" and want_reason is FinishReason.LENGTH:
        want_reason = FinishReason.STOP  # a Kiro stream cannot say why it ended
    assert got.finish_reason == want_reason
    assert got.usage == _expected_usage(fmt, resp.usage)


@pytest.mark.parametrize("fmt", list(MINE))
@SETTINGS
@given(resp=responses())
def test_response_round_trip(fmt: str, resp: IRResponse) -> None:
    mod = MINE[fmt]
    _check_response(fmt, mod.response_to_ir(mod.response_from_ir(resp)), resp)


@pytest.mark.parametrize("fmt", list(MINE))
@SETTINGS
@given(resp=responses(), cuts=st.lists(st.integers(0, 5000), max_size=8))
def test_stream_round_trip_any_chunking(fmt: str, resp: IRResponse, cuts: list[int]) -> None:
    _check_response(fmt, stream_through(MINE[fmt], resp, cuts), resp)


@pytest.mark.parametrize(("core", "fmt"), [(c, f) for c in FORMATS for f in MINE])
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(resp=responses())
def test_response_chain_with_core_formats(core: str, fmt: str, resp: IRResponse) -> None:
    """our answer → IR → core body → IR → our body → IR keeps text, calls and ids."""
    core_mod, mod = get_format(core), MINE[fmt]
    ours = mod.response_to_ir(mod.response_from_ir(resp))
    via_core = core_mod.response_to_ir(core_mod.response_from_ir(ours))
    back = mod.response_to_ir(mod.response_from_ir(via_core))
    keep = core != "openai-chat"  # chat completions has no place for thinking in answers
    got, want = (
        normalize_response(back, keep_thinking=keep),
        normalize_response(ours, keep_thinking=keep),
    )
    if fmt == "ollama":  # ids are re-made from the answer's created_at: compare the pairing
        got, want = _relabel(got), _relabel(want)
    assert got == want


def _sdk_view(body: dict[str, Any]) -> tuple[str, list[tuple[Any, ...]], Any]:
    parsed = gt.GenerateContentResponse.model_validate(body)
    parts = parsed.candidates[0].content.parts or [] if parsed.candidates else []
    text = "".join(p.text for p in parts if p.text and not p.thought)
    calls = [(c.id, c.name, c.args) for c in parsed.function_calls or []]
    return text, calls, parsed.usage_metadata


def _want(resp: IRResponse) -> tuple[str, list[tuple[Any, ...]]]:
    text = "".join(p.text for p in resp.content if isinstance(p, TextPart))
    calls = [
        (p.id, p.name, json.loads(p.arguments)) for p in resp.content if isinstance(p, ToolCallPart)
    ]
    return text, calls


@pytest.mark.parametrize("module", [gemini, gemini_cloudcode])
@SETTINGS
@given(resp=responses())
def test_google_genai_sdk_parses_gemini_output(module: Any, resp: IRResponse) -> None:
    body = module.response_from_ir(resp)
    text, calls, usage = _sdk_view(body if module is gemini else body["response"])
    assert (text, calls) == _want(resp)
    assert usage.prompt_token_count == resp.usage.input_tokens
    assert usage.total_token_count == resp.usage.input_tokens + resp.usage.output_tokens
    assert (usage.thoughts_token_count or 0) == resp.usage.reasoning_tokens

    stream_text, stream_calls, last_usage = "", [], None
    for frame in encode_stream(module, resp):
        chunk = json.loads(frame.removeprefix(b"data: "))
        t, c, u = _sdk_view(chunk if module is gemini else chunk["response"])
        stream_text += t
        stream_calls += c
        last_usage = u or last_usage
    assert (stream_text, stream_calls) == _want(resp)
    assert last_usage.prompt_token_count == resp.usage.input_tokens
    assert (last_usage.cached_content_token_count or 0) == resp.usage.cached_input_tokens


@pytest.mark.parametrize("fmt", ["gemini", "ollama"])
@SETTINGS
@given(ir=conversations(), data=st.data())
def test_generated_ids_are_stable_as_history_grows(
    fmt: str, ir: IRRequest, data: st.DataObject
) -> None:
    """Formats without ids: a call keeps the same id on every later turn of the conversation."""
    ir = _prepare(fmt, ir)
    mod = MINE[fmt]
    body = mod.request_from_ir(ir)
    key = "contents" if fmt == "gemini" else "messages"
    for msgs in (body[key],):
        for m in msgs:  # strip ids, as an id-less client would send them
            for p in m.get("parts", []):
                for k in ("functionCall", "functionResponse"):
                    p.get(k, {}).pop("id", None)
    full = mod.request_to_ir(body)
    cut = data.draw(st.integers(1, len(body[key])))
    prefix = mod.request_to_ir({**body, key: body[key][:cut]})

    def call_ids(r: IRRequest) -> list[str]:
        return [p.id for m in r.messages for p in m.content if isinstance(p, ToolCallPart)]

    assert call_ids(full)[: len(call_ids(prefix))] == call_ids(prefix)
    ids = call_ids(full)
    assert len(ids) == len(set(ids))
    results = [
        p.tool_call_id for m in full.messages for p in m.content if isinstance(p, ToolResultPart)
    ]
    assert set(results) <= set(ids)


def test_thinking_survives_gemini_round_trip() -> None:
    resp = IRResponse(
        id="r",
        model="m",
        content=[ThinkingPart("hmm", "c2ln", "gemini"), TextPart("x")],
        usage=Usage(1, 2),
    )
    back = gemini.response_to_ir(gemini.response_from_ir(resp))
    assert back.content == resp.content
