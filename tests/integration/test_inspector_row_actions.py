"""Traffic Inspector API: what can be done with a captured row (annotation, replay through the
engine, HAR export), driven by real traffic through the HTTP_PROXY listener.

Calls and routing as described in inspector_fixtures.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

from tests.support.harness import OmniRouteProcess, free_port
from tests.support.inspector_support import (
    BASE,
    SYSTEM,
    finished_row,
    har_validates,
    mapped_call,
    marker,
    mitmdump_reads,
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


# -- annotation, replay -----------------------------------------------------------------------
def test_annotation_is_saved_and_limited_to_10000_characters(routed: OmniRouteProcess) -> None:
    text = marker()
    mapped_call(routed, text)
    row = finished_row(routed, with_text(text))
    url = f"{BASE}/requests/{row['id']}/annotation"
    with routed.api() as api:
        assert api.put(url, json={"annotation": "a" * 10_000}).status_code == 200
        assert api.get(f"{BASE}/requests/{row['id']}").json()["annotation"] == "a" * 10_000
        too_long = api.put(url, json={"annotation": "a" * 10_001})
        assert too_long.status_code == 400 and "10000" in too_long.json()["error"]["message"]
        assert api.put(url, json={"annotation": "why this call failed"}).json()["annotation"] == "why this call failed"
        assert api.get(f"{BASE}/requests/{row['id']}").json()["annotation"] == "why this call failed"
        assert api.put(f"{BASE}/requests/{uuid.uuid4()}/annotation", json={"annotation": "x"}).status_code == 404
        assert api.get(f"{BASE}/requests/{uuid.uuid4()}").status_code == 404
    assert rows(routed, q="why this call failed")[0]["id"] == row["id"]


def test_replay_goes_through_the_engine_with_a_model_override(routed: OmniRouteProcess, mock: MockProvider) -> None:
    text, streamed = marker(), marker()
    mapped_call(routed, text)
    mapped_call(routed, streamed, stream=True)
    row = finished_row(routed, with_text(text))
    stream_row = finished_row(routed, with_text(streamed))
    with routed.api() as api:
        replayed = api.post(f"{BASE}/requests/{row['id']}/replay", json={"model": "mock/gpt-replayed"})
        assert replayed.status_code == 200, replayed.text
        assert replayed.json()["choices"][0]["message"]["content"] == f"mock reply from gpt-replayed: {text}"
        assert mock.requests[-1]["body"]["model"] == "gpt-replayed"
        # Headers are not replayed: the provider gets the connection's key, never the agent's.
        assert mock.requests[-1]["headers"]["authorization"] == "Bearer sk-test-provider-key-0001"
        default = api.post(f"{BASE}/requests/{row['id']}/replay")
        assert default.json()["model"] == "gpt-mapped"
        as_stream = api.post(f"{BASE}/requests/{stream_row['id']}/replay", json={"model": "mock/gpt-replayed"})
        assert as_stream.headers["content-type"].startswith("text/event-stream")
        assert "data: [DONE]" in as_stream.text and "gpt-replayed" in as_stream.text
        logs = wait_for(lambda: api.get("/api/usage/call-logs", params={"source": "replay"}).json()["items"],
                        lambda items: len(items) >= 3)
        assert {item["modelRequested"] for item in logs} >= {"mock/gpt-replayed", "mock/gpt-mapped"}
        missing = api.post(f"{BASE}/requests/{uuid.uuid4()}/replay")
        assert missing.status_code == 404
        # The row exists; a model nothing routes is the caller's bad input, named, not a 404.
        unknown = api.post(f"{BASE}/requests/{row['id']}/replay", json={"model": "nowhere/no-such-model"})
        assert unknown.status_code == 400 and "'nowhere/no-such-model'" in unknown.json()["error"]["message"]


def test_replay_refuses_calls_that_are_not_model_calls(routed: OmniRouteProcess) -> None:
    path = f"/not-a-model-{marker()}"
    with proxied_http(routed) as client:
        client.get(f"http://127.0.0.1:{free_port()}{path}")
    row = finished_row(routed, lambda r: r["path"] == path)
    with routed.api() as api:
        response = api.post(f"{BASE}/requests/{row['id']}/replay", json={})
    assert response.status_code == 400 and "model calls" in response.json()["error"]["message"]


# -- HAR export -------------------------------------------------------------------------------
def test_har_export_is_valid_and_reads_back_into_mitmdump(routed: OmniRouteProcess, mock: MockProvider,
                                                          tmp_path: Path) -> None:
    text = marker()
    mapped_call(routed, text, stream=True)
    unmapped_call(routed, mock, marker())
    finished_row(routed, with_text(text))
    with routed.api() as api:
        response = api.get(f"{BASE}/export.har", params={"filter": "~d api.openai.com & ~c 200"})
        everything = api.get(f"{BASE}/export.har")
    assert response.status_code == 200 and "attachment" in response.headers["content-disposition"]
    har = response.json()
    entries = har["log"]["entries"]
    assert entries and all(e["request"]["url"].startswith("https://api.openai.com/") for e in entries)
    assert all(e["response"]["status"] == 200 for e in entries)
    mine = next(e for e in entries if text in e["request"]["postData"]["text"])
    assert (mine["_source"], mine["_agent"], mine["_sourceModel"], mine["_mappedModel"]) == (
        "http-proxy", "codex", "gpt-4o", "mock/gpt-mapped")
    assert mine["_contextKey"] == hashlib.sha256(SYSTEM.encode()).hexdigest()[:12]
    assert "data: " in mine["response"]["content"]["text"]  # SSE kept as text
    assert [e["startedDateTime"] for e in entries] == sorted(e["startedDateTime"] for e in entries)
    for name, body in (("filtered.har", response.content), ("all.har", everything.content)):
        path = tmp_path / name
        path.write_bytes(body)
        read = mitmdump_reads(path)
        assert read.returncode == 0, read.stderr + read.stdout
        valid = har_validates(path)
        assert valid.returncode == 0 and "valid" in valid.stdout, valid.stderr
    cli = tmp_path / "cli.har"
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "omniroute"), "har", "export", "--filter", "~d api.openai.com",
         "-o", str(cli), "--api-port", str(routed.api_port)],
        check=False, capture_output=True, text=True, timeout=60, env={**os.environ, "OMNIROUTE_HOME": str(routed.home)})
    assert proc.returncode == 0, proc.stderr
    assert json.loads(cli.read_text())["log"]["entries"] and "entries" in proc.stdout


