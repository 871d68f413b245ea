"""Property tests: random conversations and answers survive a round trip through every pair
of formats without losing messages, tool calls or their ids (requests, responses, streams)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omniroute.translate import StreamTranslator, get_format, translate_request, translate_response
from omniroute.translate.base import ResponseAccumulator, response_events

from .strategies import (
    FORMATS,
    conversations,
    normalize_request,
    normalize_response,
    responses,
)

PAIRS = list(itertools.permutations(FORMATS, 2)) + [(f, f) for f in FORMATS]
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize(("a", "b"), PAIRS)
@SETTINGS
@given(ir=conversations())
def test_request_round_trip(a: str, b: str, ir) -> None:
    body_a = get_format(a).request_from_ir(ir)
    original = get_format(a).request_to_ir(body_a)
    back = translate_request(b, a, translate_request(a, b, body_a))
    assert normalize_request(get_format(a).request_to_ir(back)) == normalize_request(original)
    # and the IR itself survives, up to the normal form
    assert normalize_request(original) == normalize_request(ir)


@pytest.mark.parametrize(("a", "b"), PAIRS)
@SETTINGS
@given(resp=responses())
def test_response_round_trip(a: str, b: str, resp) -> None:
    body_a = get_format(a).response_from_ir(resp)
    back = translate_response(b, a, translate_response(a, b, body_a))
    got = get_format(a).response_to_ir(back)
    assert normalize_response(got) == normalize_response(resp)
    assert got.finish_reason == resp.finish_reason
    assert got.usage == resp.usage


def _encode(fmt: str, resp, chunk: int) -> bytes:
    enc = get_format(fmt).StreamEncoder(resp.model)
    out = [b for ev in response_events(resp, chunk) for b in enc.feed(ev)]
    return b"".join(out + enc.finish())


def _decode(fmt: str, data: bytes, split: int):
    mod = get_format(fmt)
    framer, decoder, acc = mod.Framer(), mod.StreamDecoder(), ResponseAccumulator()
    for i in range(0, len(data), split):
        for event in framer.feed(data[i : i + split]):
            for ev in decoder.feed(event):
                acc.feed(ev)
    return acc.result()


@pytest.mark.parametrize(("a", "b"), PAIRS)
@SETTINGS
@given(resp=responses(), chunk=st.integers(1, 7), split=st.integers(1, 97))
def test_stream_round_trip(a: str, b: str, resp, chunk: int, split: int) -> None:
    """IR answer → stream in ``a`` → StreamTranslator(a→b), fed in arbitrary byte chunks →
    decoded ``b`` stream: same blocks, text, thinking, tool calls (ids, arguments), usage."""
    wire_a = _encode(a, resp, chunk)
    st_ = StreamTranslator(a, b, resp.model)
    wire_b = b"".join(st_.feed(wire_a[i : i + split]) for i in range(0, len(wire_a), split))
    wire_b += st_.finish()
    got = _decode(b, wire_b, split)
    assert normalize_response(got) == normalize_response(resp)
    assert got.finish_reason == resp.finish_reason
    assert got.usage == resp.usage


SIGNING = ["anthropic", "openai-responses"]  # formats with a place for reasoning signatures


@pytest.mark.parametrize(("a", "b"), list(itertools.product(SIGNING, repeat=2)))
@SETTINGS
@given(resp=responses(thinking=False), text=st.text(min_size=1, max_size=20),
       sig=st.text(alphabet="ABCDEFabcdef0123456789+/=:", min_size=8, max_size=40))  # fmt: skip
def test_thinking_signature_survives_signing_formats(a: str, b: str, resp, text: str, sig: str) -> None:
    """A signed thinking block made by ``a`` keeps its signature and family through ``b`` and
    back, streamed and not, so the next turn can replay it to the provider that signed it."""
    from omniroute.translate.ir import ThinkingPart

    resp.content.insert(0, ThinkingPart(text, sig, a))
    body = translate_response(b, a, translate_response(a, b, get_format(a).response_from_ir(resp)))
    got = get_format(a).response_to_ir(body).content[0]
    assert isinstance(got, ThinkingPart) and (got.signature, got.signature_format) == (sig, a)
    wire = _encode(a, resp, 5)
    t1 = StreamTranslator(a, b, "m")
    mid = t1.feed(wire) + t1.finish()
    t2 = StreamTranslator(b, a, "m")
    streamed = _decode(a, t2.feed(mid) + t2.finish(), 64).content[0]
    assert isinstance(streamed, ThinkingPart) and (streamed.signature, streamed.signature_format) == (sig, a)
