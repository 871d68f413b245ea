"""Traffic Inspector recording sessions: their lifecycle, HAR export and survival across a
restart, on OmniRoute processes of their own driven by real traffic.

Calls and routing as described in inspector_fixtures.py.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx

from tests.support.harness import OmniRouteProcess
from tests.support.inspector_support import (
    BASE,
    cli,
    finished_row,
    gsettings_env,
    har_validates,
    mapped_call,
    marker,
    mitmdump_reads,
    rows,
    setup_routing,
    unmapped_call,
    wait_for,
    with_text,
)
from tests.support.mock_provider import MockProvider

from .inspector_fixtures import START_TIMEOUT


# -- recording sessions -------------------------------------------------------------------------
def _session(proc: OmniRouteProcess, session_id: str) -> httpx.Response:
    with proc.api() as api:
        return api.get(f"{BASE}/sessions/{session_id}")


def test_sessions_lifecycle_and_restart_survival(mock: MockProvider, tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = OmniRouteProcess(home, env=gsettings_env(tmp_path)).start(timeout=START_TIMEOUT)
    try:
        setup_routing(first, mock)
        with first.api() as api:
            started = api.post(f"{BASE}/sessions", json={"name": "run 1"})
            assert started.status_code == 201
            one = started.json()
            assert (one["name"], one["request_count"], one["ended_at"], one["active"]) == ("run 1", 0, None, True)
        texts = [marker() for _ in range(3)]
        mapped_call(first, texts[0])
        mapped_call(first, texts[1], stream=True)
        unmapped_call(first, mock, texts[2])
        wait_for(lambda: _session(first, one["id"]).json()["request_count"], lambda n: n == 3)
        with first.api() as api:
            renamed = api.patch(f"{BASE}/sessions/{one['id']}", json={"action": "rename", "name": "renamed run"})
            assert renamed.json()["name"] == "renamed run"
            stopped = api.patch(f"{BASE}/sessions/{one['id']}", json={"action": "stop"}).json()
            assert stopped["ended_at"] and stopped["active"] is False
            assert api.patch(f"{BASE}/sessions/{one['id']}", json={"action": "rename"}).status_code == 400
        mapped_call(first, marker())  # after stop: not recorded
        with first.api() as api:
            two = api.post(f"{BASE}/sessions", json={"name": "run 2", "profile": "llm"}).json()
        after = marker()
        mapped_call(first, after)
        finished_row(first, with_text(after))
        wait_for(lambda: _session(first, two["id"]).json()["request_count"], lambda n: n == 1)
        detail = _session(first, one["id"]).json()
        assert detail["request_count"] == 3 and len(detail["requests"]) == 3
        assert {json.loads(r["requestBody"])["messages"][-1]["content"] for r in detail["requests"]} == set(texts)
        har = tmp_path / "session.har"
        with first.api() as api:
            har.write_bytes(api.get(f"{BASE}/sessions/{one['id']}/export.har").content)
            assert api.get(f"{BASE}/sessions/{uuid.uuid4()}/export.har").status_code == 404
        assert len(json.loads(har.read_text())["log"]["entries"]) == 3
        assert mitmdump_reads(har).returncode == 0
        assert har_validates(har).returncode == 0
        row_ids = {r["id"] for r in detail["requests"]}
    finally:
        first.stop()

    # Same home, new process: sessions, counts and rows are all still there; run 2 keeps recording.
    second = OmniRouteProcess(home, env=gsettings_env(tmp_path)).start(timeout=START_TIMEOUT)
    try:
        with second.api() as api:
            listed = {s["id"]: s for s in api.get(f"{BASE}/sessions").json()}
            assert listed[one["id"]]["request_count"] == 3 and listed[one["id"]]["name"] == "renamed run"
            assert listed[two["id"]]["active"] is True and listed[two["id"]]["request_count"] == 1
            assert rows(second) == [] or not (row_ids & {r["id"] for r in rows(second)})
            restored = api.get(f"{BASE}/requests/{min(row_ids)}")  # from the database
            assert restored.status_code == 200 and restored.json()["sessionId"] == one["id"]
        setup_routing(second, mock)
        mapped_call(second, marker())
        wait_for(lambda: _session(second, two["id"]).json()["request_count"], lambda n: n == 2)
        cli_sessions = cli("sessions", home=home)
        assert cli_sessions.returncode == 0, cli_sessions.stderr
        assert "renamed run" in cli_sessions.stdout and "run 2" in cli_sessions.stdout
        out = tmp_path / "cli-session.har"
        exported = cli("har", "export", "--session", one["id"], "-o", str(out),
                        "--api-port", str(second.api_port), home=home)
        assert exported.returncode == 0, exported.stderr
        assert len(json.loads(out.read_text())["log"]["entries"]) == 3
        with second.api() as api:
            assert api.delete(f"{BASE}/sessions/{one['id']}").status_code == 204
            assert api.get(f"{BASE}/sessions/{one['id']}").status_code == 404
            assert api.delete(f"{BASE}/sessions/{one['id']}").status_code == 404
            assert one["id"] not in {s["id"] for s in api.get(f"{BASE}/sessions").json()}
    finally:
        second.close()
