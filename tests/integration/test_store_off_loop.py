"""No database statement runs on the event loop while the API serves model calls and the
management pages (the Usage page's queries first among them): the store layer runs them in
its own threads, so a slow query never stalls the loop that carries every agent's traffic.

The runtime serves on a real loopback port from an event loop in a thread of this process, over
SQLite and over a real PostgreSQL; a SQLAlchemy `before_cursor_execute` hook notes every
statement executed on that loop's thread.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from tests.support.harness import wait_until
from tests.support.mock_provider import MockProvider
from tests.support.servers import PostgresServer

from .served_runtime import ServedRuntime

CHAT = {"model": "mock/loop-check", "messages": [{"role": "user", "content": "hi"}]}


class LoopStatements:
    """Statements executed on one thread, the served event loop's."""

    def __init__(self, loop_thread: int) -> None:
        self.loop_thread = loop_thread
        self.seen: list[str] = []
        self.off_loop = 0
        self._lock = threading.Lock()

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        with self._lock:
            if threading.get_ident() == self.loop_thread:
                self.seen.append(" ".join(statement.split())[:200])
            else:
                self.off_loop += 1


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServedRuntime, MockProvider]]:
    with ExitStack() as stack:
        url = None
        if request.param == "postgresql":
            url = stack.enter_context(PostgresServer()).url
        mock = stack.enter_context(MockProvider())
        yield stack.enter_context(ServedRuntime(tmp_path_factory.mktemp("loop") / "home", url)), mock


def _get_routes_without_parameters(api: httpx.Client) -> list[str]:
    paths = api.get("/openapi.json").json()["paths"]
    return sorted(p for p, item in paths.items() if "get" in item and "{" not in p and p.startswith("/api/"))


def test_no_statement_runs_on_the_event_loop(served: tuple[ServedRuntime, MockProvider]) -> None:
    runtime, mock = served
    engine = runtime.runtime.services.db.engine
    assert runtime.loop_thread is not None
    statements = LoopStatements(runtime.loop_thread)
    event.listen(engine, "before_cursor_execute", statements)
    try:
        with httpx.Client(base_url=runtime.url, timeout=30, trust_env=False) as api:
            # Writes through the management API: provider, combo, alias, chain, key, settings.
            provider = api.post("/api/providers", json={"provider": "openai", "name": "mock", "url": mock.url + "/v1",
                                                        "apiKey": "sk-loop-check-0001"})
            assert provider.status_code == 201, provider.text
            connection = provider.json()["id"]
            writes = [
                api.post("/api/combos", json={"name": "both", "model": "loop-check",
                                              "nodes": [{"connectionId": "mock"}]}),
                api.patch(f"/api/providers/{connection}", json={"priority": 1}),
                api.post("/api/models/alias", json={"alias": "fast", "target": "mock/loop-check"}),
                api.post("/api/fallback/chains", json={"model": "chained", "chain": [{"provider": "mock"}]}),
                api.post("/api/keys", json={"label": "reader", "scope": "read"}),
                api.post("/api/pricing", json={"loop-check": {"input": 1, "output": 2}}),
                api.patch("/api/resilience", json={"modelLockout": {"durationMs": 1000}}),
                api.put("/api/tools/agent-bridge/bypass", json={"patterns": ["intranet.example"]}),
                api.put("/api/tools/agent-bridge/agents/codex/mappings",
                        json={"mappings": [{"source": "*", "target": "mock/loop-check"}]}),
                api.post("/api/tools/traffic-inspector/hosts", json={"host": "llm.intranet.example"}),
                api.post("/api/tools/traffic-inspector/sessions", json={"name": "loop"}),
            ]
            assert [r.status_code for r in writes if r.status_code >= 300] == [], [r.text for r in writes]
            # Model calls, whole and streamed, by name, alias and combo.
            for model in ("mock/loop-check", "fast", "both"):
                assert api.post("/v1/chat/completions", json={**CHAT, "model": model}).status_code == 200
                with api.stream("POST", "/v1/chat/completions", json={**CHAT, "model": model, "stream": True}) as s:
                    assert s.status_code == 200
                    s.read()
            # The Usage page's queries, then every other page's reads.
            logs = api.get("/api/usage/call-logs", params={"limit": 10}).json()
            assert logs["total"] >= 6
            assert api.get(f"/api/usage/call-logs/{logs['items'][0]['id']}").status_code == 200
            assert api.get(f"/api/usage/{connection}").status_code == 200  # one connection's totals
            for period in ("day", "week", "month"):
                assert api.get("/api/usage/analytics", params={"period": period}).status_code == 200
            for path in _get_routes_without_parameters(api):
                assert api.get(path).status_code < 500, path
            session = api.get("/api/tools/traffic-inspector/sessions").json()[0]["id"]
            assert api.get(f"/api/tools/traffic-inspector/sessions/{session}").status_code == 200
            assert api.post(f"/api/providers/{connection}/test").status_code == 200
            assert api.delete(f"/api/providers/{connection}").status_code == 200
        wait_until(lambda: statements.off_loop > 0, 10.0, "statements to be seen at all")
    finally:
        event.remove(engine, "before_cursor_execute", statements)
    assert statements.seen == []
