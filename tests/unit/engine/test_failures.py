from __future__ import annotations

import asyncio
import socket
from email.utils import formatdate

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from omniroute.engine.failures import (
    FailureKind,
    FallbackAction,
    TransportError,
    classify_status,
    classify_transport,
    parse_duration,
    parse_retry_after,
    retry_after_from_headers,
    transport_error_of,
)

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("status", "kind", "action", "trips"),
    [
        (401, FailureKind.AUTH, FallbackAction.MARK_AUTH_FAILED_NEXT, False),
        (402, FailureKind.QUOTA, FallbackAction.COOLDOWN_NEXT, False),
        (403, FailureKind.QUOTA, FallbackAction.COOLDOWN_NEXT, False),
        (404, FailureKind.MODEL_NOT_FOUND, FallbackAction.LOCKOUT_MODEL_NEXT, False),
        (408, FailureKind.TIMEOUT, FallbackAction.BACKOFF_NEXT, True),
        (429, FailureKind.RATE_LIMITED, FallbackAction.BACKOFF_NEXT, False),
        (500, FailureKind.SERVER, FallbackAction.BACKOFF_NEXT, True),
        (502, FailureKind.SERVER, FallbackAction.BACKOFF_NEXT, True),
        (503, FailureKind.SERVER, FallbackAction.BACKOFF_NEXT, True),
        (504, FailureKind.SERVER, FallbackAction.BACKOFF_NEXT, True),
        (529, FailureKind.SERVER, FallbackAction.BACKOFF_NEXT, True),
        (501, FailureKind.SERVER, FallbackAction.BACKOFF_NEXT, False),
        (400, FailureKind.CLIENT, FallbackAction.RETURN_TO_CLIENT, False),
        (413, FailureKind.CLIENT, FallbackAction.RETURN_TO_CLIENT, False),
        (422, FailureKind.CLIENT, FallbackAction.RETURN_TO_CLIENT, False),
    ],
)
def test_status_policy(status: int, kind: FailureKind, action: FallbackAction, trips: bool) -> None:
    c = classify_status(status, {}, now=NOW)
    assert c is not None
    assert (c.kind, c.action, c.trips_breaker, c.status) == (kind, action, trips, status)
    assert c.fallback is (action is not FallbackAction.RETURN_TO_CLIENT)


def test_success_is_not_a_failure() -> None:
    assert classify_status(200, now=NOW) is None
    assert classify_status(304, now=NOW) is None


def test_billing_bodies_become_quota() -> None:
    body = b'{"error":{"type":"insufficient_quota","message":"You exceeded your current quota"}}'
    c = classify_status(429, {}, now=NOW, body=body)
    assert c is not None
    assert (c.kind, c.action) == (FailureKind.QUOTA, FallbackAction.COOLDOWN_NEXT)
    anthropic = '{"error":{"message":"Your credit balance is too low to access the API"}}'
    c400 = classify_status(400, now=NOW, body=anthropic)
    assert c400 is not None and c400.kind is FailureKind.QUOTA and c400.fallback
    plain = classify_status(400, now=NOW, body='{"error":{"message":"messages: required"}}')
    assert plain is not None and plain.action is FallbackAction.RETURN_TO_CLIENT


def test_retry_after_seconds_and_http_date() -> None:
    assert parse_retry_after("120", NOW) == 120.0
    assert parse_retry_after(" 1.5 ", NOW) == 1.5
    assert parse_retry_after(formatdate(NOW + 90, usegmt=True), NOW) == 90.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", NOW) == 0.0  # past → now
    assert parse_retry_after("Tue Nov 14 22:13:40 2023", NOW) == 20.0  # asctime form
    for bad in (None, "", "soon", "-5", "inf", "Wed, 99 Foo 2015"):
        assert parse_retry_after(bad, NOW) is None


def test_retry_after_reaches_the_classification() -> None:
    c = classify_status(429, {"Retry-After": "17"}, now=NOW)
    assert c is not None and c.retry_after == 17.0
    date = httpx.Headers({"retry-after": formatdate(NOW + 30, usegmt=True)})
    c503 = classify_status(503, date, now=NOW)
    assert c503 is not None and c503.retry_after == 30.0


def test_header_precedence_and_openai_reset_headers() -> None:
    assert retry_after_from_headers({"retry-after-ms": "1500", "retry-after": "9"}, NOW) == 1.5
    openai = {"x-ratelimit-reset-requests": "1m30s", "x-ratelimit-reset-tokens": "250ms"}
    assert retry_after_from_headers(openai, NOW) == 90.0
    assert retry_after_from_headers({}, NOW) is None
    assert parse_duration("6m0s") == 360.0
    assert parse_duration("1h2m3.5s") == 3723.5
    assert parse_duration("20ms") == 0.02
    assert parse_duration("") is None and parse_duration("5 minutes") is None


@given(st.integers(0, 10**7))
def test_delay_seconds_roundtrip(seconds: int) -> None:
    assert parse_retry_after(str(seconds), NOW) == seconds


@pytest.mark.parametrize(
    ("error", "kind", "trips"),
    [
        (TransportError.CONNECT_ERROR, FailureKind.CONNECT, True),
        (TransportError.CONNECT_TIMEOUT, FailureKind.CONNECT, True),
        (TransportError.READ_TIMEOUT, FailureKind.TIMEOUT, True),
        (TransportError.WRITE_TIMEOUT, FailureKind.TIMEOUT, True),
        (TransportError.POOL_TIMEOUT, FailureKind.TIMEOUT, False),
        (TransportError.RESET_BEFORE_FIRST_BYTE, FailureKind.RESET, True),
    ],
)
def test_transport_errors_back_off_and_fall_back(
    error: TransportError, kind: FailureKind, trips: bool
) -> None:
    c = classify_transport(error)
    assert (c.kind, c.action, c.trips_breaker, c.fallback) == (
        kind,
        FallbackAction.BACKOFF_NEXT,
        trips,
        True,
    )


def test_exceptions_map_without_importing_httpx_in_the_engine() -> None:
    req = httpx.Request("POST", "https://api.example.com/v1/chat/completions")
    cases = {
        httpx.ConnectError("refused", request=req): TransportError.CONNECT_ERROR,
        httpx.ConnectTimeout("slow", request=req): TransportError.CONNECT_TIMEOUT,
        httpx.ReadTimeout("slow", request=req): TransportError.READ_TIMEOUT,
        httpx.WriteTimeout("slow", request=req): TransportError.WRITE_TIMEOUT,
        httpx.PoolTimeout("busy", request=req): TransportError.POOL_TIMEOUT,
        httpx.RemoteProtocolError("Server disconnected", request=req): (
            TransportError.RESET_BEFORE_FIRST_BYTE
        ),
        httpx.ReadError("reset", request=req): TransportError.RESET_BEFORE_FIRST_BYTE,
        ConnectionResetError(): TransportError.RESET_BEFORE_FIRST_BYTE,
        ConnectionRefusedError(): TransportError.CONNECT_ERROR,
        socket.gaierror(): TransportError.CONNECT_ERROR,
        TimeoutError(): TransportError.READ_TIMEOUT,
    }
    for exc, expected in cases.items():
        assert transport_error_of(exc) is expected, exc
    assert transport_error_of(asyncio.CancelledError()) is None  # client went away
    assert transport_error_of(ValueError("bug")) is None
