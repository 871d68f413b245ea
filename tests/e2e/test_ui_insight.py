"""The inspector and usage insight in Chromium: the cost column and the detail's Cost row
("unknown" when unpriced), the conversation view (threads, timeline, stepping through turns),
the failure badge and reason, replays and `/v1` calls marked as such, an agent's settings call
not taken for a model call, and the Usage page (unpriced calls never summed as $0, the model
asked for next to the one used, one colour per series in the bars and the legend).
Screenshots go to artifacts/screenshots/insight-*.png."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.ui_support import (
    SHOTS,
    Page,
    browser_fixture,  # noqa: F401 (a fixture, used by name)
    ui_fixture,  # noqa: F401 (a fixture, used by name)
)
from tests.support.agent_shapes import claude_code_call, codex_call
from tests.support.harness import OmniRouteProcess
from tests.support.inspector_support import BASE, finished_row, proxied_http
from tests.support.mock_provider import MockProvider

pytestmark = pytest.mark.e2e

PRICED = "claude-sonnet-4-5"
UNPRICED = "gpt-mock-unpriced"


@pytest.fixture(scope="module", name="process")
def process_fixture(mock_provider: MockProvider) -> Iterator[OmniRouteProcess]:
    with OmniRouteProcess() as proc:
        proc.add_provider("openai", "mock", mock_provider.url + "/v1")
        proc.map_models("claude-code", {"*": f"mock/{PRICED}"})
        proc.map_models("codex", {"*": f"mock/{UNPRICED}"})
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


def detail_of(ui: Page, query: str, row_id: str, rows: int = 1) -> Any:
    """The inspector filtered by ``query`` (``rows`` rows), with row ``row_id``'s detail open."""
    page = ui.open("inspector", f"?q={query}")
    page.wait_for_function(f"OmniInspector.state.rows.length === {rows}")
    page.locator(f"#grid .grid-row[data-id='{row_id}']").click()
    page.wait_for_selector("#detail-body dl")
    return page


def overview_row(page: Any, name: str) -> str | None:
    """The text of the detail overview's ``name`` row, None when it has no such row."""
    return page.evaluate("""(name) => {
      const dt = [...document.querySelectorAll('#detail-body dl dt')].find((d) => d.textContent === name);
      return dt ? dt.nextElementSibling.textContent : null;
    }""", name)


def test_detail_overview_shows_each_calls_cost(process: OmniRouteProcess, ui: Page) -> None:
    priced, unpriced = f"cost-row-{uuid.uuid4().hex}", f"cost-row-{uuid.uuid4().hex}"
    assert claude_code_call(process, str(uuid.uuid4()), priced).status_code == 200
    assert codex_call(process, str(uuid.uuid4()), unpriced).status_code == 200
    for text, pattern in ((priced, rf"\$0\.\d+ \({PRICED}\)"), (unpriced, rf"unknown \({UNPRICED}\)")):
        row = finished_row(process, lambda r, text=text: text in (r.get("requestBody") or ""))
        page = detail_of(ui, text, row["id"])
        cost = overview_row(page, "Cost")
        assert cost is not None and re.fullmatch(pattern, cost), cost
    shot(page, "detail-cost")
    assert not ui.errors


def test_a_replayed_row_is_marked_as_a_replay(process: OmniRouteProcess, ui: Page) -> None:
    text = f"replay-me-{uuid.uuid4().hex}"
    assert claude_code_call(process, str(uuid.uuid4()), text).status_code == 200
    original = finished_row(process, lambda r: text in (r.get("requestBody") or ""))
    with process.api() as api:
        assert api.post(f"{BASE}/requests/{original['id']}/replay", json={"stream": False}).status_code == 200
    replay = finished_row(process, lambda r: r["source"] == "replay" and text in (r.get("requestBody") or ""))
    page = detail_of(ui, text, replay["id"], rows=2)
    cells = page.locator(f"#grid .grid-row[data-id='{replay['id']}'] [role=gridcell]").all_inner_texts()
    assert cells[2] == "replay"
    assert overview_row(page, "Replay of") == original["id"]
    assert page.locator("#detail-body dl.insight code", has_text=original["id"]).count() == 1
    # The original is no replay.
    page.locator(f"#grid .grid-row[data-id='{original['id']}']").click()
    page.wait_for_function("""(source) => [...document.querySelectorAll('#detail-body dl dt')]
      .some((d) => d.textContent === 'Source' && d.nextElementSibling.textContent === source)""", arg=original["source"])
    assert overview_row(page, "Replay of") is None
    shot(page, "replay")
    assert not ui.errors


