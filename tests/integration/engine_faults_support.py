"""Shared setup of the routing-engine fault tests (``test_engine_*.py``), through real sockets.

One OmniRoute process per test module with several provider connections pointing at one mock
provider; each combo node asks for its own model name, so a fault rule matching that model hits
one connection only, and the mock's recording (model per request) shows who was tried, in order.
Resilience state is reset after every test; durations that tests wait out are short and
configured (Retry-After 1 s, breaker reset 2 s, a 1 s read timeout).

A test module imports ``engine_fixture`` and ``fresh_fixture`` to get the ``engine`` fixture
and the autouse ``fresh`` one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.support.harness import OmniRouteProcess
from tests.support.mock_provider import MockProvider

TEXT = "route this request please"
MESSAGES = [{"role": "user", "content": TEXT}]
# (name, provider type, path after the mock's URL, extra connection fields)
CONNECTIONS: tuple[tuple[str, str, str, dict[str, Any]], ...] = (
    ("oa", "openai", "/v1", {}),
    ("ob", "openai", "/v1", {}),
    ("oc", "openai", "/v1", {}),
    ("an", "anthropic", "", {}),
    # A short per-connection read timeout, so a slow upstream is given up on quickly.
    ("short", "openai", "/v1", {"timeoutSeconds": 1.0}),
)


def reply_text(model: str) -> str:
    return f"mock reply from {model}: {TEXT}"


@dataclass
class Engine:
    process: OmniRouteProcess
    mock: MockProvider
    api: httpx.Client
    ids: dict[str, str]  # connection name → id

    def upstream_models(self) -> list[str | None]:
        """Models the mock was asked for, in order: who was tried."""
        return [r["model"] for r in self.mock.requests]

    def combo(self, name: str, nodes: list[tuple[str, str]], strategy: str = "priority",
              weights: list[int] | None = None) -> str:
        body = {
            "name": name, "model": name, "strategy": strategy,
            "nodes": [
                {"connectionId": conn, "model": model, **({"weight": weights[i]} if weights else {})}
                for i, (conn, model) in enumerate(nodes)
            ],
        }
        response = self.api.post("/api/combos", json=body)
        assert response.status_code == 201, response.text
        return name

    def connection_state(self, name: str) -> dict[str, Any]:
        state = self.api.get("/api/resilience").json()
        found = [c for c in state["connections"] if c["connectionId"] == self.ids[name]]
        return found[0] if found else {"status": "active"}

    def breaker(self, provider: str) -> dict[str, Any]:
        state = self.api.get("/api/resilience").json()
        found = [b for b in state["breakers"] if b["provider"] == provider]
        return found[0] if found else {"state": "CLOSED", "failureCount": 0}

    def call_log(self, request_id: str) -> dict[str, Any]:
        response = self.api.get(f"/api/usage/call-logs/{request_id}")
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]


@dataclass
class Answer:
    status: int
    headers: httpx.Headers
    body: Any = None  # JSON body of a non-streamed answer (or of an error)
    events: list[tuple[str | None, Any]] = field(default_factory=list)  # (event name, data)
    text: str = ""  # the reply text, joined from the stream's deltas when streamed

    @property
    def model(self) -> str:
        return self.headers["x-omniroute-model"]

    @property
    def attempts(self) -> str:
        return self.headers["x-omniroute-fallback-attempts"]


def parse_sse(raw: bytes) -> list[tuple[str | None, Any]]:
    events: list[tuple[str | None, Any]] = []
    for block in raw.decode().split("\n\n"):
        name, data = None, []
        for line in block.splitlines():
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
        if data:
            payload = "\n".join(data)
            events.append((name, payload if payload == "[DONE]" else json.loads(payload)))
    return events


def _send(api: httpx.Client, path: str, body: dict[str, Any], stream: bool,
          text_of: Callable[[list[tuple[str | None, Any]]], str]) -> Answer:
    if not stream:
        response = api.post(path, json=body)
        data = response.json()
        return Answer(response.status_code, response.headers, data, text=_json_text(data))
    with api.stream("POST", path, json={**body, "stream": True}) as response:
        raw = response.read()
    if not response.headers.get("content-type", "").startswith("text/event-stream"):
        return Answer(response.status_code, response.headers, json.loads(raw))
    events = parse_sse(raw)
    return Answer(response.status_code, response.headers, events=events, text=text_of(events))


def _json_text(data: Any) -> str:
    if isinstance(data, dict) and data.get("choices"):
        return str(data["choices"][0]["message"]["content"])
    if isinstance(data, dict) and data.get("type") == "message":
        return "".join(b.get("text", "") for b in data["content"])
    return ""


def _chat_text(events: list[tuple[str | None, Any]]) -> str:
    return "".join(
        d["choices"][0]["delta"].get("content") or ""
        for _, d in events
        if isinstance(d, dict) and d.get("choices")
    )


def _anthropic_text(events: list[tuple[str | None, Any]]) -> str:
    return "".join(
        d["delta"].get("text", "") for name, d in events if name == "content_block_delta"
    )


def chat(engine: Engine, model: str, stream: bool = False, **extra: Any) -> Answer:
    body = {"model": model, "messages": MESSAGES, **extra}
    return _send(engine.api, "/v1/chat/completions", body, stream, _chat_text)


def messages(engine: Engine, model: str, stream: bool = False) -> Answer:
    body = {"model": model, "max_tokens": 64, "messages": MESSAGES}
    return _send(engine.api, "/v1/messages", body, stream, _anthropic_text)



@pytest.fixture(scope="module", name="engine")
def engine_fixture() -> Iterator[Engine]:
    with (
        MockProvider() as mock,
        OmniRouteProcess(proxy=False, bridge=False) as process,
        process.api() as api,
    ):
        ids = {}
        for name, provider, path, extra in CONNECTIONS:
            body = {"provider": provider, "name": name, "url": f"{mock.url}{path}",
                    "apiKey": f"sk-{name}-test-0001", **extra}
            response = api.post("/api/providers", json=body)
            assert response.status_code == 201, response.text
            ids[name] = response.json()["id"]
        assert api.get(f"/api/providers/{ids['short']}").json()["timeoutSeconds"] == 1.0
        yield Engine(process, mock, api, ids)


@pytest.fixture(autouse=True, name="fresh")
def fresh_fixture(engine: Engine) -> Iterator[None]:
    """Each test starts with no fault rules, no recordings and no resilience state."""
    engine.mock.clear_faults()
    engine.mock.clear()
    yield
    engine.mock.clear_faults()
    assert engine.api.post("/api/resilience/reset", json={}).status_code == 200


STREAMS = pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
