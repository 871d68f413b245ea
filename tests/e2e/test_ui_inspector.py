"""The inspector page in Chromium: rows appearing live, filters, the detail view, 10,000 rows,
replay and annotation, recording sessions, exports, the live socket."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from tests.support.harness import OmniRouteProcess
from tests.support.mock_provider import MockProvider

from .ui_support import (
    INSPECTOR,
    Page,
    agent_call,
    browser_fixture,  # noqa: F401 (a fixture, used by name)
    plain_call,
    process_fixture,  # noqa: F401 (a fixture, used by name)
    ui_fixture,  # noqa: F401 (a fixture, used by name)
    visible_rows,
)

pytestmark = pytest.mark.e2e
VIEW = "OmniInspector.state.rows.length"  # the rows the table shows
EVERY = "OmniInspector.state.rows.every"


def test_live_request_appears_without_reload(ui: Page, process: OmniRouteProcess) -> None:
    page = ui.open("inspector")
    before = page.evaluate("OmniInspector.state.rows.length")
    marker = f"live-{uuid.uuid4().hex[:8]}"
    agent_call(process, marker)
    page.wait_for_function(f"OmniInspector.state.rows.length > {before}")
    top = page.locator("#grid .grid-row").first
    top.wait_for()
    text = top.inner_text()
    assert "codex" in text and "api.openai.com" in text and "/v1/chat/completions" in text
    page.wait_for_function("document.querySelector('#grid .grid-row').innerText.includes('gpt-4o → mock/gpt-mock')")
    assert page.url.endswith("/ui/inspector")  # no navigation happened
    assert ui.errors == []


def test_filters_narrow_the_table(ui: Page, process: OmniRouteProcess, mock_provider: MockProvider) -> None:
    marker = f"filter-{uuid.uuid4().hex[:8]}"
    agent_call(process, marker, stream=False)
    plain_call(process, mock_provider)
    page = ui.open("inspector")
    page.wait_for_function("OmniInspector.state.rows.length >= 2")
    total = page.evaluate("OmniInspector.state.rows.length")
    assert page.evaluate("new Set(OmniInspector.state.rows.map((r) => r.host)).size") >= 2

    page.fill("#filters input[name=q]", marker)
    page.press("#filters input[name=q]", "Enter")
    page.wait_for_function("OmniInspector.state.rows.length === 1")
    assert f"q={marker}" in page.url  # the filtered view can be bookmarked

    page.fill("#filters input[name=q]", "")
    page.fill("#filters input[name=filter]", "~d (")
    page.click("#filters button[type=submit]")
    error = page.locator("#filters [data-field=filter] .field-error")
    error.wait_for()
    assert "filter" in error.inner_text().lower()

    page.fill("#filters input[name=filter]", "~d 127.0.0.1")
    page.click("#filters button[type=submit]")
    # Wait for this filter's answer: the rows on screen until it arrives (none, after the
    # refused filter) would already be fewer than the total.
    page.wait_for_function(f"{VIEW} > 0 && {VIEW} < {total} && {EVERY}((r) => r.host === '127.0.0.1')")
    assert page.locator("#filters .field-error").count() == 0
    assert all("127.0.0.1" in row for row in visible_rows(page))

    page.click("#filters-reset")
    page.select_option("#filters select[name=agent]", "codex")
    # The previous filter's rows are fewer than the total too: wait for this one's.
    page.wait_for_function(f"{VIEW} > 0 && {VIEW} < {total} && {EVERY}((r) => r.agent === 'codex')")
    assert all("codex" in row for row in visible_rows(page))
    assert ui.errors == [error_text for error_text in ui.errors if "400" in error_text]


def test_detail_shows_merged_reply_and_keyboard_navigation(ui: Page, process: OmniRouteProcess) -> None:
    marker = f"detail-{uuid.uuid4().hex[:8]}"
    agent_call(process, marker, stream=True)
    page = ui.open("inspector", f"?q={marker}")
    page.wait_for_function("OmniInspector.state.rows.length === 1")
    page.locator("#grid").focus()
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    page.locator("#detail").wait_for()
    page.wait_for_selector("#detail-body .merged-text")
    assert f"mock reply from gpt-mock: {marker}" in page.inner_text("#detail-body .merged-text")
    page.click("#detail .tabs button[data-tab=merged]")
    assert f"mock reply from gpt-mock: {marker}" in page.inner_text("#detail-body")
    page.click("#detail .tabs button[data-tab=request]")
    body = page.inner_text("#detail-body")
    assert '"model": "gpt-4o"' in body  # pretty-printed JSON
    assert "sk-agent-own-key-123456" not in body  # masked by the capture
    page.click("#detail .tabs button[data-tab=response]")
    assert "x-omniroute-model" in page.inner_text("#detail-body")
    page.click("#detail .tabs button[data-tab=conversation]")
    page.wait_for_selector("#detail-body .msg.assistant")
    assert marker in page.inner_text("#detail-body .msg.user")
    assert f"mock reply from gpt-mock: {marker}" in page.inner_text("#detail-body .msg.assistant")
    page.click("#detail .tabs button[data-tab=overview]")
    assert page.locator("#detail-body .timing").count() == 1
    page.keyboard.press("Escape")
    assert page.locator("#detail").is_hidden()
    assert ui.errors == []

def test_inspector_stays_responsive_with_10000_rows(ui: Page) -> None:
    page = ui.open("inspector")
    elapsed = page.evaluate(
        """() => {
            const rows = [];
            for (let i = 0; i < 10000; i++) rows.push({id: 'synthetic-' + i, timestamp: new Date().toISOString(),
              agent: 'codex', source: 'http-proxy', method: 'POST', host: 'api.openai.com',
              path: '/v1/responses', status: 200, sourceModel: 'gpt-5', mappedModel: 'mock/gpt-mock',
              totalLatencyMs: i % 900, requestSize: 1000, responseSize: 5000});
            const t0 = performance.now();
            OmniInspector.ingest(rows);
            return performance.now() - t0;
        }"""
    )
    assert page.evaluate("OmniInspector.state.rows.length") >= 10000
    assert page.locator("#grid .grid-row").count() < 150  # virtualized: only visible rows exist
    # A jump anywhere in the 10,000 rows re-renders only the visible window (layout included).
    jumps = page.evaluate(
        """() => { const g = document.getElementById('grid'); const times = [];
                   for (let i = 0; i < 30; i++) { const t0 = performance.now(); g.scrollTop = i * 9000;
                     OmniInspector.render(); document.body.offsetHeight; times.push(performance.now() - t0); }
                   return times.sort((a, b) => a - b); }"""
    )
    median = jumps[len(jumps) // 2]
    assert elapsed < 1500 and median < 50, (elapsed, jumps)
    assert page.locator("#grid .grid-row").count() < 150
    page.locator("#grid").focus()
    for _ in range(3):
        page.keyboard.press("ArrowDown")
    assert page.evaluate("OmniInspector.state.selected") == 2
    assert ui.errors == []


def test_replay_and_annotation(ui: Page, process: OmniRouteProcess, mock_provider: MockProvider) -> None:
    marker = f"replay-{uuid.uuid4().hex[:8]}"
    agent_call(process, marker, stream=False)
    page = ui.open("inspector", f"?q={marker}")
    page.wait_for_function("OmniInspector.state.rows.length === 1")
    page.locator("#grid .grid-row").first.click()
    page.locator("#annotation-form").wait_for()
    page.fill("#annotation-form textarea", "checked by the UI test")
    page.click("#annotation-form button[type=submit]")
    page.wait_for_selector(".toast >> text=Annotation saved")
    with process.api() as api:
        rows = api.get(f"{INSPECTOR}/requests", params={"q": marker}).json()["requests"]
    assert any(r["annotation"] == "checked by the UI test" for r in rows)
    mock_provider.clear()
    page.fill("#replay-form input[name=model]", "mock/gpt-replayed")
    page.click("#replay-form button[type=submit]")
    page.wait_for_selector("#replay-form .replay-output")
    assert "gpt-replayed" in page.inner_text("#replay-form .replay-output")


def test_recording_session_and_har(ui: Page, process: OmniRouteProcess) -> None:
    page = ui.open("inspector")
    name = f"ui-session-{uuid.uuid4().hex[:6]}"
    page.fill("#session-form input[name=name]", name)
    page.click("#session-start")
    page.wait_for_selector(f"#session-active >> text={name}")
    agent_call(process, "recorded call", stream=False)
    page.click("#session-stop")
    page.wait_for_selector("#session-active >> text=not recording")
    page.click("#session-toggle")
    row = page.locator("#session-list tr", has=page.locator(f"input[value='{name}']"))
    row.wait_for()
    with page.expect_download() as download_info:
        row.locator("a", has_text="Export HAR").click()
    har = json.loads(Path(download_info.value.path()).read_text())
    assert har["log"]["version"] == "1.2"
    assert any("/v1/chat/completions" in e["request"]["url"] for e in har["log"]["entries"])

    renamed = name + "-renamed"
    row.locator("input").fill(renamed)
    row.locator("button", has_text="Rename").click()
    page.wait_for_selector(".toast >> text=Session renamed")
    row = page.locator("#session-list tr", has=page.locator(f"input[value='{renamed}']"))
    row.wait_for()
    page.once("dialog", lambda dialog: dialog.accept())
    row.locator("button", has_text="Delete").click()
    row.wait_for(state="detached")
    with process.api() as api:
        names = [s.get("name") for s in api.get(f"{INSPECTOR}/sessions").json()]
    assert renamed not in names
    assert ui.errors == []


def test_export_of_the_filtered_view(ui: Page, process: OmniRouteProcess) -> None:
    marker = f"export-{uuid.uuid4().hex[:8]}"
    agent_call(process, marker, stream=False)
    page = ui.open("inspector", f"?q={marker}")
    page.wait_for_function("OmniInspector.state.rows.length === 1")
    with page.expect_download() as json_download:
        page.click("#export-json")
    rows = json.loads(Path(json_download.value.path()).read_text())
    assert [r["host"] for r in rows] == ["api.openai.com"]
    assert f"q={marker}" in page.get_attribute("#export-har", "href")
    with page.expect_download() as har_download:
        page.click("#export-har")
    har = json.loads(Path(har_download.value.path()).read_text())
    assert har["log"]["version"] == "1.2"
    assert len(har["log"]["entries"]) == 1 and marker in har["log"]["entries"][0]["request"]["postData"]["text"]


def test_live_socket_used_when_available(ui: Page, process: OmniRouteProcess) -> None:
    page = ui.open("inspector")
    page.wait_for_selector("#live-state.ok")
    before = page.evaluate("OmniInspector.state.rows.length")
    agent_call(process, "over the socket", stream=False)
    page.wait_for_function(f"OmniInspector.state.rows.length > {before}", timeout=5000)

