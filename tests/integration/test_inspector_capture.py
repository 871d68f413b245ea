"""Traffic Inspector API, driven by real traffic through the HTTP_PROXY listener: what is
captured (rows, merged streams, conversations), how it is filtered and pushed live over the
WebSocket, and the capture settings (custom hosts, capture modes, ingest).

Calls and routing as described in inspector_fixtures.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
import uuid
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from tests.support.harness import OmniRouteProcess, free_port
from tests.support.inspector_support import (
    BASE,
    SYSTEM,
    anthropic_client,
    finished_row,
    mapped_call,
    marker,
    openai_client,
    proxied_http,
    rows,
    unmapped_call,
    wait_for,
    with_text,
)
from tests.support.mock_provider import MockProvider

from .inspector_fixtures import (
    proc_fixture,  # noqa: F401 (a fixture, used by name)
    routed_fixture,  # noqa: F401 (a fixture, used by name)
)


# -- captured rows, merged streams, conversation --------------------------------------------
def test_mapped_calls_are_captured_with_models_bodies_and_merged_streams(routed: OmniRouteProcess) -> None:
    plain, streamed = marker(), marker()
    assert mapped_call(routed, plain) == f"mock reply from gpt-mapped: {plain}"
    assert mapped_call(routed, streamed, stream=True) == f"mock reply from gpt-mapped: {streamed}"

    row = finished_row(routed, with_text(plain))
    assert (row["method"], row["host"], row["path"], row["status"]) == ("POST", "api.openai.com", "/v1/chat/completions", 200)
    assert (row["source"], row["agent"], row["detectedKind"]) == ("http-proxy", "codex", "llm")
    assert (row["sourceModel"], row["mappedModel"]) == ("gpt-4o", "mock/gpt-mapped")
    assert row["contextKey"] == hashlib.sha256(SYSTEM.encode()).hexdigest()[:12]
    assert json.loads(row["requestBody"])["messages"][-1]["content"] == plain
    assert row["requestSize"] == len(row["requestBody"].encode())
    assert f"mock reply from gpt-mapped: {plain}" in row["responseBody"]
    assert row["totalLatencyMs"] >= row["upstreamLatencyMs"] >= 0 and row["proxyLatencyMs"] >= 0
    assert "sk-agent-own-key-0001" not in json.dumps(row)

    stream_row = finished_row(routed, with_text(streamed))
    with routed.api() as api:
        detail = api.get(f"{BASE}/requests/{stream_row['id']}").json()
    assert detail["stream"] is True and detail["merged"]["format"] == "openai-chat"
    assert detail["merged"]["events"] > 3
    merged = detail["merged"]["message"]["choices"][0]["message"]["content"]
    assert merged == f"mock reply from gpt-mapped: {streamed}"
    assert "data: " in detail["responseBody"]  # the raw SSE is kept as text too


def test_anthropic_stream_is_merged_into_one_message(routed: OmniRouteProcess) -> None:
    text = marker()
    with anthropic_client(routed).messages.stream(
        model="claude-opus-4-1", max_tokens=100, system=SYSTEM, messages=[{"role": "user", "content": text}]
    ) as stream:
        reply = "".join(stream.text_stream)
    assert reply == f"mock reply from claude-mapped: {text}"
    row = finished_row(routed, with_text(text))
    assert (row["host"], row["path"], row["agent"]) == ("api.anthropic.com", "/v1/messages", "claude-code")
    assert (row["sourceModel"], row["mappedModel"]) == ("claude-opus-4-1", "mock/claude-mapped")
    assert row["contextKey"] == hashlib.sha256(SYSTEM.encode()).hexdigest()[:12]
    with routed.api() as api:
        detail = api.get(f"{BASE}/requests/{row['id']}").json()
    assert detail["merged"]["format"] == "anthropic"
    blocks = detail["merged"]["message"]["content"]
    assert "".join(b.get("text", "") for b in blocks) == reply
    conversation = detail["conversation"]
    assert conversation["format"] == "anthropic" and conversation["system"] == SYSTEM
    assert conversation["messages"][-1]["role"] == "assistant"
    assert conversation["messages"][-1]["content"][0]["text"] == reply


def test_conversation_view_shows_system_messages_tool_calls_and_usage(routed: OmniRouteProcess) -> None:
    text = f"please use a tool for {marker()}"
    tools = [{"type": "function", "function": {"name": "lookup", "description": "look up",
                                               "parameters": {"type": "object", "properties": {"query": {"type": "string"}}}}}]
    completion = openai_client(routed).chat.completions.create(
        model="gpt-4o", tools=tools,  # type: ignore[arg-type]
        messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": text}])
    assert completion.choices[0].message.tool_calls
    row = finished_row(routed, with_text(text))
    with routed.api() as api:
        conversation = api.get(f"{BASE}/requests/{row['id']}").json()["conversation"]
    assert conversation["format"] == "openai-chat" and conversation["model"] == "gpt-4o"
    assert conversation["system"] == SYSTEM and conversation["tools"] == ["lookup"]
    roles = [m["role"] for m in conversation["messages"]]
    assert roles[-2:] == ["user", "assistant"]
    call = conversation["messages"][-1]["content"][0]
    assert call["type"] == "tool_call" and call["name"] == "lookup"
    assert conversation["usage"]["input"] > 0 and conversation["usage"]["output"] > 0


# -- filters ----------------------------------------------------------------------------------
def test_every_filter(routed: OmniRouteProcess, mock: MockProvider) -> None:
    m_mapped, m_ok, m_429 = marker(), marker(), marker()
    mapped_call(routed, m_mapped)
    assert unmapped_call(routed, mock, m_ok) == 200
    assert unmapped_call(routed, mock, m_429, model="fail-429") == 429
    with proxied_http(routed) as client:  # nothing listens there: mitmproxy answers 502
        assert client.get(f"http://127.0.0.1:{free_port()}/nothing-{m_429}").status_code == 502
    mapped, ok, limited = (finished_row(routed, with_text(m)) for m in (m_mapped, m_ok, m_429))
    failed = finished_row(routed, lambda r: r["path"] == f"/nothing-{m_429}")
    ours = {mapped["id"], ok["id"], limited["id"], failed["id"]}

    def ids(**params: Any) -> set[str]:
        return {r["id"] for r in rows(routed, **params)} & ours

    assert (ok["agent"], ok["mappedModel"], ok["host"]) == (None, None, "127.0.0.1")
    assert ids(agent="codex") == {mapped["id"]}
    assert ids(host="api.openai.com") == {mapped["id"]}
    assert ids(host="*.openai.com") == {mapped["id"]}
    assert ids(host="127.0.0.1") == {ok["id"], limited["id"], failed["id"]}
    assert ids(status="2xx") == {mapped["id"], ok["id"]}
    assert ids(status="4xx") == {limited["id"]} == ids(status="429")
    assert failed["status"] in ("error", 502)
    assert ids(status="error" if failed["status"] == "error" else "5xx") == {failed["id"]}
    assert ids(source="http-proxy") == ours and ids(source="agent-bridge") == set()
    assert ids(profile="llm") == {mapped["id"], ok["id"], limited["id"]}
    assert ids(profile="all") == ours and ids(profile="custom") == set()
    assert ids(q=m_ok.upper()) == {ok["id"]}
    assert ids(filter="~d api.openai.com & ~c 200") == {mapped["id"]}
    assert all(r["host"] == "api.openai.com" and r["status"] == 200
               for r in rows(routed, filter="~d api.openai.com & ~c 200"))
    assert ids(filter="~c 429") == {limited["id"]}
    assert ids(filter=f"~b {m_ok}") == {ok["id"]}
    with routed.api() as api:
        bad = api.get(f"{BASE}/requests", params={"filter": "~d ("})
        session = api.post(f"{BASE}/sessions", json={"name": "filter test"}).json()
    assert bad.status_code == 400 and "Invalid filter expression" in bad.json()["error"]["message"]
    m_session = marker()
    mapped_call(routed, m_session)
    in_session = finished_row(routed, with_text(m_session))
    with routed.api() as api:
        api.patch(f"{BASE}/sessions/{session['id']}", json={"action": "stop"}).raise_for_status()
    assert {r["id"] for r in rows(routed, sessionId=session["id"])} == {in_session["id"]}
    page = routed.api().get(f"{BASE}/requests", params={"limit": 2}).json()
    assert len(page["requests"]) == 2 and page["total"] >= 5 and page["nextCursor"]


# -- live WebSocket ---------------------------------------------------------------------------
def _ws_url(proc: OmniRouteProcess, query: str = "") -> str:
    return f"ws://127.0.0.1:{proc.api_port}{BASE}/ws{query}"


def test_websocket_sends_snapshot_then_new_and_update_events(routed: OmniRouteProcess) -> None:
    text = marker()
    with connect(_ws_url(routed, "?pingInterval=1"), open_timeout=10) as ws:
        snapshot = json.loads(ws.recv(timeout=10))
        assert snapshot["type"] == "snapshot" and isinstance(snapshot["data"], list)
        mapped_call(routed, text)
        events: list[dict[str, Any]] = []
        row_id = None
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            event = json.loads(ws.recv(timeout=10))
            events.append(event)
            data = event.get("data") or {}
            if event["type"] == "new" and data.get("path") == "/v1/chat/completions" and data["host"] == "api.openai.com":
                row_id = row_id or data["id"]
            if (event["type"] == "update" and data.get("id") == row_id and data["status"] == 200
                    and text in (data.get("requestBody") or "")):
                break
        else:
            raise AssertionError(f"no finished update event; got {[e['type'] for e in events]}")
        kinds = [e["type"] for e in events if (e.get("data") or {}).get("id") == row_id]
        assert kinds[0] == "new" and kinds[-1] == "update"
        first = next(e for e in events if (e.get("data") or {}).get("id") == row_id)
        assert first["data"]["status"] == "in-flight"
        assert json.loads(ws.recv(timeout=5))["type"] in ("ping", "update")
        wait_for(lambda: json.loads(ws.recv(timeout=5)), lambda e: e["type"] == "ping")
        with routed.api() as api:
            assert api.delete(f"{BASE}/requests").status_code == 204
        wait_for(lambda: json.loads(ws.recv(timeout=5)), lambda e: e["type"] == "clear")
    assert rows(routed) == [] or all(r["id"] != row_id for r in rows(routed))


def test_websocket_rejects_foreign_origins(routed: OmniRouteProcess) -> None:
    """Refused before any event: with 403 at the handshake (the app's browser-origin guard) or,
    when the socket is reached, closed by the route with 1008."""
    for origin in ("https://evil.example", "null"):
        try:
            with connect(_ws_url(routed), origin=origin, open_timeout=10) as ws, \
                    pytest.raises(ConnectionClosed) as closed:  # type: ignore[arg-type]
                ws.recv(timeout=10)
        except InvalidStatus as exc:
            assert exc.response.status_code == 403
        else:
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    with connect(_ws_url(routed), origin=f"http://localhost:{routed.api_port}", open_timeout=10) as ws:  # type: ignore[arg-type]
        assert json.loads(ws.recv(timeout=10))["type"] == "snapshot"


# -- custom hosts, capture modes, ingest --------------------------------------------------------
def test_custom_hosts_edit_the_hosts_file_and_label_captures(routed: OmniRouteProcess, mock: MockProvider) -> None:
    hosts_file = routed.home / "hosts"
    with routed.api() as api:
        created = api.post(f"{BASE}/hosts", json={"host": "LocalHost", "label": "mock on localhost", "kind": "llm"})
        assert created.status_code == 201, created.text
        assert created.json()["host"] == "localhost" and created.json()["enabled"] is True
        assert api.post(f"{BASE}/hosts", json={"host": "localhost"}).status_code == 409
        assert api.post(f"{BASE}/hosts", json={"host": "bad host!"}).status_code == 400
        assert api.post(f"{BASE}/hosts", json={"host": "*.example.com"}).status_code == 400
        assert "127.0.0.1 localhost # omniroute:custom-hosts" in hosts_file.read_text()
        assert api.get(f"{BASE}/capture-modes").json()["customHosts"] == {"active": True, "count": 1}
    text = marker()
    with proxied_http(routed) as client:
        client.post(f"http://localhost:{mock.port}/v1/chat/completions",
                    json={"model": "gpt-custom", "messages": [{"role": "user", "content": text}]})
    row = finished_row(routed, with_text(text))
    assert (row["source"], row["status"]) == ("custom-host", 200)
    assert row["id"] in {r["id"] for r in rows(routed, profile="custom")}
    assert rows(routed, profile="custom", source="http-proxy") == []
    with routed.api() as api:
        listed = api.get(f"{BASE}/hosts").json()
        assert [h["host"] for h in listed] == ["localhost"] and listed[0]["last_seen_at"]
        off = api.patch(f"{BASE}/hosts/localhost", json={"enabled": False})
        assert off.status_code == 200 and off.json()["enabled"] is False
        assert "omniroute:custom-hosts" not in hosts_file.read_text()
        assert api.delete(f"{BASE}/hosts/localhost").status_code == 204
        assert api.delete(f"{BASE}/hosts/localhost").status_code == 404
        assert api.get(f"{BASE}/hosts").json() == []


def _gsettings(proc: OmniRouteProcess, *args: str) -> str:
    env = {**os.environ, **proc.extra_env}
    return subprocess.run(["gsettings", *args], capture_output=True, text=True, env=env, check=True).stdout.strip()


def test_capture_modes_state_tls_toggle_and_system_proxy_guard(routed: OmniRouteProcess) -> None:
    with routed.api() as api:
        state = api.get(f"{BASE}/capture-modes").json()
        assert state["httpProxy"] == {"active": True, "port": routed.proxy_port}
        assert state["agentBridge"]["active"] is True and state["systemProxy"]["active"] is False
        assert state["tlsIntercept"] == {"enabled": True}
        assert api.post(f"{BASE}/capture-modes/tls-intercept", json={"enabled": False}).status_code == 200
        assert api.get(f"{BASE}/capture-modes").json()["tlsIntercept"] == {"enabled": False}
        api.post(f"{BASE}/capture-modes/tls-intercept", json={"enabled": True}).raise_for_status()

        if not state["systemProxy"]["supported"]:
            response = api.post(f"{BASE}/capture-modes/system-proxy", json={"action": "apply"})
            assert response.status_code == 501 and "not supported" in response.json()["error"]["message"]
            return
        before = _gsettings(routed, "get", "org.gnome.system.proxy", "mode")
        applied = api.post(f"{BASE}/capture-modes/system-proxy", json={"action": "apply", "guardSeconds": 1.5})
        assert applied.status_code == 200, applied.text
        assert applied.json()["systemProxy"]["active"] is True
        assert _gsettings(routed, "get", "org.gnome.system.proxy", "mode") == "'manual'"
        assert _gsettings(routed, "get", "org.gnome.system.proxy.http", "port") == str(routed.proxy_port)
        # Nobody confirms: the guard puts the previous settings back by itself.
        wait_for(lambda: api.get(f"{BASE}/capture-modes").json()["systemProxy"]["active"], lambda a: a is False)
        assert _gsettings(routed, "get", "org.gnome.system.proxy", "mode") == before

        api.post(f"{BASE}/capture-modes/system-proxy", json={"action": "apply", "guardSeconds": 1}).raise_for_status()
        api.post(f"{BASE}/capture-modes/system-proxy", json={"action": "confirm"}).raise_for_status()
        time.sleep(1.5)
        assert api.get(f"{BASE}/capture-modes").json()["systemProxy"]["active"] is True
        reverted = api.post(f"{BASE}/capture-modes/system-proxy", json={"action": "revert"})
        assert reverted.json()["systemProxy"]["active"] is False
        assert _gsettings(routed, "get", "org.gnome.system.proxy", "mode") == before


def test_ingest_needs_the_token_and_masks_what_it_stores(routed: OmniRouteProcess) -> None:
    token = (routed.home / "inspector-ingest.token").read_text()
    assert (routed.home / "inspector-ingest.token").stat().st_mode & 0o777 == 0o600
    row_id = str(uuid.uuid4())
    secret = "sk-ingestsecret0123456789abcdefghij"
    row = {"id": row_id, "source": "http-proxy", "timestamp": "2026-01-02T03:04:05.000Z", "method": "POST",
           "host": "api.example-llm.com", "path": "/v1/chat/completions", "status": 200,
           "requestHeaders": {"authorization": f"Bearer {secret}"}, "requestSize": 2,
           "requestBody": json.dumps({"api_key": secret, "model": "x"}),
           "responseHeaders": {}, "responseSize": 0}
    url = f"{BASE}/internal/ingest"
    with routed.api() as api:
        assert api.post(url, json=row).status_code == 401
        assert api.post(url, json=row, headers={"x-inspector-ingest-token": "wrong"}).status_code == 401
        assert api.post(url, json=row, headers={"x-inspector-ingest-token": token}).status_code == 204
        assert api.post(url, json={"nope": 1}, headers={"authorization": f"Bearer {token}"}).status_code == 400
        stored = api.get(f"{BASE}/requests/{row_id}").json()
    assert stored["host"] == "api.example-llm.com" and stored["status"] == 200
    assert secret not in json.dumps(stored) and secret[8:] not in json.dumps(stored)


