"""The inspector and usage insight in Chromium: the cost column ("unknown" when unpriced), the
conversation view (threads, timeline, stepping through turns), the failure badge and reason,
and the usage charts (one colour per series, the same in the bars and the legend).
Screenshots go to artifacts/screenshots/insight-*.png."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.ui_support import (
    SHOTS,
    Page,
    browser_fixture,  # noqa: F401 (a fixture, used by name)
    ui_fixture,  # noqa: F401 (a fixture, used by name)
)
from tests.support.agent_shapes import claude_code_call, codex_call
from tests.support.harness import OmniRouteProcess
from tests.support.mock_provider import MockProvider

PRICED = "claude-sonnet-4-5"


@pytest.fixture(scope="module", name="process")
def process_fixture(mock_provider: MockProvider) -> Iterator[OmniRouteProcess]:
    with OmniRouteProcess() as proc:
        proc.add_provider("openai", "mock", mock_provider.url + "/v1")
        proc.map_models("claude-code", {"*": f"mock/{PRICED}"})
        proc.map_models("codex", {"*": "mock/gpt-mock-unpriced"})
        yield proc


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"insight-{name}.png"), full_page=True)


def grid_row(page: Any, text: str) -> Any:
    row = page.locator("#grid .grid-row", has_text=text).first
    row.wait_for()
    return row


def test_cost_column_priced_and_unknown(process: OmniRouteProcess, ui: Page) -> None:
    assert claude_code_call(process, str(uuid.uuid4()), f"priced {uuid.uuid4().hex}").status_code == 200
    assert codex_call(process, str(uuid.uuid4()), f"unpriced {uuid.uuid4().hex}").status_code == 200
    page = ui.open("inspector")
    priced = grid_row(page, "api.anthropic.com")
    unpriced = grid_row(page, "chatgpt.com")
    page.wait_for_function("() => [...document.querySelectorAll('#grid .grid-row .cost')].some(c => c.textContent.startsWith('$'))")
    assert re.fullmatch(r"\$0\.\d+", priced.locator(".cost").inner_text())
    assert unpriced.locator(".cost").inner_text() == "unknown"
    assert page.locator(".grid-head", has_text="Cost").count() == 1
    totals = page.locator("#insight-totals")
    totals.filter(has_text="cost").wait_for()
    assert "cost $" in totals.inner_text()
    shot(page, "cost-column")
    assert not ui.errors


def test_conversation_view_steps_through_turns(process: OmniRouteProcess, ui: Page) -> None:
    session = str(uuid.uuid4())
    turns = [f"turn one {uuid.uuid4().hex}", f"turn two {uuid.uuid4().hex}"]
    for text in turns:
        assert claude_code_call(process, session, text).status_code == 200
    page = ui.open("inspector")
    grid_row(page, "api.anthropic.com")
    page.click("#conversations-toggle")
    row = page.locator(f".conversation-row[data-key='claude-code:{session}']")
    row.wait_for()
    cells = row.locator("td").all_inner_texts()
    assert cells[0] == "claude-code" and cells[2] == "2" and cells[4].startswith("$") and PRICED in cells[6]
    row.click()
    thread = page.locator("#conversation-thread")
    thread.locator(".thread-timeline .turn-bar").nth(1).wait_for()
    assert thread.locator(".thread-call").count() == 2
    page.click("#turn-next")  # the first turn, in the detail pane's conversation tab
    detail = page.locator("#detail-body")
    detail.filter(has_text=turns[0]).wait_for()
    assert page.locator("#turn-label").inner_text() == "turn 1 of 2"
    page.click("#turn-next")
    detail.filter(has_text=turns[1]).wait_for()
    assert page.locator("#detail .tabs button.active").inner_text() == "Conversation"
    assert page.locator("#turn-next").is_disabled()
    shot(page, "conversation")
    assert not ui.errors


def test_failed_call_badge_and_reason(process: OmniRouteProcess, ui: Page, mock_provider: MockProvider) -> None:
    process.add_provider("openai", "doomed", mock_provider.url + "/v1")
    mock_provider.add_fault(503, message="the mock is overloaded", model="doomed-model", count=1)
    text = f"doomed {uuid.uuid4().hex}"
    with process.api() as api:
        response = api.post("/v1/chat/completions", json={"model": "doomed/doomed-model",
                                                           "messages": [{"role": "user", "content": text}]})
    assert response.status_code == 503
    page = ui.open("inspector")
    row = page.locator("#grid .grid-row", has=page.locator(".fail-badge")).first
    row.wait_for()
    assert row.locator(".fail-badge").inner_text() == "upstream"
    assert "overloaded" in (row.locator(".fail-badge").get_attribute("title") or "")
    row.click()
    box = page.locator("#detail-body .failure-box")
    box.wait_for()
    assert "Failed: upstream" in box.inner_text() and "overloaded" in box.inner_text()
    assert "doomed/doomed-model" in page.locator("#detail-body ol.steps").inner_text()
    shot(page, "failure")
    assert not ui.errors


def test_usage_charts_colour_each_series_by_name(process: OmniRouteProcess, ui: Page) -> None:
    models = [f"mock/chart-model-{i}" for i in range(10)]  # more series than the old 8 colours
    with process.api() as api:
        for model in models:
            assert api.post("/v1/chat/completions", json={"model": model, "messages": [{"role": "user", "content": "hi"}]}).status_code == 200
    page = ui.open("usage")
    page.wait_for_selector(".insight-charts[data-ready=true]")
    legend = {el.get_attribute("data-series"): el.locator("i").get_attribute("data-color")
              for el in page.locator("#chart-tokens-legend span").all()}
    names = {m.split("/", 1)[1] for m in models}
    assert names <= set(legend)
    assert len({legend[n] for n in names}) == len(names)  # no colour repeats
    for name in names:  # each bar has its legend's colour
        fills = {r.get_attribute("fill") for r in page.locator(f"#chart-tokens rect.bar[data-series='{name}']").all()}
        assert fills == {legend[name]}
    assert page.locator("#chart-cost-title").inner_text().startswith("Cost over time by model")
    latency_rows = page.locator("#chart-latency .latency-table tbody tr")
    assert latency_rows.count() >= len(names)
    page.select_option("#groupby", "agent")
    page.locator("#chart-tokens-title", has_text="by agent").wait_for()
    shot(page, "usage-charts")
    assert not ui.errors


def test_recording_session_shows_its_cost(process: OmniRouteProcess, ui: Page) -> None:
    sessions = "/api/tools/traffic-inspector/sessions"
    with process.api() as api:
        created = api.post(sessions, json={"name": f"costed {uuid.uuid4().hex[:6]}"})
        assert created.status_code == 201, created.text
        session_id = created.json()["id"]
        try:
            assert claude_code_call(process, str(uuid.uuid4()), f"recorded {uuid.uuid4().hex}").status_code == 200
        finally:
            assert api.patch(f"{sessions}/{session_id}", json={"action": "stop"}).status_code == 200
    page = ui.open("inspector")
    page.click("#session-toggle")
    cost = page.locator(f"tr[data-session='{session_id}'] .session-cost")
    page.wait_for_function(
        "(id) => { const c = document.querySelector(`tr[data-session='${id}'] .session-cost`); return c && c.textContent.startsWith('$'); }",
        arg=session_id)
    assert re.fullmatch(r"\$0\.\d+", cost.inner_text())
    shot(page, "session-cost")
    assert not ui.errors
