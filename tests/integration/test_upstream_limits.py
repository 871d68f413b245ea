"""Limits on what an upstream may cost us: a first-byte deadline, an idle limit while
streaming, and a cap on reply size (docs/RELIABILITY.md, "Limits").

A real `omniroute run` in front of the mock provider, whose faults drip a reply one byte at a
time (``drip_ms``) or pad it to any size without holding it (``pad_bytes``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.harness import OmniRouteProcess, wait_until
from tests.support.mock_provider import MockProvider

MSG = [{"role": "user", "content": "limits"}]
MAX_BODY = 1024 * 1024
MAX_EVENT = 256 * 1024
PAD = 64 * 1024 * 1024  # far past both caps; the mock streams it out lazily
# Every call here must end well within this, on any machine: on code without the limits a
# drip takes minutes, so the test fails here instead of hanging.
CALL_BUDGET_S = 30.0


@pytest.fixture(scope="module")
def env() -> Iterator[tuple[MockProvider, httpx.Client]]:
    settings = {"OMNIROUTE_UPSTREAM_MAX_BODY_BYTES": str(MAX_BODY), "OMNIROUTE_UPSTREAM_MAX_EVENT_BYTES": str(MAX_EVENT)}
    with MockProvider() as mock, OmniRouteProcess(proxy=False, bridge=False, env=settings) as proc, proc.api() as api:
        for name, extra in (
            ("oa", {}),
            # The connection of the issue: a 3 s per-read timeout, which a drip never meets.
            ("slow", {"timeoutSeconds": 3, "firstByteTimeoutSeconds": 1.5, "idleTimeoutSeconds": 1}),
            # Idle only: its first-byte deadline is past the call budget.
            ("idler", {"timeoutSeconds": 3, "firstByteTimeoutSeconds": 60, "idleTimeoutSeconds": 1}),
        ):
            body = {"provider": "openai", "name": name, "url": mock.url + "/v1", "apiKey": f"sk-{name}-0001", **extra}
            response = api.post("/api/providers", json=body)
            assert response.status_code == 201, response.text
        slow = next(c for c in api.get("/api/providers").json()["connections"] if c["name"] == "slow")
        assert (slow["firstByteTimeoutSeconds"], slow["idleTimeoutSeconds"]) == (1.5, 1)
        yield mock, api


@pytest.fixture(autouse=True)
def fresh(env: Any) -> Iterator[None]:
    mock, api = env
    mock.clear_faults()
    mock.clear()
    api.post("/api/resilience/reset", json={})
    yield
    mock.clear_faults()


def call(api: httpx.Client, fmt: str, model: str, stream: bool) -> tuple[httpx.Response, str]:
    """One call, read to the end within CALL_BUDGET_S (or the test fails)."""
    path = "/v1/messages" if fmt == "anthropic" else "/v1/chat/completions"
    body: dict[str, Any] = {"model": model, "messages": MSG, "stream": stream}
    if fmt == "anthropic":
        body["max_tokens"] = 16
    deadline = time.monotonic() + CALL_BUDGET_S
    parts: list[bytes] = []
    with api.stream("POST", path, json=body, timeout=CALL_BUDGET_S) as response:
        for chunk in response.iter_bytes():
            parts.append(chunk)
            assert time.monotonic() < deadline, f"still reading after {CALL_BUDGET_S} s: {b''.join(parts)[-300:]!r}"
    return response, b"".join(parts).decode()


def error_message(response: httpx.Response, text: str, fmt: str) -> str:
    """The message of an error in ``fmt``'s own shape."""
    import json

    body = json.loads(text)
    if fmt == "anthropic":
        assert body["type"] == "error", text
    assert body["error"]["type"], text
    return str(body["error"]["message"])


def logged(api: httpx.Client, model: str) -> int:
    return int(api.get("/api/usage/call-logs", params={"model": model}).json()["total"])


def usage_row(api: httpx.Client, model: str, before: int) -> dict[str, Any]:
    """The usage row of the call made after ``before`` rows for ``model`` were counted."""
    wait_until(lambda: logged(api, model) > before, 10, f"the usage row of a call to {model}")
    rows = api.get("/api/usage/call-logs", params={"model": model, "limit": 1}).json()["items"]
    return rows[0]  # type: ignore[no-any-return]


