"""mitmproxy's type check of each HTTP message, with OmniRoute's in its place: the same
verdicts, and no reference cycles left for the garbage collector."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from mitmproxy import http

from omniroute import message_check

GOOD: dict[str, Any] = {"http_version": b"HTTP/1.1", "headers": http.Headers(), "content": None, "trailers": None,
                        "timestamp_start": 1.5, "timestamp_end": None, "status_code": 200, "reason": b"OK"}


@pytest.fixture()
def mitmproxy_check() -> Iterator[Callable[[bool], None]]:
    """Switch between mitmproxy's check (False) and ours (True); mitmproxy's is put back after."""
    def use(ours: bool) -> None:
        if ours:
            message_check.install()
        else:
            http.MessageData.__post_init__ = message_check.MITMPROXY_CHECK  # type: ignore[method-assign]

    yield use
    use(False)


def cycles_after(build: Callable[[], object], times: int = 100) -> int:
    """How many objects only a collection frees after ``build()`` ran ``times`` times."""
    gc.collect()
    gc.disable()
    try:
        for _ in range(times):
            build()
        return gc.collect()
    finally:
        gc.enable()


def one_call() -> None:
    """The messages of one proxied call: the agent's request, and the response made for it."""
    # As the HTTP layer builds a request: its body not yet arrived (None), no trailers.
    http.Request("api.openai.com", 443, b"POST", b"https", b"", b"/v1/chat/completions", b"HTTP/1.1",
                 http.Headers(content_type="application/json"), None, None, 1.0, None)
    http.Response.make(200, b'{"ok": true}', {"content-type": "application/json"})


def test_mitmproxys_check_leaves_cycles_and_ours_none(mitmproxy_check: Callable[[bool], None]) -> None:
    assert message_check.MITMPROXY_CHECK is not None, "run without -O: mitmproxy checks only then"
    mitmproxy_check(False)
    theirs = cycles_after(one_call)
    mitmproxy_check(True)
    ours = cycles_after(one_call)
    assert (theirs >= 100, ours) == (True, 0)


@pytest.mark.parametrize("field, value", [
    ("status_code", "200"), ("status_code", 200.0), ("reason", "OK"), ("headers", {}),
    ("content", "text"), ("trailers", {}), ("timestamp_start", "now"), ("timestamp_end", b"1"),
])
def test_a_wrong_type_is_refused_with_mitmproxys_own_error(
        mitmproxy_check: Callable[[bool], None], field: str, value: object) -> None:
    errors = []
    for ours in (False, True):
        mitmproxy_check(ours)
        with pytest.raises(TypeError) as refused:
            http.ResponseData(**{**GOOD, field: value})
        errors.append(str(refused.value))
    assert errors[0] == errors[1]


@pytest.mark.parametrize("field, value", [
    ("timestamp_start", 2), ("timestamp_end", 3.0), ("timestamp_end", 3), ("content", b""),
    ("trailers", http.Headers(a="b")), ("status_code", True),
])
def test_what_mitmproxys_check_accepts_ours_accepts(
        mitmproxy_check: Callable[[bool], None], field: str, value: object) -> None:
    for ours in (False, True):
        mitmproxy_check(ours)
        assert getattr(http.ResponseData(**{**GOOD, field: value}), field) == value
