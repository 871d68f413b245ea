"""The routing engine under upstream faults before the first byte: what falls back to the
next target (429, 5xx, timeouts, resets, 401) and what goes back to the client (400)."""

from __future__ import annotations

import pytest

from tests.support.harness import wait_until

from .engine_faults_support import (
    STREAMS,
    Engine,
    chat,
    engine_fixture,  # noqa: F401 (a fixture, used by name)
    fresh_fixture,  # noqa: F401 (a fixture, used by name)
    messages,
    reply_text,
)

# --------------------------------------------------------------------------- fallback


@STREAMS
def test_429_falls_back_and_the_connection_comes_back_after_retry_after(
    engine: Engine, stream: bool
) -> None:
    name = engine.combo(f"rate-{stream}", [("oa", f"rate-a-{stream}"), ("ob", f"rate-b-{stream}")])
    a, b = f"rate-a-{stream}", f"rate-b-{stream}"
    engine.mock.add_fault(429, retry_after=1, model=a, count=1)

    first = chat(engine, name, stream)
    assert (first.status, first.model, first.attempts) == (200, b, "1")
    assert first.text == reply_text(b)
    assert engine.upstream_models() == [a, b]
    cooling = engine.connection_state("oa")
    assert cooling["status"] == "cooldown" and 0 < cooling["remainingMs"] <= 1000
    assert cooling["lastErrorType"] == "rate_limited"

    # While it cools down, the rate-limited connection is skipped without being asked.
    engine.mock.clear()
    second = chat(engine, name, stream)
    assert (second.status, second.model, second.attempts) == (200, b, "0")
    assert engine.upstream_models() == [b]

    # Once the Retry-After has passed it is first in line again.
    wait_until(lambda: engine.connection_state("oa")["status"] == "active", 3.0, "the cooldown to end")
    engine.mock.clear()
    third = chat(engine, name, stream)
    assert (third.status, third.model, third.attempts) == (200, a, "0")
    assert third.text == reply_text(a)
    assert engine.upstream_models() == [a]


@pytest.mark.parametrize("status", [500, 503])
@STREAMS
def test_server_errors_fall_back_to_the_next_target(engine: Engine, status: int, stream: bool) -> None:
    a, b = f"err{status}-a-{stream}", f"err{status}-b-{stream}"
    name = engine.combo(f"err{status}-{stream}", [("oa", a), ("ob", b)])
    engine.mock.add_fault(status, model=a)

    answer = chat(engine, name, stream)
    assert (answer.status, answer.model, answer.attempts) == (200, b, "1")
    assert answer.text == reply_text(b)
    assert engine.upstream_models() == [a, b]
    backing_off = engine.connection_state("oa")
    assert (backing_off["status"], backing_off["lastErrorType"]) == ("cooldown", "server")
    # Counted against the provider's breaker (then forgiven one step by ob's success).
    assert engine.breaker("openai")["lastFailureKind"] == "server"


@STREAMS
def test_a_timeout_before_the_first_byte_falls_back(engine: Engine, stream: bool) -> None:
    a, b = f"slow-a-{stream}", f"slow-b-{stream}"
    name = engine.combo(f"slow-{stream}", [("short", a), ("ob", b)])
    # Far beyond the connection's 1 s read timeout.
    engine.mock.add_fault(delay_ms=5000, model=a, count=1)

    answer = chat(engine, name, stream)
    assert (answer.status, answer.model, answer.attempts) == (200, b, "1")
    assert answer.text == reply_text(b)
    assert engine.upstream_models() == [a, b]
    assert engine.connection_state("short")["lastErrorType"] == "timeout"


@pytest.mark.parametrize("mode", ["fin", "rst"])
@STREAMS
def test_a_reset_before_the_first_byte_falls_back(engine: Engine, mode: str, stream: bool) -> None:
    a, b = f"reset-{mode}-a-{stream}", f"reset-{mode}-b-{stream}"
    name = engine.combo(f"reset-{mode}-{stream}", [("oa", a), ("ob", b)])
    # Non-streamed: closed before any response byte; streamed: after the headers, before
    # the first event.
    engine.mock.add_fault(reset_after=0, reset_mode=mode, model=a, count=1)  # type: ignore[arg-type]

    answer = chat(engine, name, stream)
    assert (answer.status, answer.model, answer.attempts) == (200, b, "1")
    assert answer.text == reply_text(b)
    assert engine.upstream_models() == [a, b]
    assert engine.connection_state("oa")["lastErrorType"] == "reset"


def test_fallback_attempts_header_and_usage_row_count_every_failed_target(engine: Engine) -> None:
    a, b, c = "three-a", "three-b", "three-c"
    name = engine.combo("three", [("oa", a), ("ob", b), ("oc", c)])
    engine.mock.add_fault(429, model=a, count=1)
    engine.mock.add_fault(502, model=b, count=1)

    answer = chat(engine, name)
    assert (answer.status, answer.model, answer.attempts) == (200, c, "2")
    assert engine.upstream_models() == [a, b, c]
    row = engine.call_log(answer.headers["x-omniroute-request-id"])
    assert (row["fallbackAttempts"], row["modelUsed"], row["status"]) == (2, c, 200)
    assert row["connectionId"] == engine.ids["oc"]


# --------------------------------------------------------------------------- 4xx


def test_401_moves_on_and_marks_the_connection_auth_failed(engine: Engine) -> None:
    a, b = "auth-a", "auth-b"
    name = engine.combo("auth", [("oa", a), ("ob", b)])
    engine.mock.add_fault(401, model=a)

    first = chat(engine, name)
    assert (first.status, first.model, first.attempts) == (200, b, "1")
    assert engine.connection_state("oa")["status"] == "auth_failed"

    engine.mock.clear()
    second = chat(engine, name, True)
    assert (second.status, second.model, second.attempts) == (200, b, "0")
    assert engine.upstream_models() == [b]
    # Addressed alone, the auth-failed connection is refused here, without an upstream call.
    alone = chat(engine, f"oa/{a}")
    assert alone.status == 503 and "auth_failed" in alone.body["error"]["message"]
    assert engine.upstream_models() == [b]


@STREAMS
def test_400_goes_back_to_the_client_as_the_upstream_said_it(engine: Engine, stream: bool) -> None:
    a, b = f"bad-a-{stream}", f"bad-b-{stream}"
    name = engine.combo(f"bad-{stream}", [("oa", a), ("ob", b)])
    engine.mock.add_fault(400, message="max_tokens is too large for this model", model=a)

    answer = chat(engine, name, stream)
    assert answer.status == 400 and answer.attempts == "0"
    assert answer.body == {"error": {"message": "max_tokens is too large for this model",
                                     "type": "invalid_request_error", "param": None, "code": None}}
    assert engine.upstream_models() == [a]
    assert engine.connection_state("oa")["status"] == "active"
    row = engine.call_log(answer.headers["x-omniroute-request-id"])
    assert (row["status"], row["fallbackAttempts"], row["modelUsed"]) == (400, 0, a)


def test_400_from_another_format_reaches_the_client_in_its_own_format(engine: Engine) -> None:
    a = "bad-translated"
    engine.mock.add_fault(400, message="temperature must be at most 2", model=a)
    answer = messages(engine, f"oa/{a}")
    assert answer.status == 400
    assert answer.body["type"] == "error"
    assert answer.body["error"]["type"] == "invalid_request_error"
    assert "temperature must be at most 2" in answer.body["error"]["message"]
    assert engine.upstream_models() == [a]