FORMATS = ["openai-chat", "anthropic"]  # passed through, and translated to OpenAI upstream


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_a_drip_misses_the_first_byte_deadline_with_a_504_in_the_clients_format(env: Any, fmt: str, stream: bool) -> None:
    mock, api = env
    mock.add_fault(drip_ms=500, model="drip")  # one byte every 0.5 s: no read ever times out
    before = logged(api, "slow/drip")
    response, text = call(api, fmt, "slow/drip", stream)
    assert response.status_code == 504, text
    message = error_message(response, text, fmt)
    assert "first-byte deadline" in message and "firstByteTimeoutSeconds" in message, message
    row = usage_row(api, "slow/drip", before)
    assert row["status"] == 504 and "first-byte deadline" in row["error"], row


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_a_missed_first_byte_deadline_falls_back_like_a_timeout(env: Any, stream: bool) -> None:
    mock, api = env
    mock.add_fault(drip_ms=500, model="drip")
    combo = {"name": f"drip-then-oa-{stream}", "model": f"drip-then-oa-{stream}", "strategy": "priority", "nodes": [
        {"connectionId": _id(api, "slow"), "model": "drip"}, {"connectionId": _id(api, "oa"), "model": "gpt-4o"},
    ]}
    assert api.post("/api/combos", json=combo).status_code == 201
    response, text = call(api, "openai-chat", combo["model"], stream)
    assert response.status_code == 200, text
    assert response.headers["x-omniroute-model"] == "gpt-4o"
    assert response.headers["x-omniroute-fallback-attempts"] == "1"
    assert "gpt-4o" in text and ("[DONE]" in text if stream else "mock reply from gpt-4o" in text)


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_drip_mid_stream_ends_the_stream_with_an_error_event_and_says_so_in_the_usage_row(env: Any, fmt: str) -> None:
    mock, api = env
    mock.add_fault(drip_ms=300, drip_after=2, model="dripmid")  # two events, then a drip
    before = logged(api, "idler/dripmid")
    response, text = call(api, fmt, "idler/dripmid", True)
    assert response.status_code == 200, text  # the client owned the stream already
    frames = [frame for frame in text.split("\n\n") if frame.strip()]
    errors = [frame for frame in frames if "idleTimeoutSeconds" in frame]
    assert len(errors) == 1 and frames.index(errors[0]) >= 1, text[-600:]  # after the first events
    if fmt == "anthropic":
        assert errors[0].startswith("event: error"), errors[0]
    else:
        assert errors[0].startswith('data: {"error":'), errors[0]
    row = usage_row(api, "idler/dripmid", before)
    assert row["status"] == 504 and "no complete event for 1 s" in row["error"], row


@pytest.mark.parametrize(("stream", "limit"), [
    (False, "larger than the 1 MiB limit (OMNIROUTE_UPSTREAM_MAX_BODY_BYTES)"),
    (True, "larger than the 256 KiB limit (OMNIROUTE_UPSTREAM_MAX_EVENT_BYTES)"),  # one huge event
], ids=["json", "stream"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_a_huge_reply_is_a_502_naming_the_limit_and_the_upstream_is_let_go(env: Any, fmt: str, stream: bool, limit: str) -> None:
    mock, api = env
    mock.add_fault(pad_bytes=PAD, model="huge")
    response, text = call(api, fmt, "oa/huge", stream)
    assert response.status_code == 502, text[:300]
    message = error_message(response, text, fmt)
    assert limit in message, message
    _assert_let_go(mock)


def _assert_let_go(mock: MockProvider) -> None:
    """Reading stopped near the cap and the upstream connection was closed: the mock saw the
    client leave long before the end of its reply (memory stays flat)."""
    entry = mock.requests[-1]
    wait_until(lambda: entry["client_disconnected"], 10, lambda: f"the mock still sending: {entry['sent_bytes']} bytes")
    assert entry["sent_bytes"] < PAD // 4, entry["sent_bytes"]


def _id(api: httpx.Client, name: str) -> str:
    return next(c["id"] for c in api.get("/api/providers").json()["connections"] if c["name"] == name)
