"""The README's screenshots (``docs/screenshots/*.png``), taken in Chromium from a throwaway
OmniRoute whose traffic comes from the mock provider: agent calls through the HTTP_PROXY
listener (streamed and whole, one failing), `/v1` calls to several models, a recording session.

Run by ``scripts/screenshots [--out DIR]``; a shot is one entry of ``SHOTS``.
"""

from __future__ import annotations

import argparse
import shutil
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import sync_playwright

from tests.support.agent_shapes import claude_code_call
from tests.support.harness import REPO_ROOT, OmniRouteProcess
from tests.support.mock_provider import MockProvider

OUT = REPO_ROOT / "docs" / "screenshots"
VIEWPORT = {"width": 1440, "height": 900}
INSPECTOR = "/api/tools/traffic-inspector"


def _open_first_row(page: Any) -> None:
    page.wait_for_function("OmniInspector.state.rows.length > 0")
    page.locator("#grid .grid-row", has_text="gpt-4o").first.click()
    page.wait_for_selector("#detail-body .merged-text")


def _open_conversation(page: Any) -> None:
    """The Claude Code session of `make_traffic`, opened on its second turn, with its cost."""
    page.wait_for_function("OmniInspector.state.rows.length > 0")
    page.click("#conversations-toggle")
    page.locator(".conversation-row", has_text="claude-code").first.click()
    page.locator("#conversation-thread .thread-timeline .turn-bar").nth(1).wait_for()
    page.click("#turn-next")
    page.click("#turn-next")
    page.wait_for_selector("#detail-body")


def _wait_for_charts(page: Any) -> None:
    page.locator("#by-model svg rect").first.wait_for()


def _test_connection_and_open_combo(page: Any) -> None:
    page.locator("#providers button", has_text="Test").first.click()
    page.wait_for_selector("#providers .test-cell .badge.ok")
    page.locator("#combos button", has_text="Edit").first.click()
    page.locator("#combo-form").wait_for()


@dataclass(frozen=True)
class Shot:
    file: str
    page: str
    prepare: Callable[[Any], None] = lambda page: None
    theme: str = "light"


SHOTS = (
    Shot("inspector.png", "inspector", _open_first_row),
    Shot("inspector-dark.png", "inspector", _open_first_row, theme="dark"),
    Shot("conversation.png", "inspector", _open_conversation),
    Shot("usage.png", "usage", _wait_for_charts),
    Shot("routing.png", "routing", _test_connection_and_open_combo),
    Shot("agents.png", "agents"),
)


def make_traffic(process: OmniRouteProcess, mock: MockProvider) -> None:
    """Calls the pages then show: an agent's (mapped), `/v1` clients', a recorded session."""
    process.add_provider("openai", "mock", mock.url + "/v1")
    process.map_models("codex", {"*": "mock/gpt-mock"})
    process.map_models("claude-code", {"*": "mock/claude-sonnet-4-5"})  # a priced model: the shot shows cost
    with httpx.Client(base_url=process.api_url, timeout=30, trust_env=False) as api:
        api.post("/api/combos", json={"name": "coding", "model": "gpt-4.1", "strategy": "priority",
                                      "nodes": [{"connectionId": "mock", "priority": 0}]}).raise_for_status()
        recording = api.post(f"{INSPECTOR}/sessions", json={"name": "refactor the parser"}).json()
        with httpx.Client(proxy=process.proxy_url, verify=process.ssl_context(), trust_env=False, timeout=30) as agent:
            for text, stream in (("explain this stack trace", True), ("write a test for parse()", False),
                                 ("rename the helper", True)):
                agent.post("https://api.openai.com/v1/chat/completions",
                           headers={"authorization": "Bearer sk-agent-own-key"},
                           json={"model": "gpt-4o", "stream": stream,
                                 "messages": [{"role": "user", "content": text}]}).raise_for_status()
        session = str(uuid.uuid4())
        for text in ("find why the parser drops the last token", "fix it and add a regression test",
                     "run the tests again"):
            claude_code_call(process, session, text).raise_for_status()
        for model, calls in (("mock/gpt-4.1", 6), ("mock/gpt-4o-mini", 4), ("coding", 3), ("mock/claude-sonnet", 2)):
            for i in range(calls):
                api.post("/v1/chat/completions", json={"model": model, "messages": [
                    {"role": "user", "content": f"summarise change {i}"}]}).raise_for_status()
        api.post("/v1/chat/completions", json={"model": "mock/fail-429", "messages": [
            {"role": "user", "content": "rate limited"}]})
        api.patch(f"{INSPECTOR}/sessions/{recording['id']}", json={"action": "stop"}).raise_for_status()


def take(process: OmniRouteProcess, out: Path, shots: Sequence[Shot] = SHOTS) -> list[Path]:
    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("screenshots: Debian's chromium is not installed (./scripts/system-deps installs it)")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--headless", "--no-sandbox", "--disable-gpu"])
        try:
            for shot in shots:
                context = browser.new_context(viewport=VIEWPORT)
                context.add_init_script(f"localStorage.setItem('omniroute.theme', '{shot.theme}')")
                page = context.new_page()
                page.goto(f"{process.api_url}/ui/{shot.page}")
                page.wait_for_selector("body[data-ready=true]")
                shot.prepare(page)
                page.wait_for_timeout(300)  # the last requests of the page settle before the shot
                page.screenshot(path=str(out / shot.file))
                written.append(out / shot.file)
                context.close()
        finally:
            browser.close()
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/screenshots", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT, help=f"folder for the PNG files (default: {OUT})")
    args = parser.parse_args(argv)
    with MockProvider() as mock, OmniRouteProcess() as process:
        make_traffic(process, mock)
        for path in take(process, args.out):
            print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
