"""The routing engine when a streamed answer fails after its first byte (too late to fall
back), and when the client goes away in the middle of a stream."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.support.harness import wait_until
from tests.support.mock_provider import MockProvider

from .engine_faults_support import (
    MESSAGES,
    Engine,
    chat,
    engine_fixture,  # noqa: F401 (a fixture, used by name)
    fresh_fixture,  # noqa: F401 (a fixture, used by name)
    messages,
    reply_text,
)

# --------------------------------------------------------------------------- after the first byte


@pytest.mark.parametrize(
    ("client", "connection"),
    [("openai-chat", "oa"), ("anthropic", "an"), ("anthropic", "oa"), ("openai-chat", "an")],
    ids=["chat-on-openai", "anthropic-on-anthropic", "anthropic-on-openai", "chat-on-anthropic"],
)
def test_a_failure_after_the_first_streamed_byte_ends_the_stream_with_an_error_event(
    engine: Engine, client: str, connection: str
) -> None:
    a, b = f"mid-{client}-{connection}-a", f"mid-{client}-{connection}-b"
    name = engine.combo(f"mid-{client}-{connection}", [(connection, a), ("ob", b)])
    engine.mock.add_fault(reset_after=4, model=a, count=1)

    call = chat if client == "openai-chat" else messages
    answer = call(engine, name, True)
    # The client already has the first events: no fallback, the stream ends with an error.
    assert (answer.status, answer.model) == (200, a)
    assert engine.upstream_models() == [a]
    assert answer.text and reply_text(a).startswith(answer.text) and answer.text != reply_text(a)
    if client == "openai-chat":
        *_, (_, error), (_, done) = answer.events
        assert done == "[DONE]"
        assert error["error"]["code"] or error["error"]["type"]
        assert "stream" in error["error"]["message"]
    else:
        name_, error = answer.events[-1]
        assert name_ == "error" and error["type"] == "error"
        assert error["error"]["type"] == "api_error" and "stream" in error["error"]["message"]
        assert not any(n == "message_stop" for n, _ in answer.events)
    row = engine.call_log(answer.headers["x-omniroute-request-id"])
    assert (row["status"], row["modelUsed"], row["fallbackAttempts"]) == (502, a, 0)
    assert "stream" in row["error"]


def test_a_stall_after_the_first_byte_beyond_the_read_timeout_ends_the_stream(engine: Engine) -> None:
    a, b = "stall-a", "stall-b"
    name = engine.combo("stall", [("short", a), ("ob", b)])
    engine.mock.add_fault(event_delay_ms=4000, model=a, count=1)

    answer = chat(engine, name, True)
    assert (answer.status, answer.model) == (200, a)
    assert engine.upstream_models() == [a]
    *_, (_, error), (_, done) = answer.events
    assert done == "[DONE]" and "ReadTimeout" in error["error"]["message"]
    assert engine.connection_state("short")["lastErrorType"] == "timeout"


# --------------------------------------------------------------------------- client disconnect


def _sockets(port: int) -> list[tuple[int, int, str]]:
    """Open TCP sockets touching ``port`` on loopback: (local port, remote port, state)."""
    live = {"01": "ESTABLISHED", "08": "CLOSE_WAIT"}  # FIN_WAIT/TIME_WAIT are already closed
    found = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        parts = line.split()
        local, remote, state = int(parts[1].split(":")[1], 16), int(parts[2].split(":")[1], 16), parts[3]
        if port in (local, remote) and state in live:
            found.append((local, remote, live[state]))
    return found


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc/net/tcp")
def test_client_disconnect_mid_stream_cancels_the_upstream_at_once(engine: Engine) -> None:
    # A mock of its own, so the only sockets to it are this stream's.
    with MockProvider(event_delay_ms=1000) as slow:
        created = engine.api.post("/api/providers", json={
            "provider": "openai", "name": "far", "url": f"{slow.url}/v1", "apiKey": "sk-far-0001"})
        assert created.status_code == 201
        try:
            with httpx.Client(base_url=engine.process.api_url, timeout=30, trust_env=False) as client:
                body = {"model": "far/long-stream", "messages": MESSAGES, "stream": True}
                with client.stream("POST", "/v1/chat/completions", json=body) as response:
                    request_id = response.headers["x-omniroute-request-id"]
                    chunks = response.iter_raw()  # kept: dropping it would close the stream
                    assert next(chunks).startswith(b"data: ")
                    # The stream would go on for ~10 s (one event per second).
                    assert any(local == slow.port for local, _, _ in _sockets(slow.port))
                # Leaving the block closed our connection in the middle of the stream.
                wait_until(lambda: not _sockets(slow.port), 5.0,
                           "OmniRoute to close its upstream connection and the mock to see it")
            row = engine.call_log(request_id)
            assert (row["status"], row["error"], row["modelUsed"]) == (499, "client disconnected", "long-stream")
        finally:
            engine.api.delete(f"/api/providers/{created.json()['id']}")
