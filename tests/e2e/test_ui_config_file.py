"""In Chromium: what the config file declares is shown read-only (a "config file" badge instead
of Edit/Delete, a disabled mappings editor, a read-only bypass list), while what was created
through the API next to it stays editable."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.harness import OmniRouteProcess
from tests.support.mock_provider import MockProvider

from .ui_support import (
    Page,
    browser_fixture,  # noqa: F401 (a fixture, used by name)
    ui_fixture,  # noqa: F401 (a fixture, used by name)
)

pytestmark = pytest.mark.e2e

CONFIG = """\
providers:
  - {{name: declared, provider: openai, url: "{url}/v1"}}
aliases: {{fast: declared/gpt-fast}}
combos:
  - {{name: coder, model: gpt-coder, nodes: [{{connection: declared}}]}}
fallbacks:
  - {{model: gpt-chain, chain: [{{provider: declared}}]}}
agents:
  claude-code: {{mappings: [{{source: "*", target: fast}}]}}
bypass: [bank.example]
apiKeys:
  - {{label: ci-from-file, keyHash: "{key_hash}", scope: read}}
"""


@pytest.fixture(scope="module", name="process")
def process_fixture(mock_provider: MockProvider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OmniRouteProcess]:
    config = Path(tmp_path_factory.mktemp("ui-config")) / "omniroute.yaml"
    config.write_text(CONFIG.format(url=mock_provider.url, key_hash=hashlib.sha256(b"ui-file-key").hexdigest()))
    with OmniRouteProcess(config=config) as proc:
        proc.add_provider("openai", "handmade", mock_provider.url + "/v1")
        with proc.api() as api:
            assert api.post("/api/keys", json={"label": "handmade-key"}).status_code == 201
        yield proc


def buttons(row: object) -> list[str]:
    return row.locator("button").all_inner_texts()  # type: ignore[attr-defined]


def test_routing_page_shows_file_entries_read_only(ui: Page) -> None:
    page = ui.open("routing")
    declared = page.locator("#providers tr[data-connection=declared]")
    assert declared.locator(".from-config").inner_text() == "config file"
    assert "Edit" not in buttons(declared) and "Delete" not in buttons(declared)
    assert "Test" in buttons(declared)  # probing the upstream changes nothing the file owns
    assert {"Edit", "Delete"} <= set(buttons(page.locator("#providers tr[data-connection=handmade]")))
    combo = page.locator("#combos tr[data-combo=coder]")
    assert combo.locator(".from-config").count() == 1 and buttons(combo) == []
    page.wait_for_selector("#aliases .from-config")
    page.wait_for_selector("#chains .from-config")
    assert ui.errors == []


def test_keys_page_shows_the_file_key_read_only(ui: Page) -> None:
    page = ui.open("keys")
    rows = page.locator("#keys tbody tr")
    page.wait_for_function("document.querySelectorAll('#keys tbody tr').length === 2")
    by_label = {rows.nth(i).locator("td").first.inner_text(): rows.nth(i) for i in range(2)}
    assert buttons(by_label["ci-from-file"]) == []
    assert by_label["ci-from-file"].locator(".from-config").count() == 1
    assert "Delete" in buttons(by_label["handmade-key"])
    assert ui.errors == []


def test_agents_page_disables_declared_mappings_and_bypass(ui: Page) -> None:
    page = ui.open("agents", "?agent=claude-code")
    page.locator("#mapping-agent").select_option("claude-code")
    page.wait_for_function("document.querySelector('#mapping-save').disabled === true")
    assert page.locator("#mapping-rows input[name=target]").first.input_value() == "fast"
    assert page.locator("#mapping-rows input[name=target]").first.is_disabled()
    page.locator("#mapping-agent").select_option("codex")  # not in the file: editable
    page.wait_for_function("document.querySelector('#mapping-save').disabled === false")
    page.wait_for_selector("#bypass-form textarea[readonly]")
    assert "bank.example" in page.locator("#bypass-form textarea").input_value()
    assert page.locator("#bypass-form button[type=submit]").is_disabled()
    assert ui.errors == []
