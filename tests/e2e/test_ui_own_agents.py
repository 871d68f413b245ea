"""Agents page in Chromium: the user's own agent added, edited and deleted; a mapping to a target
that does not resolve is refused next to its field with close matches; "Test" tries a target."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.harness import OmniRouteProcess
from tests.support.mock_provider import MockProvider

from .ui_support import SHOTS, Page, browser_fixture, process_fixture, ui_fixture  # noqa: F401 - fixtures

pytestmark = pytest.mark.e2e
BASE = "/api/tools/agent-bridge"
HOST = "llm.ui-agent.test"


def _agent(process: OmniRouteProcess, agent_id: str) -> dict[str, Any] | None:
    rows = httpx.get(f"{process.api_url}{BASE}/agents", timeout=30).json()
    return next((r for r in rows if r["agent_id"] == agent_id), None)


def _card(page: Any, agent_id: str) -> Any:
    return page.locator(f'#agents .agent[data-agent="{agent_id}"]')


def test_own_agent_add_edit_delete_and_mapping_checks(ui: Page, process: OmniRouteProcess,
                                                      mock_provider: MockProvider) -> None:
    page = ui.open("agents")
    page.on("dialog", lambda dialog: dialog.accept())

    # A built-in id is refused, and the form says why.
    page.fill("#own-agent-form [name=id]", "codex")
    page.fill("#own-agent-form [name=hosts]", HOST)
    page.click("#own-agent-save")
    page.locator("#own-agent-form [role=alert]").first.wait_for()
    assert "built-in" in page.inner_text("#own-agent-form")

    # Added: a card with Edit / Delete, selected in the mappings editor.
    page.fill("#own-agent-form [name=id]", "ui-agent")
    page.fill("#own-agent-form [name=name]", "UI agent")
    page.fill("#own-agent-form [name=userAgents]", "ui-agent/")
    page.select_option("#own-agent-form [name=wireFormat]", "anthropic")
    page.click("#own-agent-save")
    page.wait_for_selector(".toast >> text=Agent ui-agent added")
    _card(page, "ui-agent").wait_for()
    assert "UI agent" in _card(page, "ui-agent").inner_text() and HOST in _card(page, "ui-agent").inner_text()
    stored = _agent(process, "ui-agent")
    assert stored is not None and stored["definition"]["wireFormat"] == "anthropic"
    assert page.input_value("#mapping-agent") == "ui-agent"

    # A mapping whose target does not resolve: refused next to that row, with close matches.
    page.fill("#mapping-rows .mapping-row input[name=source]", "*")
    page.fill("#mapping-rows .mapping-row input[name=target]", "nosuch/model")
    page.click("#mapping-save")
    error = page.locator('#mapping-rows [data-field="mappings.0.target"] .field-error')
    error.wait_for()
    assert "does not resolve" in error.inner_text() and "mock/model" in error.inner_text()
    assert httpx.get(f"{process.api_url}{BASE}/agents/ui-agent/mappings", timeout=30).json() == []

    # "Test" sends one small call through the engine and shows the reply; then the mapping saves.
    page.fill("#mapping-rows .mapping-row input[name=target]", "mock/gpt-ui")
    mock_provider.clear()
    page.click("#mapping-rows .mapping-row button:has-text('Test')")
    page.wait_for_selector("#mapping-rows .mapping-test.ok")
    assert "mock reply from gpt-ui" in page.inner_text("#mapping-rows .mapping-test")
    assert [r["body"]["model"] for r in mock_provider.requests_to("/v1/chat/completions")] == ["gpt-ui"]
    page.click("#mapping-save")
    page.wait_for_selector(".toast >> text=Saved 1 mapping")
    page.screenshot(path=str(SHOTS / "agents-own-agent.png"), full_page=True)

    # Edited: the form fills from the card, the id stays.
    _card(page, "ui-agent").locator("button:has-text('Edit agent')").click()
    assert page.input_value("#own-agent-form [name=hosts]") == HOST
    assert page.get_attribute("#own-agent-form [name=id]", "readonly") is not None
    page.fill("#own-agent-form [name=name]", "UI agent renamed")
    page.fill("#own-agent-form [name=hosts]", f"{HOST}, *.ui-agent.example")
    page.click("#own-agent-save")
    page.wait_for_selector(".toast >> text=Agent ui-agent saved")
    page.wait_for_function("document.querySelector('#agents .agent[data-agent=\"ui-agent\"]').innerText.includes('renamed')")
    stored = _agent(process, "ui-agent")
    assert stored is not None and stored["definition"]["hosts"] == [HOST, "*.ui-agent.example"]

    # Built-in agents have no Delete; deleting ours removes the card and its mappings.
    assert _card(page, "codex").locator("button:has-text('Delete agent')").count() == 0
    _card(page, "ui-agent").locator("button:has-text('Delete agent')").click()
    page.wait_for_selector(".toast >> text=Agent ui-agent deleted")
    _card(page, "ui-agent").wait_for(state="detached")
    assert _agent(process, "ui-agent") is None
    # Only the refusals this test asked for (the browser logs each 4xx it receives).
    assert [e for e in ui.errors if "(Conflict)" not in e and "(Unprocessable Content)" not in e] == [], ui.errors
