"""A canary secret sent by clients (bearer token, x-api-key, cookie, query key) is stored nowhere.

Real traffic through the proxy — mapped calls (routed to the mock provider) and unmapped ones
(passed through to the mock) — while a recording session runs and a WebSocket watches. Then the
canary is looked for in every API response, every WebSocket event, the HAR exports (API and
CLI), and every file under the home directory after the process stopped: the SQLite database
(with its WAL), the process log, the logs directory.

Masking keeps a short prefix (at most 5 characters) of a secret, so what must never appear is
the canary minus its first 5 characters.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.support.harness import OmniRouteProcess
from tests.support.inspector_support import (
    BASE,
    anthropic_client,
    openai_client,
    proxied_http,
    rows,
    setup_routing,
    wait_for,
)
from tests.support.mock_provider import MockProvider

CANARY = f"sk-canary-{uuid.uuid4().hex}{uuid.uuid4().hex[:8]}"
HIDDEN = CANARY[5:]  # what masking must never let through
CANARY_B = HIDDEN.encode()


class _WsRecorder(threading.Thread):
    """Every text frame the inspector socket sends, kept raw."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.frames: list[str] = []
        self.ws: ClientConnection | None = None
        self.ready = threading.Event()

    def run(self) -> None:
        with connect(self.url, open_timeout=30) as ws:
            self.ws = ws
            self.ready.set()
            try:
                for frame in ws:
                    self.frames.append(frame if isinstance(frame, str) else frame.decode())
            except ConnectionClosed:
                pass


def _client_calls(proc: OmniRouteProcess, mock: MockProvider) -> None:
    leaky = {"x-api-key": CANARY, "cookie": f"session={CANARY}; theme=dark"}
    client = openai_client(proc, api_key=CANARY, default_headers=leaky, default_query={"key": CANARY})
    messages = [{"role": "system", "content": "canary test"}, {"role": "user", "content": "hello canary"}]
    client.chat.completions.create(model="gpt-4o", messages=messages)  # type: ignore[arg-type]
    chunks = client.chat.completions.create(model="gpt-4o", messages=messages, stream=True)  # type: ignore[arg-type]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    with anthropic_client(proc, api_key=CANARY).messages.stream(
        model="claude-x", max_tokens=50, messages=[{"role": "user", "content": "hello canary"}],
        extra_headers={"cookie": f"sid={CANARY}"}, extra_query={"key": CANARY},
    ) as stream:
        assert "".join(stream.text_stream)
    # Unmapped: passed through to the mock as sent (the upstream sees the secret; we must not keep it).
    with proxied_http(proc) as http:
        response = http.post(
            f"{mock.url}/v1/chat/completions", params={"key": CANARY, "api_key": CANARY},
            headers={"authorization": f"Bearer {CANARY}", **leaky},
            json={"model": "gpt-passthrough", "messages": [{"role": "user", "content": "hello canary"}]},
        )
    assert response.status_code == 200


def test_canary_secret_appears_nowhere(mock: MockProvider, tmp_path: Path) -> None:
    home = tmp_path / "home"
    proc = OmniRouteProcess(home).start(timeout=180)
    seen: list[str] = []  # every API response body we read
    try:
        setup_routing(proc, mock)
        recorder = _WsRecorder(f"ws://127.0.0.1:{proc.api_port}{BASE}/ws")
        recorder.start()
        assert recorder.ready.wait(30)
        with proc.api() as api:
            session = api.post(f"{BASE}/sessions", json={"name": "canary"}).json()
        _client_calls(proc, mock)
        wait_for(lambda: proc.api().get(f"{BASE}/sessions/{session['id']}").json()["request_count"],
                 lambda n: n >= 4)
        assert any(m["headers"].get("authorization") == f"Bearer {CANARY}" for m in mock.requests), \
            "the passthrough call must really have carried the canary"
        token = (home / "inspector-ingest.token").read_text()
        leaked_row = {"id": str(uuid.uuid4()), "source": "http-proxy", "timestamp": "2026-01-01T00:00:00Z",
                      "method": "GET", "host": "example.com", "path": f"/x?key={CANARY}", "status": 200,
                      "requestHeaders": {"Cookie": f"a={CANARY}", "x-api-key": CANARY}, "requestSize": 0,
                      "responseHeaders": {"set-cookie": f"b={CANARY}"}, "responseSize": 0}
        with proc.api() as api:
            assert api.post(f"{BASE}/internal/ingest", json=leaked_row,
                            headers={"x-inspector-ingest-token": token}).status_code == 204
            listing = api.get(f"{BASE}/requests", params={"limit": 1000})
            seen.append(listing.text)
            captured = listing.json()["requests"]
            assert len(captured) >= 5
            for row in captured:
                seen.append(api.get(f"{BASE}/requests/{row['id']}").text)
            seen.append(api.get(f"{BASE}/sessions").text)
            seen.append(api.get(f"{BASE}/sessions/{session['id']}").text)
            (home / "live.har").write_bytes(api.get(f"{BASE}/export.har").content)
            (home / "session.har").write_bytes(api.get(f"{BASE}/sessions/{session['id']}/export.har").content)
            seen.append(api.get(f"{BASE}/requests", params={"q": "canary", "limit": 1000}).text)
            seen.append(api.get("/api/usage/call-logs", params={"limit": 1000}).text)
            api.patch(f"{BASE}/sessions/{session['id']}", json={"action": "stop"}).raise_for_status()
        cli = subprocess.run(
            [str(Path(sys.executable).parent / "omniroute"), "har", "export", "-o", str(home / "cli.har"),
             "--api-port", str(proc.api_port)],
            check=False, capture_output=True, text=True, timeout=60, env={**os.environ, "OMNIROUTE_HOME": str(home)})
        assert cli.returncode == 0, cli.stderr
        # The masked values really are there (so the checks below are not vacuous).
        mapped = [r for r in rows(proc) if r["host"] == "api.openai.com"]
        assert mapped and mapped[0]["requestHeaders"]["authorization"].startswith("Bearer ")
        assert "***" in mapped[0]["requestHeaders"]["x-api-key"]
        assert any("key=" in json.loads(t).get("query", "") for t in seen[1:len(captured) + 1])
        assert recorder.ws is not None
        recorder.ws.close()
        recorder.join(10)
    finally:
        proc.stop()

    assert len(recorder.frames) > 5 and any('"type": "update"' in f for f in recorder.frames)
    for frame in recorder.frames:
        assert HIDDEN not in frame, f"canary in a WebSocket event: {frame[:300]}"
    for text in seen:
        assert HIDDEN not in text, f"canary in an API response: {text[:300]}"
    for name in ("live.har", "session.har", "cli.har"):
        har = json.loads((home / name).read_text())
        assert har["log"]["entries"], name
    files = [p for p in home.rglob("*") if p.is_file()]
    assert home / "omniroute.db" in files and home / "process.log" in files
    assert (home / "omniroute.db").stat().st_size > 0
    for path in files:
        assert CANARY_B not in path.read_bytes(), f"canary found in {path.relative_to(home)}"
