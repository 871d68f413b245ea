"""Inspector insight through a real OmniRoute process: Claude-Code-shaped and Codex-shaped calls
through the HTTP_PROXY listener, routed to the mock provider, and plain `/v1` calls.

- cost: a call's cost is the maintained price table's (genai-prices' own calculation), the
  same in the inspector row and the usage row; an unpriced model's cost is unknown (None/null),
  never 0;
- conversations: calls of one agent session (Claude Code's metadata.user_id session, Codex's
  session_id header) form one thread with summed tokens and cost;
- errors: a failed call's reason (upstream status and message) and the engine's steps;
- `/v1` calls get rows (source api) while the setting is on, none when it is off; replays are
  marked; an agent's settings call is not an LLM call; usage keeps the model the agent asked for.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import genai_prices
import httpx
import pytest

from tests.support.agent_shapes import claude_code_call, codex_call
from tests.support.harness import OmniRouteProcess
from tests.support.inspector_support import BASE, finished_row, proxied_http, rows, wait_for
from tests.support.mock_provider import MockProvider

PRICED = "claude-sonnet-4-5"  # the maintained table prices it (anthropic)
UNPRICED = "gpt-mock-unpriced"  # no table knows it


@pytest.fixture(scope="module", name="proc")
def proc_fixture(mock_provider: MockProvider) -> Iterator[OmniRouteProcess]:
    with OmniRouteProcess() as proc:
        proc.add_provider("openai", "mock", mock_provider.url + "/v1")
        proc.map_models("claude-code", {"*": f"mock/{PRICED}"})
        proc.map_models("codex", {"*": f"mock/{UNPRICED}"})
        yield proc


def row_with(proc: OmniRouteProcess, text: str) -> dict[str, Any]:
    return finished_row(proc, lambda r: text in (r.get("requestBody") or ""))


def usage_log(proc: OmniRouteProcess, request_id: str) -> dict[str, Any]:
    with proc.api() as api:
        return api.get(f"/api/usage/call-logs/{request_id}").json()  # type: ignore[no-any-return]


def conversation(proc: OmniRouteProcess, key: str) -> dict[str, Any]:
    with proc.api() as api:
        response = api.get(f"{BASE}/conversations/{key}")
    response.raise_for_status()
    return response.json()  # type: ignore[no-any-return]


def test_claude_code_session_is_one_priced_thread(proc: OmniRouteProcess) -> None:
    session, other = str(uuid.uuid4()), str(uuid.uuid4())
    texts = [f"first turn {uuid.uuid4().hex}", f"second turn {uuid.uuid4().hex}", f"elsewhere {uuid.uuid4().hex}"]
    for text, sess in zip(texts, (session, session, other), strict=True):
        assert claude_code_call(proc, sess, text).status_code == 200
    first = row_with(proc, texts[0])
    info = first["insight"]
    assert info["model"] == PRICED and info["tokensIn"] > 0 and info["tokensOut"] > 0
    # The maintained table's own calculation, independently of our code.
    expected = genai_prices.calc_price(
        genai_prices.Usage(input_tokens=info["tokensIn"], output_tokens=info["tokensOut"]), PRICED,
        provider_id="anthropic").total_price
    assert Decimal(info["cost"]) == expected > 0

    # The usage row: the same cost, and the model the agent asked for next to the one used.
    request_id = first["responseHeaders"]["x-omniroute-request-id"]
    logged = wait_for(lambda: usage_log(proc, request_id), lambda r: r.get("requestId") == request_id)
    assert Decimal(logged["cost"]) == expected
    assert (logged["modelRequested"], logged["modelUsed"]) == ("claude-sonnet-4-5-20250929", PRICED)

    key = f"claude-code:{session}"
    assert info["thread"] == {"key": key, "by": "metadata.user_id"}
    thread = conversation(proc, key)
    second = row_with(proc, texts[1])["insight"]
    assert [c["id"] for c in thread["calls"]] == [first["id"], row_with(proc, texts[1])["id"]]
    summary = thread["summary"]
    assert (summary["calls"], summary["agent"], summary["models"], summary["errors"]) == (2, "claude-code", [PRICED], 0)
    assert summary["tokensIn"] == info["tokensIn"] + second["tokensIn"]
    assert Decimal(summary["cost"]) == Decimal(info["cost"]) + Decimal(second["cost"])
    with proc.api() as api:
        listed = api.get(f"{BASE}/conversations").json()["conversations"]
    assert {key, f"claude-code:{other}"} <= {c["key"] for c in listed}


def test_codex_session_to_an_unpriced_model_costs_unknown_never_zero(proc: OmniRouteProcess) -> None:
    session = str(uuid.uuid4())
    texts = [f"codex one {uuid.uuid4().hex}", f"codex two {uuid.uuid4().hex}"]
    for text in texts:
        assert codex_call(proc, session, text).status_code == 200
    row = row_with(proc, texts[1])
    info = row["insight"]
    assert info["tokensIn"] > 0 and info["cost"] is None
    assert info["thread"]["key"] == f"codex:{session}"
    summary = conversation(proc, f"codex:{session}")["summary"]
    assert (summary["calls"], summary["cost"], summary["unpricedCalls"]) == (2, None, 2)
    request_id = row["responseHeaders"]["x-omniroute-request-id"]
    logged = wait_for(lambda: usage_log(proc, request_id), lambda r: r.get("requestId") == request_id)
    assert logged["cost"] is None and logged["modelRequested"] == "gpt-5-codex"


def test_v1_calls_get_rows_while_the_setting_is_on(proc: OmniRouteProcess) -> None:
    def call(text: str) -> httpx.Response:
        with proc.api() as api:
            return api.post("/v1/chat/completions", json={"model": f"mock/{PRICED}",
                                                           "messages": [{"role": "user", "content": text}]})

    seen, unseen = f"api seen {uuid.uuid4().hex}", f"api unseen {uuid.uuid4().hex}"
    assert call(seen).status_code == 200
    row = row_with(proc, seen)
    assert (row["source"], row["agent"], row["detectedKind"], row["status"]) == ("api", None, "llm", 200)
    assert Decimal(row["insight"]["cost"]) > 0
    with proc.api() as api:
        assert api.post(f"{BASE}/capture-modes/api-calls", json={"enabled": False}).json() == {"apiCalls": {"enabled": False}}
        try:
            assert call(unseen).status_code == 200
            assert api.get(f"{BASE}/capture-modes/api-calls").json()["apiCalls"]["enabled"] is False
        finally:
            api.post(f"{BASE}/capture-modes/api-calls", json={"enabled": True})
    assert not [r for r in rows(proc) if unseen in (r.get("requestBody") or "")]


def test_a_failed_call_says_why_and_shows_its_steps(proc: OmniRouteProcess, mock_provider: MockProvider) -> None:
    text = f"doomed {uuid.uuid4().hex}"
    # A connection of its own: the failure cools it down, and the other tests keep theirs.
    proc.add_provider("openai", "doomed", mock_provider.url + "/v1")
    mock_provider.add_fault(503, message="the mock is overloaded", model=PRICED, count=1)
    with proc.api() as api:
        response = api.post("/v1/chat/completions", json={"model": f"doomed/{PRICED}",
                                                           "messages": [{"role": "user", "content": text}]})
    assert response.status_code == 503
    row = row_with(proc, text)
    failure = row["insight"]["failure"]
    assert failure["status"] == 503 and failure["kind"] == "upstream"
    assert "overloaded" in failure["message"]
    steps = row["insight"]["steps"]
    assert steps and steps[0]["target"] == f"doomed/{PRICED}" and steps[0]["status"] == 503
    assert json.loads(response.headers["x-omniroute-attempts"]) == steps


def test_a_replay_is_marked_as_one(proc: OmniRouteProcess) -> None:
    text = f"replay me {uuid.uuid4().hex}"
    assert claude_code_call(proc, str(uuid.uuid4()), text).status_code == 200
    original = row_with(proc, text)
    with proc.api() as api:
        assert api.post(f"{BASE}/requests/{original['id']}/replay", json={"stream": False}).status_code == 200
    replay = finished_row(proc, lambda r: r["source"] == "replay" and text in (r.get("requestBody") or ""))
    assert replay["insight"]["replayOf"] == original["id"] and replay["note"] == f"replay of {original['id']}"
    assert replay["id"] != original["id"]


def test_an_agents_settings_call_is_not_an_llm_call(proc: OmniRouteProcess) -> None:
    with proxied_http(proc, timeout=15) as client:
        try:
            client.get("https://api.anthropic.com/api/claude_code/settings",
                       headers={"user-agent": "claude-cli/2.0.14 (external, cli)"})
        except httpx.HTTPError:
            pass  # offline: the upstream is unreachable; the row is what matters
    row = finished_row(proc, lambda r: r["path"] == "/api/claude_code/settings")
    assert row["detectedKind"] == "app"
    with proc.api() as api:
        keys = [c["key"] for c in api.get(f"{BASE}/conversations").json()["conversations"]]
        calls = [call["id"] for key in keys for call in conversation(proc, key)["calls"]]
    assert row["id"] not in calls
