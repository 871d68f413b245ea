"""The Responses WebSocket with what current Codex sends, to Anthropic- and Gemini-format providers.

A real OmniRoute process, the mock provider, and the `websockets` client: the warm-up is
answered without the provider, the next frame chains on it with `previous_response_id` and
carries Codex's `additional_tools` item, `namespace` tools and new fields, and every response,
an error included, is a row of its own in the inspector.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect

from tests.support.harness import OmniRouteProcess
from tests.support.mock_provider import MockProvider

FRAMES = json.loads((Path(__file__).parents[1] / "unit" / "translate" / "golden" / "codex_0169_frames.json").read_text())


@pytest.fixture(scope="module")
def env(mock_provider: MockProvider) -> Iterator[tuple[OmniRouteProcess, httpx.Client]]:
    with OmniRouteProcess(proxy=False, bridge=False) as proc:
        proc.add_provider("anthropic", "ant", mock_provider.url, api_key="sk-ant-ws-0001")
        proc.add_provider("gemini", "gem", mock_provider.url, api_key="sk-gem-ws-0001")
        with proc.api() as api:
            yield proc, api


def _response(ws: ClientConnection) -> list[dict[str, Any]]:
    events = []
    while not events or events[-1]["type"] not in ("response.completed", "response.failed", "error"):
        events.append(json.loads(ws.recv(timeout=30)))
    return events


@pytest.mark.parametrize(("model", "path"), [("ant/claude-ws", "/v1/messages"),
                                             ("gem/gemini-ws", "/v1beta/models/gemini-ws:streamGenerateContent")])
def test_a_codex_session_to_another_format(env: Any, mock: MockProvider, model: str, path: str) -> None:
    proc, api = env
    api.delete("/api/tools/traffic-inspector/requests")
    with connect(f"ws://127.0.0.1:{proc.api_port}/v1/responses", open_timeout=15) as ws:
        ws.send(json.dumps({**FRAMES["warmup"], "model": model}))
        warmup = _response(ws)
        assert [e["type"] for e in warmup] == ["response.created", "response.completed"]
        assert mock.requests == []  # a warm-up asks no model
        ws.send(json.dumps({**FRAMES["turn"], "model": model, "previous_response_id": warmup[-1]["response"]["id"]}))
        turn = _response(ws)
        assert turn[-1]["type"] == "response.completed", turn[-1]
        text = "".join(e["delta"] for e in turn if e["type"] == "response.output_text.delta")
        assert text == f"mock reply from {model.split('/')[1]}: say hello"
        follow = {"type": "response.create", "model": model, "previous_response_id": turn[-1]["response"]["id"],
                  "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "and again"}]}]}
        ws.send(json.dumps(follow))
        assert _response(ws)[-1]["type"] == "response.completed"
        ws.send(json.dumps({"type": "response.create", "model": "nosuch/model", "input": "hi"}))
        assert _response(ws)[-1]["type"] == "error"
    sent = [r["body"] for r in mock.requests if r["path"].startswith(path.split(":")[0])]
    assert len(sent) == 2
    assert text in json.dumps(sent[1]) and "say hello" in json.dumps(sent[1])  # the chain came back in front
    rows = api.get("/api/tools/traffic-inspector/requests", params={"limit": 50}).json()["requests"]
    ws_rows = sorted((r for r in rows if r["method"] == "WS"), key=lambda r: r["timestamp"])
    assert [r["status"] for r in ws_rows] == [200, 200, 200, 404], [(r["status"], r["error"]) for r in ws_rows]
    assert ws_rows[-1]["error"] and "nosuch/model" in ws_rows[-1]["error"]
    assert {r["sourceModel"] for r in ws_rows} == {model, "nosuch/model"}


@pytest.mark.parametrize(("model", "path"), [("ant/claude-http", "/v1/messages"),
                                             ("gem/gemini-http", "/v1beta/models/gemini-http:streamGenerateContent")])
def test_codex_turn_over_https_to_another_format(env: Any, mock: MockProvider, model: str, path: str) -> None:
    """The same turn Codex sends on its socket, as its HTTPS POST (no envelope `type`), streamed."""
    proc, api = env
    mock.clear()
    body = {k: v for k, v in FRAMES["turn"].items() if k != "type"} | {"model": model}
    with httpx.stream("POST", f"http://127.0.0.1:{proc.api_port}/v1/responses", json=body, timeout=30) as reply:
        assert reply.status_code == 200, reply.read()
        events = [json.loads(line[5:]) for line in reply.iter_lines() if line.startswith("data:")]
    assert events[-1]["type"] == "response.completed", events[-1]
    text = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert text == f"mock reply from {model.split('/')[1]}: say hello"
    sent = [r["body"] for r in mock.requests if r["path"].startswith(path.split(":")[0])]
    assert len(sent) == 1 and "say hello" in json.dumps(sent[0])
    rows = api.get("/api/tools/traffic-inspector/requests", params={"limit": 50}).json()["requests"]
    assert any(r["method"] == "POST" and r["path"] == "/v1/responses" and r["sourceModel"] == model
               and r["status"] == 200 for r in rows), [(r["method"], r["path"], r["sourceModel"]) for r in rows]
