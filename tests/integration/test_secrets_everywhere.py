"""One canary secret, used both as a client's key and as a stored provider key, is never kept
or shown in plaintext: not in the database (and its WAL), the process log, any API response,
WebSocket events, HAR exports, error messages — including an upstream 401 that echoes the key
back — nor in the output of a failed start.

Masking keeps a short prefix (at most 5 characters) of a secret, so what must never appear is
the canary minus its first 5 characters. ``test_inspector_secrets.py`` covers the inspector's
own header/cookie/query cases; this file adds the provider key and error paths.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import httpx
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.support.harness import OmniRouteProcess, free_port
from tests.support.inspector_support import BASE, proxied_http
from tests.support.mock_provider import MockProvider

CANARY = f"sk-canary-{uuid.uuid4().hex}{uuid.uuid4().hex[:8]}"
HIDDEN = CANARY[5:]
MSG = [{"role": "user", "content": "hello canary"}]


class _Frames(threading.Thread):
    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.frames, self.ready = url, [], threading.Event()
        self.ws = None

    def run(self) -> None:
        with connect(self.url, open_timeout=30) as ws:
            self.ws = ws  # type: ignore[assignment]
            self.ready.set()
            try:
                for frame in ws:
                    self.frames.append(frame if isinstance(frame, str) else frame.decode())
            except ConnectionClosed:
                pass


def _calls(proc: OmniRouteProcess, mock: MockProvider, api: httpx.Client, seen: list[str]) -> None:
    client_headers = {"authorization": f"Bearer {CANARY}", "x-api-key": CANARY, "x-goog-api-key": CANARY}
    for stream in (False, True):
        for path, body in (("/v1/chat/completions", {"model": "leaky/gpt", "messages": MSG}),
                           ("/v1/messages", {"model": "leaky/claude", "max_tokens": 16, "messages": MSG})):
            response = api.post(path, json={**body, "stream": stream}, headers=client_headers,
                                params={"key": CANARY})
            seen.append(response.text + str(response.headers))
            assert response.status_code == 200, response.text
    # The upstream refuses the key and echoes it back in its error message.
    mock.add_fault(401, message=f"Incorrect API key provided: {CANARY}. Check it.", model="echo-401")
    mock.add_fault(403, message=f"key {CANARY} has no access", model="echo-403")
    mock.add_fault(400, message=f"bad request for key {CANARY}", model="echo-400")
    for model in ("echo-401", "echo-403", "echo-400"):
        for path, extra in (("/v1/chat/completions", {}), ("/v1/messages", {"max_tokens": 16})):
            for stream in (False, True):
                api.post("/api/resilience/reset", json={})
                response = api.post(path, json={"model": f"leaky/{model}", "messages": MSG, "stream": stream, **extra})
                seen.append(response.text + str(response.headers))
                assert response.status_code >= 400
    assert sum(1 for r in mock.requests if r["headers"].get("authorization") == f"Bearer {CANARY}") >= 4, \
        "the provider key must really have been sent upstream"
    # Captured by the inspector: an unmapped call through the proxy carrying the canary.
    with proxied_http(proc) as http:
        http.post(f"{mock.url}/v1/chat/completions", headers=client_headers, params={"key": CANARY},
                  json={"model": "passthrough", "messages": MSG})


def test_canary_key_appears_nowhere_in_plaintext(tmp_path: Path) -> None:
    home = tmp_path / "home"
    seen: list[str] = []
    with MockProvider() as mock:
        proc = OmniRouteProcess(home, bridge=False).start(timeout=120)
        try:
            proc.add_provider("openai", "leaky", f"{mock.url}/v1", api_key=CANARY)
            frames = _Frames(f"ws://127.0.0.1:{proc.api_port}{BASE}/ws")
            frames.start()
            assert frames.ready.wait(30)
            with proc.api() as api:
                session = api.post(f"{BASE}/sessions", json={"name": "canary"}).json()
                _calls(proc, mock, api, seen)
                for path in ("/api/providers", "/api/usage/call-logs?limit=1000", "/api/resilience",
                             f"{BASE}/requests?limit=1000", f"{BASE}/sessions", "/api/keys", "/v1/models",
                             "/api/tools/agent-bridge/state", "/health"):
                    seen.append(api.get(path).text)
                for connection in api.get("/api/providers").json()["connections"]:
                    seen.append(api.get(f"/api/providers/{connection['id']}").text)
                    seen.append(api.post(f"/api/providers/{connection['id']}/test").text)
                for row in api.get(f"{BASE}/requests", params={"limit": 1000}).json()["requests"]:
                    seen.append(api.get(f"{BASE}/requests/{row['id']}").text)
                seen.append(api.get(f"{BASE}/export.har").text)
                seen.append(api.get(f"{BASE}/sessions/{session['id']}/export.har").text)
                api.patch(f"{BASE}/sessions/{session['id']}", json={"action": "stop"})
            assert frames.ws is not None
            frames.ws.close()
            frames.join(10)
        finally:
            proc.stop()
    assert frames.frames, "the WebSocket saw no events"
    leaks = [text[:300] for text in seen + frames.frames if HIDDEN in text]
    assert not leaks, f"canary in {len(leaks)} API response(s)/event(s), first: {leaks[0]}"
    for path in (p for p in home.rglob("*") if p.is_file()):
        assert HIDDEN.encode() not in path.read_bytes(), f"canary found in {path.relative_to(home)}"


def test_a_failed_start_never_prints_a_secret(tmp_path: Path) -> None:
    """Crash output: a database URL with a password that cannot be reached."""
    dead = free_port()
    url = f"postgresql+psycopg://omniroute:{CANARY}@127.0.0.1:{dead}/omniroute"
    home = tmp_path / "home"
    result = subprocess.run(
        [str(Path(sys.executable).parent / "omniroute"), "run", "--home", str(home), "--api-port", str(free_port()),
         "--proxy-port", "0", "--bridge-port", "0"],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "DATABASE_URL": url, "OMNIROUTE_HOSTS_FILE": str(tmp_path / "hosts")},
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert HIDDEN not in output, output[-2000:]
    for path in (p for p in home.rglob("*") if p.is_file()):
        assert HIDDEN.encode() not in path.read_bytes(), f"canary found in {path.relative_to(home)}"
