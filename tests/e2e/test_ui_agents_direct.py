"""The Agents page's connection control in Chromium: "use OmniRoute directly" writes the agent's
settings in the server's HOME (a temporary one here), "off" takes them out again; the control
shows the state the runtime route reports."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.agents_home_support import home_fixture  # noqa: F401 - fixture
from tests.support.harness import OmniRouteProcess
from tests.support.mock_provider import MockProvider

from .ui_support import Page, browser_fixture, ui_fixture  # noqa: F401 (fixtures, used by name)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module", name="process")
def process_fixture(home: Path, mock_provider: MockProvider) -> Iterator[OmniRouteProcess]:
    with OmniRouteProcess(env={"HOME": str(home)}) as proc:
        proc.add_provider("openai", "mock", mock_provider.url + "/v1")
        yield proc


def test_connection_control_writes_and_resets_the_agents_settings(ui: Page, process: OmniRouteProcess, home: Path) -> None:
    settings = home / ".claude" / "settings.json"
    settings.parent.mkdir(parents=True, exist_ok=True)
    original = '{\n  "model": "opus"\n}\n'
    settings.write_text(original)
    page = ui.open("agents")
    control = page.locator('[data-agent="claude-code"] select[name=connection]')
    page.wait_for_function("""() => { const s = document.querySelector('[data-agent="claude-code"] select[name=connection]');
                                     return s && !s.disabled; }""")
    assert control.input_value() == "off"

    control.select_option("direct")
    page.wait_for_selector(".toast >> text=Claude Code: use OmniRoute directly")
    page.wait_for_function("""() => !document.querySelector('[data-agent="claude-code"] select[name=connection]').disabled""")
    assert control.input_value() == "direct"
    env = json.loads(settings.read_text())["env"]
    assert env["ANTHROPIC_BASE_URL"] == process.api_url and env["ANTHROPIC_AUTH_TOKEN"].startswith("sk-omni-")

    control.select_option("off")
    page.wait_for_selector(".toast >> text=Claude Code: off")
    page.wait_for_function("""() => !document.querySelector('[data-agent="claude-code"] select[name=connection]').disabled""")
    assert settings.read_text() == original

    # An agent met only directly has no hosts to intercept; agents without a settings writer keep the DNS toggle.
    assert page.locator('[data-agent="droid"] option[value=intercept]').is_disabled()
    assert not page.locator('[data-agent="gemini-cli"] option[value=intercept]').is_disabled()
    # What a routed Gemini CLI still takes from Google is said on its card.
    assert "sign-in and set-up calls" in page.locator('[data-agent="gemini-cli"] .limits').inner_text()
    assert page.locator('[data-agent="copilot"] select[name=connection]').count() == 0
    assert page.locator('[data-agent="copilot"] input[type=checkbox]').count() == 1
    assert ui.errors == []