def test_a_v1_calls_row_has_source_api(process: OmniRouteProcess, ui: Page) -> None:
    text = f"v1-call-{uuid.uuid4().hex}"
    with process.api() as api:
        response = api.post("/v1/chat/completions", json={"model": f"mock/{PRICED}",
                                                           "messages": [{"role": "user", "content": text}]})
    assert response.status_code == 200, response.text
    row = finished_row(process, lambda r: text in (r.get("requestBody") or ""))
    page = detail_of(ui, text, row["id"])
    cells = page.locator(f"#grid .grid-row[data-id='{row['id']}'] [role=gridcell]").all_inner_texts()
    assert (cells[1], cells[2]) == ("—", "api") and PRICED in cells[7], cells
    assert overview_row(page, "Source") == "api"
    shot(page, "v1-call")
    assert not ui.errors


def test_an_agents_settings_call_is_not_labelled_a_model_call(process: OmniRouteProcess, ui: Page) -> None:
    path = "/api/claude_code/settings"
    with proxied_http(process, timeout=15) as client:
        try:
            client.get(f"https://api.anthropic.com{path}", headers={"user-agent": "claude-cli/2.0.14 (external, cli)"})
        except httpx.HTTPError:
            pass  # offline: the upstream is unreachable; the row is what matters
    row = finished_row(process, lambda r: r["path"] == path)
    page = detail_of(ui, "claude_code/settings", row["id"])
    cells = page.locator(f"#grid .grid-row[data-id='{row['id']}'] [role=gridcell]").all_inner_texts()
    assert cells[1] == "claude-code" and cells[5].endswith(path)
    assert (cells[7], cells[8], cells[9]) == ("", "", ""), cells  # no model, tokens or cost
    assert overview_row(page, "Kind") == "app"
    assert overview_row(page, "Cost") is None and overview_row(page, "Tokens") is None
    shot(page, "settings-call")
    assert not ui.errors


def test_usage_page_never_sums_unpriced_calls_as_zero(process: OmniRouteProcess, ui: Page) -> None:
    """Codex's calls go to a model of no known price: the Usage page says "unknown" for them, and
    the priced sums say how many calls they leave out; never "$0"."""
    assert claude_code_call(process, str(uuid.uuid4()), f"priced {uuid.uuid4().hex}").status_code == 200
    assert codex_call(process, str(uuid.uuid4()), f"unpriced {uuid.uuid4().hex}").status_code == 200
    with process.api() as api:
        totals = api.get("/api/usage/analytics", params={"period": "day"}).json()["totals"]
    assert totals["unpricedCalls"] >= 1
    page = ui.open("usage")
    cost = page.locator("#totals .stat", has_text="cost (USD)").locator("b").inner_text()
    assert re.fullmatch(rf"\$0\.\d+ \(\+{totals['unpricedCalls']} unpriced\)", cost), cost
    page.select_option("#metric", "cost")
    page.locator("#timeline-title", has_text="Cost over time").wait_for()
    # Each bar chart by its bars' tooltips (a label may be shortened to fit): the text after the bar.
    bars = page.evaluate("""() => Object.fromEntries(['by-agent', 'by-provider'].map((id) => [id,
      Object.fromEntries([...document.querySelectorAll(`#${id} svg rect`)]
        .map((bar) => [bar.querySelector('title').textContent.split(': ')[0], bar.nextElementSibling.textContent]))]))""")
    assert bars["by-agent"]["codex"] == "unknown", bars  # each of its calls is unpriced
    assert re.fullmatch(r"\$0\.\d+", bars["by-agent"]["claude-code"]), bars
    # All calls went to one provider: the priced sum and the calls it leaves out.
    assert re.fullmatch(r"\$0\.\d+ \(\+\d+ unpriced\)", bars["by-provider"]["openai"]), bars
    legend = page.locator(f"#timeline-legend span[data-series='{UNPRICED}']").inner_text()
    assert legend == f"{UNPRICED} (unknown)"
    priced = page.locator(f"#timeline-legend span[data-series='{PRICED}']").inner_text()
    assert re.fullmatch(rf"{PRICED} \(\$0\.\d+\)", priced), priced
    shot(page, "usage-unpriced")
    assert not ui.errors


def test_usage_recent_calls_show_the_model_asked_and_the_model_used(process: OmniRouteProcess, ui: Page) -> None:
    assert claude_code_call(process, str(uuid.uuid4()), f"asked {uuid.uuid4().hex}").status_code == 200
    assert codex_call(process, str(uuid.uuid4()), f"asked {uuid.uuid4().hex}").status_code == 200
    page = ui.open("usage")
    recent = page.evaluate("""() => [...document.querySelectorAll('#recent tbody tr')]
      .map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent))""")
    models = {(row[1], row[2], row[6]) for row in recent[:2]}
    assert ("codex", f"gpt-5-codex → {UNPRICED}", "unknown") in models, recent[:2]
    assert any(agent == "claude-code" and model == f"claude-sonnet-4-5-20250929 → {PRICED}" and cost.startswith("$0.")
               for agent, model, cost in models), recent[:2]
    assert not ui.errors
