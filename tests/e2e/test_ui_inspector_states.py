"""What the inspector says in Chromium: a filter that matches nothing, an invalid filter, the
recording bar's count, the reply of a whole (not streamed) call, a replay naming an unknown
model. Each test keeps a screenshot in ``artifacts/screenshots/``."""

from __future__ import annotations

import uuid

import pytest

from tests.support.harness import OmniRouteProcess

from .ui_support import (
    Page,
    agent_call,
    browser_fixture,  # noqa: F401 (a fixture, used by name)
    open_captured_call,
    process_fixture,  # noqa: F401 (a fixture, used by name)
    shot,
    ui_fixture,  # noqa: F401 (a fixture, used by name)
)

pytestmark = pytest.mark.e2e


def test_a_filter_that_hides_every_row_says_so_and_offers_reset(ui: Page, process: OmniRouteProcess) -> None:
    agent_call(process, "some captured call", stream=False)
    page = ui.open("inspector", f"?q=nothing-matches-{uuid.uuid4().hex[:8]}")
    empty = page.locator("#empty")
    empty.wait_for()
    shot(page, "fix-no-matches")
    assert "no requests match" in empty.inner_text().lower()
    assert "no captured requests yet" not in empty.inner_text().lower()
    empty.get_by_role("button", name="Reset filters").click()
    page.wait_for_function("OmniInspector.state.rows.length >= 1")
    assert "q=" not in page.url and page.input_value("#filters input[name=q]") == ""
    assert empty.is_hidden()
    assert ui.errors == []


def test_an_invalid_filter_clears_the_old_rows(ui: Page, process: OmniRouteProcess) -> None:
    agent_call(process, "a row that must not stay", stream=False)
    page = ui.open("inspector")
    page.wait_for_function("OmniInspector.state.rows.length >= 1")
    page.fill("#filters input[name=filter]", "~d (")
    page.click("#filters button[type=submit]")
    page.locator("#filters [data-field=filter] .field-error").wait_for()
    shot(page, "fix-invalid-filter")
    # The rows on screen never answer a filter the server refused.
    assert page.evaluate("OmniInspector.state.rows.length") == 0
    assert page.locator("#grid .grid-row").count() == 0
    assert "filter" in page.inner_text("#empty").lower() and "invalid" in page.inner_text("#empty").lower()
    page.click("#filters-reset")
    page.wait_for_function("OmniInspector.state.rows.length >= 1")
    assert page.locator("#filters .field-error").count() == 0


def test_recording_bar_counts_the_rows_it_recorded(ui: Page, process: OmniRouteProcess) -> None:
    page = ui.open("inspector")
    name = f"count-{uuid.uuid4().hex[:6]}"
    page.fill("#session-form input[name=name]", name)
    page.click("#session-start")
    page.wait_for_selector(f"#session-active >> text={name}")
    session_id = page.evaluate("document.querySelector('#filters select[name=sessionId]').selectedOptions.length"
                               " && [...document.querySelectorAll('#filters select[name=sessionId] option')]"
                               f".find((o) => o.textContent === '{name}').value")
    agent_call(process, "recorded and counted", stream=False)
    # The moment the finished row of this session is in the table, the bar counts it.
    page.wait_for_function(
        f"OmniInspector.state.rows.some((r) => r.sessionId === '{session_id}' && r.status === 200)")
    text = page.inner_text("#session-active")
    shot(page, "fix-recording-count")
    assert "1 request" in text and "(0 requests)" not in text, text
    page.click("#session-stop")
    page.wait_for_selector("#session-active >> text=not recording")


def test_overview_shows_the_reply_of_a_whole_reply(ui: Page, process: OmniRouteProcess) -> None:
    page, marker = open_captured_call(ui, process, "whole")
    page.wait_for_selector("#detail-body .merged-text")
    shot(page, "fix-whole-reply-in-overview")
    assert f"mock reply from gpt-mock: {marker}" in page.inner_text("#detail-body .merged-text")
    assert ui.errors == []


def test_replay_with_an_unknown_model_names_the_model(ui: Page, process: OmniRouteProcess) -> None:
    page, _ = open_captured_call(ui, process, "replay-unknown")
    page.fill("#replay-form input[name=model]", "nowhere/no-such-model")
    with page.expect_response(lambda response: response.url.endswith("/replay")) as answer:
        page.click("#replay-form button[type=submit]")
    # The captured request exists (a 404 would say it does not): the model is the bad input.
    assert answer.value.status == 400
    error = page.locator("#replay-form [data-field=model] .field-error")
    error.wait_for()
    shot(page, "fix-replay-unknown-model")
    text = error.inner_text()
    assert "not replayed" in text and "'nowhere/no-such-model'" in text, text
