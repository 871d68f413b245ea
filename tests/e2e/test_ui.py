"""The web UI in Debian's Chromium (Playwright): every page, live inspector, forms that route.

A real OmniRoute process with the mock provider as connection ``mock`` and a ``*`` mapping for
codex; agent calls go through the HTTP_PROXY listener with httpx (trusting our CA), as an agent
would. Screenshots of each page go to ``artifacts/screenshots/``.
"""

from __future__ import annotations

import json
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from omniroute.testing.harness import REPO_ROOT, OmniRouteProcess
from omniroute.testing.mock_provider import MockProvider

pytestmark = pytest.mark.e2e

playwright_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium")
if CHROMIUM is None:
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True)

PAGES = ("inspector", "agents", "routing", "usage", "keys")
SHOTS = REPO_ROOT / "artifacts" / "screenshots"
INSPECTOR = "/api/tools/traffic-inspector"
TIMEOUT_MS = 15_000


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def process(mock_provider: MockProvider) -> Iterator[OmniRouteProcess]:
    with OmniRouteProcess() as proc:
        proc.add_provider("openai", "mock", mock_provider.url + "/v1")
        proc.map_models("codex", {"*": "mock/gpt-mock"})
        yield proc


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
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


@pytest.fixture()
def ui(browser: Any, process: OmniRouteProcess) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    try:
        yield Page(context.new_page(), process.api_url)
    finally:
        context.close()


@pytest.fixture(scope="module")
def routes(process: OmniRouteProcess) -> set[str]:
    with process.api() as api:
        return set(api.get("/api/ui/config").json()["routes"])


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


def visible_rows(page: Any) -> list[str]:
    return page.locator("#grid .grid-row").all_inner_texts()


def has_route(routes: set[str], method: str, path: str) -> bool:
    norm = re.compile(r"\{[^}]*\}")
    return any(norm.sub("{}", r) == norm.sub("{}", f"{method} {path}") for r in routes)


# -- tests ------------------------------------------------------------------------------------


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
    page.wait_for_function(f"OmniInspector.state.rows.length < {total}")
    assert page.locator("#filters .field-error").count() == 0
    assert all("127.0.0.1" in row for row in visible_rows(page))

    page.click("#filters-reset")
    page.select_option("#filters select[name=agent]", "codex")
    page.wait_for_function(f"OmniInspector.state.rows.length < {total}")
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


def test_agents_page_dns_bypass_and_upstream_ca(ui: Page, process: OmniRouteProcess, routes: set[str]) -> None:
    if not has_route(routes, "POST", "/api/tools/agent-bridge/agents/{agentId}/dns"):
        pytest.skip("AgentBridge DNS/bypass/upstream-CA routes are not in this build yet")
    page = ui.open("agents")
    hosts = process.home / "hosts"  # the harness points OMNIROUTE_HOSTS_FILE here
    toggle = page.locator(".agent[data-agent=codex] input[type=checkbox]")
    toggle.check()
    page.wait_for_selector(".toast >> text=DNS mode on for Codex")
    assert "api.openai.com" in hosts.read_text()
    toggle.uncheck()
    page.wait_for_selector(".toast >> text=DNS mode off for Codex")
    assert "api.openai.com" not in hosts.read_text()

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


def test_replay_and_annotation(ui: Page, process: OmniRouteProcess, routes: set[str], mock_provider: MockProvider) -> None:
    replay = has_route(routes, "POST", f"{INSPECTOR}/requests/{{id}}/replay")
    annotate = has_route(routes, "PUT", f"{INSPECTOR}/requests/{{id}}/annotation")
    if not (replay or annotate):
        pytest.skip("replay and annotation routes are not in this build yet (UI shows 'not available')")
    marker = f"replay-{uuid.uuid4().hex[:8]}"
    agent_call(process, marker, stream=False)
    page = ui.open("inspector", f"?q={marker}")
    page.wait_for_function("OmniInspector.state.rows.length === 1")
    page.locator("#grid .grid-row").first.click()
    page.locator("#annotation-form").wait_for()
    if annotate:
        page.fill("#annotation-form textarea", "checked by the UI test")
        page.click("#annotation-form button[type=submit]")
        page.wait_for_selector(".toast >> text=Annotation saved")
        with process.api() as api:
            rows = api.get(f"{INSPECTOR}/requests", params={"q": marker}).json()["requests"]
        assert any(r["annotation"] == "checked by the UI test" for r in rows)
    if replay:
        mock_provider.clear()
        page.fill("#replay-form input[name=model]", "mock/gpt-replayed")
        page.click("#replay-form button[type=submit]")
        page.wait_for_selector("#replay-form .replay-output")
        assert "gpt-replayed" in page.inner_text("#replay-form .replay-output")


def test_recording_session_and_har(ui: Page, process: OmniRouteProcess, routes: set[str]) -> None:
    if not has_route(routes, "GET", f"{INSPECTOR}/sessions"):
        pytest.skip("recording sessions API is not in this build yet (UI shows 'not available')")
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


def test_export_of_the_filtered_view(ui: Page, process: OmniRouteProcess, routes: set[str]) -> None:
    marker = f"export-{uuid.uuid4().hex[:8]}"
    agent_call(process, marker, stream=False)
    page = ui.open("inspector", f"?q={marker}")
    page.wait_for_function("OmniInspector.state.rows.length === 1")
    with page.expect_download() as json_download:
        page.click("#export-json")
    rows = json.loads(Path(json_download.value.path()).read_text())
    assert [r["host"] for r in rows] == ["api.openai.com"]
    if not has_route(routes, "GET", f"{INSPECTOR}/export.har"):
        pytest.skip("export.har is not in this build yet (the JSON export works)")
    assert f"q={marker}" in page.get_attribute("#export-har", "href")
    with page.expect_download() as har_download:
        page.click("#export-har")
    har = json.loads(Path(har_download.value.path()).read_text())
    assert har["log"]["version"] == "1.2"
    assert len(har["log"]["entries"]) == 1 and marker in har["log"]["entries"][0]["request"]["postData"]["text"]


def test_live_socket_used_when_available(ui: Page, process: OmniRouteProcess, routes: set[str]) -> None:
    if not has_route(routes, "WS", f"{INSPECTOR}/ws"):
        pytest.skip("inspector WebSocket is not in this build yet (the table polls every 2 s)")
    page = ui.open("inspector")
    page.wait_for_selector("#live-state.ok")
    before = page.evaluate("OmniInspector.state.rows.length")
    agent_call(process, "over the socket", stream=False)
    page.wait_for_function(f"OmniInspector.state.rows.length > {before}", timeout=5000)


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
    # The README's copies in web/static/screenshots/ are refreshed by hand from these, so a
    # test run never changes tracked files.
    assert ui.errors == []
