"""Property tests for Bedrock Converse: random conversations and answers survive round trips
(alone, chained with the core formats, and streamed in any chunking) without losing turns,
text, images, tool calls or ids. Converse has no reasoning-token count, so usage is compared
without it."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omniroute.translate import bedrock, get_format
from omniroute.translate.ir import IRRequest, IRResponse, Usage

from .strategies import FORMATS, conversations, normalize_request, normalize_response, responses
from .strategies_ext import base64_only, stream_through

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(ir=conversations())
def test_request_round_trip(ir: IRRequest) -> None:
    ir = base64_only(ir)  # Converse takes inline images only
    back = bedrock.request_to_ir(bedrock.request_from_ir(ir))
    assert normalize_request(back) == normalize_request(ir)


@pytest.mark.parametrize("core", FORMATS)
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ir=conversations())
def test_request_chain_with_core_formats(core: str, ir: IRRequest) -> None:
    ir = base64_only(ir)
    mod = get_format(core)
    start = mod.request_to_ir(mod.request_from_ir(ir))
    ours = bedrock.request_to_ir(bedrock.request_from_ir(start))
    end = mod.request_to_ir(mod.request_from_ir(ours))
    assert normalize_request(end) == normalize_request(start)


def _check(got: IRResponse, want: IRResponse) -> None:
    assert normalize_response(got) == normalize_response(want)
    assert got.finish_reason == want.finish_reason
    u = want.usage
    assert got.usage == Usage(u.input_tokens, u.output_tokens, u.cached_input_tokens, u.cache_creation_tokens)


@SETTINGS
@given(resp=responses())
def test_response_round_trip(resp: IRResponse) -> None:
    _check(bedrock.response_to_ir(bedrock.response_from_ir(resp)), resp)


@SETTINGS
@given(resp=responses(), cuts=st.lists(st.integers(0, 5000), max_size=8))
def test_stream_round_trip_any_chunking(resp: IRResponse, cuts: list[int]) -> None:
    _check(stream_through(bedrock, resp, cuts), resp)
