"""The agents, routing and keys pages in Chromium: forms that change where calls go, with
errors shown next to their fields; then screenshots of every page, taken last so they show
what these forms created. Screenshots go to ``artifacts/screenshots/``."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from tests.support.harness import OmniRouteProcess
from tests.support.mock_provider import MockProvider

from .ui_support import (
    PAGES,
    SHOTS,
    Page,
    agent_call,
    browser_fixture,  # noqa: F401 (a fixture, used by name)
    process_fixture,  # noqa: F401 (a fixture, used by name)
    ui_fixture,  # noqa: F401 (a fixture, used by name)
)

pytestmark = pytest.mark.e2e


def test_mapping_in_agents_page_changes_where_the_next_call_goes(
    ui: Page, process: OmniRouteProcess, mock_provider: MockProvider
) -> None:
    page = ui.open("agents", "?agent=codex")
    page.wait_for_function("document.querySelectorAll('#mapping-rows .mapping-row').length >= 1")
    assert page.input_value("#mapping-rows .mapping-row input[name=target]") == "mock/gpt-mock"

    # A validation error is shown next to the field it names.
    page.fill("#mapping-rows .mapping-row input[name=source]", "x" * 300)
    page.click("#mapping-save")
    page.locator("#mappings-form .field-error").first.wait_for()

    page.fill("#mapping-rows .mapping-row input[name=source]", "*")
    page.fill("#mapping-rows .mapping-row input[name=target]", "mock/gpt-remapped")
    page.click("#mapping-save")
    page.wait_for_selector(".toast >> text=Saved 1 mapping")
    assert page.locator("#mappings-form .field-error").count() == 0

    mock_provider.clear()
    agent_call(process, "after remap", stream=False)
    models = [r["model"] for r in mock_provider.requests_to("/v1/chat/completions")]
    assert models == ["gpt-remapped"], mock_provider.requests

    # The env snippet for the agent names the proxy port and our CA.
    snippet = page.inner_text("#env-snippet")
    assert f"HTTPS_PROXY=http://127.0.0.1:{process.proxy_port}" in snippet
    assert "SSL_CERT_FILE=" in snippet
    ca_link = page.get_attribute("#ca-pem", "href")
    assert httpx.get(process.api_url + ca_link).text.startswith("-----BEGIN CERTIFICATE-----")

    process.map_models("codex", {"*": "mock/gpt-mock"})  # restore for the other tests


def test_agents_page_dns_bypass_and_upstream_ca(ui: Page, process: OmniRouteProcess) -> None:
    page = ui.open("agents")
    hosts = process.home / "hosts"  # the harness points OMNIROUTE_HOSTS_FILE here
    # Copilot: an agent OmniRoute cannot configure directly, so its card keeps the DNS toggle
    # (Codex's card has the directly / intercept / off control instead).
    toggle = page.locator(".agent[data-agent=copilot] input[type=checkbox]")
    toggle.check()
    page.wait_for_selector(".toast >> text=DNS mode on for GitHub Copilot")
    assert "api.githubcopilot.com" in hosts.read_text()
    toggle.uncheck()
    page.wait_for_selector(".toast >> text=DNS mode off for GitHub Copilot")
    assert "api.githubcopilot.com" not in hosts.read_text()

    page.fill("#bypass-form textarea", "*.internal.example")
    page.click("#bypass-form button[type=submit]")
    page.wait_for_selector(".toast >> text=Bypass list saved")
    with process.api() as api:
        rows = api.get("/api/tools/agent-bridge/bypass").json()
    assert {"pattern": "*.internal.example", "source": "user"}.items() <= next(
        r for r in rows if r["pattern"] == "*.internal.example").items()

    page.fill("#upstream-ca-form input[name=path]", "/nonexistent/corporate-ca.pem")
    page.click("#upstream-ca-form button[type=submit]")
    error = page.locator("#upstream-ca-form [data-field=path] .field-error")
    error.wait_for()
    assert "/nonexistent/corporate-ca.pem" in error.inner_text()


def test_provider_form_shows_errors_next_to_fields_then_creates(ui: Page, mock_provider: MockProvider) -> None:
    page = ui.open("routing")
    page.click("#provider-new")
    page.select_option("#provider-form select[name=provider]", "openai-compatible")
    page.fill("#provider-form input[name=name]", "bad/name")
    page.fill("#provider-form input[name=url]", "ftp://nowhere")
    page.click("#provider-form button[type=submit]")
    page.locator("#provider-form [data-field=name] .field-error").wait_for()
    assert "must be an absolute http(s) URL" in page.inner_text("#provider-form [data-field=url] .field-error")

    page.fill("#provider-form input[name=name]", "mock-ui")
    page.fill("#provider-form input[name=url]", mock_provider.url + "/v1")
    page.click("#provider-form button[type=submit]")
    row = page.locator("#providers tr[data-connection=mock-ui]")
    row.wait_for()
    row.locator("button", has_text="Test").click()
    row.locator(".test-cell .badge.ok").wait_for()
    row.locator("button", has_text="Models").click()
    page.wait_for_selector("#provider-models code")
    assert page.locator("#provider-form").is_hidden()
    assert ui.errors == [e for e in ui.errors if "422" in e]


def test_combo_created_in_routing_page_is_usable_from_v1(
    ui: Page, process: OmniRouteProcess, mock_provider: MockProvider
) -> None:
    page = ui.open("routing")
    page.click("#combo-new")
    page.click("#combo-form button[type=submit]")  # empty form: errors next to the fields
    page.locator("#combo-form [data-field=name] .field-error").wait_for()

    name = f"ui-combo-{uuid.uuid4().hex[:6]}"
    page.fill("#combo-form input[name=name]", name)
    page.fill("#combo-form input[name=model]", "gpt-combo")
    page.select_option("#combo-form select[name=strategy]", "priority")
    page.select_option("#combo-nodes .node-row select[name=connectionId]", label="mock (openai)")
    page.click("#combo-node-add")
    assert page.locator("#combo-nodes .node-row").count() == 2
    page.locator("#combo-nodes .node-row").nth(1).locator("button[aria-label=Remove]").click()
    page.click("#combo-form button[type=submit]")
    page.wait_for_selector(f"#combos tr[data-combo='{name}'], #combo-form .field-error, #combo-form .form-error")
    assert page.locator("#combo-form .field-error, #combo-form .form-error").count() == 0, page.inner_text("#combo-form")
    assert page.locator("#combo-form").is_hidden()

    mock_provider.clear()
    with process.api() as api:
        response = api.post("/v1/chat/completions", json={"model": name, "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == "mock reply from gpt-combo: hi"
    assert ui.errors == [e for e in ui.errors if "422" in e]


def test_api_key_secret_is_shown_once(ui: Page, process: OmniRouteProcess) -> None:
    page = ui.open("keys")
    page.click("#key-form button[type=submit]")  # no label: the API's message sits next to it
    page.locator("#key-form [data-field=label] .field-error").wait_for()

    label = f"ui-key-{uuid.uuid4().hex[:6]}"
    page.fill("#key-form input[name=label]", label)
    page.select_option("#key-form select[name=scope]", "write")
    page.click("#key-form button[type=submit]")
    secret_el = page.locator("#key-secret-value")
    secret_el.wait_for()
    secret = secret_el.inner_text()
    assert re.fullmatch(r"sk-omni-[A-Za-z0-9_-]{20,}", secret), secret
    page.wait_for_selector(f"#keys td >> text={label}")
    page.click("#key-dismiss")
    assert page.locator("#key-secret").is_hidden()
    assert secret not in page.content()

    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    assert secret not in page.content()
    assert secret[-4:] in page.inner_text("#keys")  # only the preview stays

    with process.api() as api:  # the key works for /v1
        response = api.get("/v1/models", headers={"authorization": f"Bearer {secret}"})
    assert response.status_code == 200

    page.once("dialog", lambda dialog: dialog.accept())
    row = page.locator("#keys tr", has_text=label)
    row.locator("button", has_text="Revoke").click()
    row.locator(".badge", has_text="revoked").wait_for()
    with process.api() as api:
        keys = {k["label"]: k for k in api.get("/api/keys").json()["keys"]}
    assert keys[label]["isActive"] is False
    assert ui.errors == [e for e in ui.errors if "422" in e]

def test_screenshots(ui: Page, process: OmniRouteProcess) -> None:
    """Written last so the pages show the traffic and settings the tests above created."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for name in PAGES:
        page = ui.open(name)
        if name == "inspector":
            page.locator("#grid .grid-row").first.click()
            page.wait_for_selector("#detail-body .merged-text, #detail-body dl")
        if name == "routing":
            page.locator("#providers button", has_text="Test").first.click()
            page.wait_for_selector("#providers .test-cell .badge.ok")
            page.locator("#combos button", has_text="Edit").first.click()
            page.locator("#combo-form").wait_for()
        page.wait_for_timeout(300)
        page.screenshot(path=str(SHOTS / f"{name}.png"))
    page = ui.open("inspector")
    page.click("#theme-toggle")  # the other theme than the system's (headless Chromium: light)
    page.locator("#grid .grid-row").first.click()
    page.wait_for_selector("#detail-body dl")
    page.screenshot(path=str(SHOTS / "inspector-dark.png"))
    # The README's copies in docs/screenshots/ are taken by scripts/screenshots, so a test
    # run never changes tracked files.
    assert ui.errors == []
