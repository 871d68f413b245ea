"""Shared setup of the web UI tests (``test_ui_*.py``) in Debian's Chromium (Playwright).

Each test module gets a real OmniRoute process with the mock provider as connection ``mock`` and
a ``*`` mapping for codex, and a browser; agent calls go through the HTTP_PROXY listener with
httpx (trusting our CA), as an agent would. Importing this module skips the importing test module
when Playwright or Chromium is missing. A test module imports the ``*_fixture`` functions it needs
to get the ``process``, ``browser`` and ``ui`` fixtures.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from omniroute.api.ui import PAGES as UI_PAGES
from tests.support.harness import REPO_ROOT, OmniRouteProcess
from tests.support.mock_provider import MockProvider

playwright_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium")
if CHROMIUM is None:
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True)

PAGES = tuple(UI_PAGES)  # the pages the app serves, so a new page is tested without a copy to update
SHOTS = REPO_ROOT / "artifacts" / "screenshots"
INSPECTOR = "/api/tools/traffic-inspector"
TIMEOUT_MS = 15_000


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module", name="process")
def process_fixture(mock_provider: MockProvider) -> Iterator[OmniRouteProcess]:
    with OmniRouteProcess() as proc:
        proc.add_provider("openai", "mock", mock_provider.url + "/v1")
        proc.map_models("codex", {"*": "mock/gpt-mock"})
        yield proc


@pytest.fixture(scope="module", name="browser")
def browser_fixture() -> Iterator[Any]:
    with playwright_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield chromium
        chromium.close()


class Page:
    """A browser tab on the OmniRoute UI that records console errors and page errors."""

    def __init__(self, page: Any, base_url: str) -> None:
        self.page = page
        self.base_url = base_url
        self.errors: list[str] = []
        page.on("console", lambda msg: msg.type == "error" and self.errors.append(msg.text))
        page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        page.set_default_timeout(TIMEOUT_MS)

    def open(self, name: str, query: str = "") -> Any:
        self.page.goto(f"{self.base_url}/ui/{name}{query}")
        self.page.wait_for_selector("body[data-ready=true]")
        return self.page


@pytest.fixture(name="ui")
def ui_fixture(browser: Any, process: OmniRouteProcess) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    try:
        yield Page(context.new_page(), process.api_url)
    finally:
        context.close()


# -- helpers ----------------------------------------------------------------------------------


def agent_call(process: OmniRouteProcess, text: str, *, model: str = "gpt-4o", stream: bool = True) -> httpx.Response:
    """A Codex-style chat call through the HTTP_PROXY listener, trusting OmniRoute's CA."""
    with httpx.Client(proxy=process.proxy_url, verify=process.ssl_context(), trust_env=False, timeout=30) as client:
        response = client.post(
            "https://api.openai.com/v1/chat/completions",
            json={"model": model, "messages": [{"role": "user", "content": text}], "stream": stream},
            headers={"authorization": "Bearer sk-agent-own-key-123456"},
        )
    assert response.status_code == 200, response.text
    return response


def plain_call(process: OmniRouteProcess, mock: MockProvider) -> None:
    """A non-agent call through the proxy (another host in the table)."""
    with httpx.Client(proxy=process.proxy_url, trust_env=False, timeout=30) as client:
        assert client.get(mock.url + "/v1/models").status_code == 200


def open_captured_call(ui: Page, process: OmniRouteProcess, prefix: str) -> tuple[Any, str]:
    """An agent call answered in one piece, its row alone in the inspector and its detail open:
    the page and the call's marker text."""
    marker = f"{prefix}-{uuid.uuid4().hex[:8]}"
    agent_call(process, marker, stream=False)
    page = ui.open("inspector", f"?q={marker}")
    page.wait_for_function("OmniInspector.state.rows.length === 1")
    page.locator("#grid .grid-row").first.click()
    page.wait_for_selector("#detail-body dl")
    return page, marker


def visible_rows(page: Any) -> list[str]:
    return page.locator("#grid .grid-row").all_inner_texts()


def shot(page: Any, name: str) -> None:
    """A screenshot kept as a test artifact (``artifacts/screenshots/<name>.png``, git-ignored)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))
