"""The web UI's pages in Chromium: every page loads in both themes without console errors, the
root redirects to the inspector, the usage page draws its charts."""

from __future__ import annotations

import httpx
import pytest

from tests.support.harness import OmniRouteProcess

from .ui_support import (
    PAGES,
    Page,
    agent_call,
    browser_fixture,  # noqa: F401 (a fixture, used by name)
    process_fixture,  # noqa: F401 (a fixture, used by name)
    ui_fixture,  # noqa: F401 (a fixture, used by name)
)

pytestmark = pytest.mark.e2e


def test_root_redirects_to_inspector(process: OmniRouteProcess) -> None:
    response = httpx.get(process.api_url + "/", follow_redirects=False)
    assert response.status_code in (302, 307)
    assert response.headers["location"] == "/ui/inspector"
    assert httpx.get(process.api_url + "/ui/nope").status_code == 404
    assert httpx.get(process.api_url + "/static/app.css").status_code == 200


def test_usage_page_draws_charts(ui: Page, process: OmniRouteProcess) -> None:
    agent_call(process, "usage chart", stream=False)
    page = ui.open("usage")
    assert page.locator("#timeline svg rect").count() >= 1
    assert "gpt-mock" in page.inner_text("#by-model")
    assert "codex" in page.inner_text("#by-agent")
    page.select_option("#metric", "tokens")
    page.select_option("#groupby", "agent")
    assert "codex" in page.inner_text("#timeline-legend")
    assert ui.errors == []


@pytest.mark.parametrize("name", PAGES)
def test_page_loads_without_console_errors(ui: Page, name: str) -> None:
    page = ui.open(name)
    assert page.locator(f"#nav-{name}.active").count() == 1
    page.click("#theme-toggle")  # both themes render
    page.wait_for_timeout(200)
    assert ui.errors == [], ui.errors

