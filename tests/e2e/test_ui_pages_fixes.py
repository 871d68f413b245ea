"""Fixes on the Usage and Agents pages in Chromium, and the pages' short addresses: one colour
per model in every chart and its legend (never repeated, and clearly apart for names that look
alike), bar labels that end before their bar, DNS-listener buttons that cannot act disabled,
`/inspector` leading to `/ui/inspector`. Each browser test keeps a screenshot in
``artifacts/screenshots/``."""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.harness import OmniRouteProcess
from tests.support.mock_provider import MockProvider

from .ui_support import (
    PAGES,
    Page,
    browser_fixture,  # noqa: F401 (a fixture, used by name)
    process_fixture,  # noqa: F401 (a fixture, used by name)
    shot,
    ui_fixture,  # noqa: F401 (a fixture, used by name)
)

pytestmark = pytest.mark.e2e

LONG_MODEL = "mock/WWWWWWWWWWWWWWWWWWWWWWWW-a-very-long-model-name"
# Eleven models (more than the eight theme colours), pairs of them with as many calls: a chart
# that ranks its own series then orders the tied ones its own way.
MODELS = {f"mock/model-{i:02d}": (12 - i) // 2 for i in range(1, 11)} | {LONG_MODEL: 7}


@pytest.fixture(scope="module")
def usage(process: OmniRouteProcess) -> None:
    with httpx.Client(base_url=process.api_url, timeout=30, trust_env=False) as client:
        for model, calls in MODELS.items():
            for _ in range(calls):
                response = client.post("/v1/chat/completions",
                                       json={"model": model, "messages": [{"role": "user", "content": "hi"}]})
                assert response.status_code == 200, response.text


# Computed colours: of each legend entry, of each series' bars in the timeline, and of each
# bar in the by-model chart (bars carry their series name in their tooltip).
COLOURS = """() => {
  const rgb = (node, prop) => getComputedStyle(node)[prop];
  const legend = Object.fromEntries([...document.querySelectorAll('#timeline-legend > span')].map((s) =>
    [s.textContent.replace(/ \\([^)]*\\)$/, ''), rgb(s.querySelector('i'), 'backgroundColor')]));
  const timeline = {};
  for (const r of document.querySelectorAll('#timeline svg rect')) {
    const key = r.querySelector('title').textContent.split(' · ')[1].replace(/: [^:]*$/, '');
    (timeline[key] ||= new Set()).add(rgb(r, 'fill'));
  }
  const bars = {};
  for (const r of document.querySelectorAll('#by-model svg rect')) {
    bars[r.querySelector('title').textContent.replace(/: [^:]*$/, '')] = rgb(r, 'fill');
  }
  return {legend, timeline: Object.fromEntries(Object.entries(timeline).map(([k, v]) => [k, [...v]])), bars};
}"""


def test_one_colour_per_model_in_every_chart_and_legend(ui: Page, usage: None) -> None:
    page = ui.open("usage")
    page.select_option("#groupby", "model")
    page.wait_for_function(f"document.getElementById('timeline-legend').children.length >= {len(MODELS)}")
    shot(page, "fix-chart-colours")
    colours = page.evaluate(COLOURS)
    legend, timeline, bars = colours["legend"], colours["timeline"], colours["bars"]
    used = [model.split("/", 1)[1] for model in MODELS]  # usage names the model the provider ran
    assert set(used) <= set(legend), legend
    for model in used:
        assert timeline[model] == [legend[model]], (model, colours)
        assert bars[model] == legend[model], (model, colours)
    assert len(set(legend.values())) == len(legend), legend  # no colour used twice


def test_long_model_names_end_before_their_bars(ui: Page, usage: None) -> None:
    page = ui.open("usage")
    page.locator("#by-model svg rect").first.wait_for()
    shot(page, "fix-long-model-names")
    # Each labelled bar of the breakdown cards (the time-series charts have no bar labels).
    bars = page.evaluate("""() => [...document.querySelectorAll('.cards svg text.bar-label')].map((label) => {
        const bar = label.nextElementSibling;
        return [label.textContent, label.getBoundingClientRect().right, bar.getBoundingClientRect().left];
      })""")
    assert bars and [b for b in bars if b[1] > b[2]] == []
    # The whole name stays readable as the bar's tooltip.
    assert LONG_MODEL.split("/", 1)[1] in page.inner_html("#by-model")


@pytest.fixture(scope="module")
def no_dns_listener() -> Iterator[OmniRouteProcess]:
    with OmniRouteProcess(bridge=False) as proc:
        yield proc


def listener_buttons(browser: Any, process: OmniRouteProcess, name: str) -> dict[str, tuple[bool, str | None]]:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    try:
        page = Page(context.new_page(), process.api_url).open("agents")
        page.locator("#server-actions button").first.wait_for()
        shot(page, name)
        return {b.inner_text(): (b.is_disabled(), b.get_attribute("title"))
                for b in page.locator("#server-actions button").all()}
    finally:
        context.close()


def test_dns_listener_buttons_disabled_when_they_cannot_act(
    browser: Any, process: OmniRouteProcess, no_dns_listener: OmniRouteProcess
) -> None:
    off = listener_buttons(browser, no_dns_listener, "fix-dns-buttons-listener-off")
    assert set(off) == {"start DNS-mode listener", "stop DNS-mode listener", "restart DNS-mode listener"}
    for disabled, title in off.values():
        assert disabled and title and "--bridge-port" in title, off
    running = listener_buttons(browser, process, "fix-dns-buttons-listener-running")
    assert running["start DNS-mode listener"][0] is True
    assert running["stop DNS-mode listener"][0] is False
    assert running["restart DNS-mode listener"][0] is False


@pytest.mark.parametrize("name", PAGES)
def test_pages_answer_without_the_ui_prefix(process: OmniRouteProcess, name: str) -> None:
    response = httpx.get(f"{process.api_url}/{name}?q=kept", follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"] == f"/ui/{name}?q=kept"
    assert httpx.get(f"{process.api_url}/{name}").is_success is False  # a redirect, not a copy
    assert httpx.get(f"{process.api_url}/{name}", follow_redirects=True).status_code == 200
    assert httpx.get(f"{process.api_url}/not-{name}").status_code == 404



def test_short_page_address_leads_to_the_page_in_the_browser(ui: Page) -> None:
    ui.page.goto(f"{ui.base_url}/inspector")
    ui.page.wait_for_selector("body[data-ready=true]")
    assert ui.page.url == f"{ui.base_url}/ui/inspector"
    assert ui.page.locator("#grid").count() == 1 and not ui.errors


# Names as users have them: several share a prefix (gpt-5, gpt-5-codex, gpt-5-mini), which is
# what made colours from a hash of the name near-twins.
REAL_MODELS = ("gpt-5", "gpt-5-codex", "gpt-5-mini", "gemini-2.5-pro", "gemini-2.5-flash", "deepseek-chat",
               "o4-mini", "claude-sonnet-4-5", "claude-opus-4-1", "qwen3-coder", "grok-code-fast-1")
# CIELAB distance (CIE76) under which two bar colours read as one series: the theme's own closest
# pair (green and lime) is 28 apart; about 2.3 is the smallest difference an eye notices.
MIN_DISTANCE = 20

# Each series' computed colour in every place the Usage page draws it.
SERIES_COLOURS = """() => {
  const rgb = (node, prop) => getComputedStyle(node)[prop];
  const out = {};
  const add = (chart, name, colour) => ((out[name] ||= {})[chart] ||= new Set()).add(colour);
  for (const s of document.querySelectorAll('#timeline-legend > span'))
    add('timeline legend', s.textContent.replace(/ \\([^)]*\\)$/, ''), rgb(s.querySelector('i'), 'backgroundColor'));
  for (const r of document.querySelectorAll('#timeline svg rect'))
    add('timeline', r.querySelector('title').textContent.split(' · ')[1].replace(/: [^:]*$/, ''), rgb(r, 'fill'));
  for (const r of document.querySelectorAll('#by-model svg rect'))
    add('by model', r.querySelector('title').textContent.replace(/: [^:]*$/, ''), rgb(r, 'fill'));
  for (const s of document.querySelectorAll('#chart-tokens-legend > span'))
    add('tokens legend', s.dataset.series, rgb(s.querySelector('i'), 'backgroundColor'));
  for (const r of document.querySelectorAll('#chart-tokens rect.bar')) add('tokens', r.dataset.series, rgb(r, 'fill'));
  for (const r of document.querySelectorAll('#chart-latency tbody tr'))
    add('latency', r.dataset.series, rgb(r.querySelector('.model-chip i'), 'backgroundColor'));
  return Object.fromEntries(Object.entries(out).map(([name, charts]) =>
    [name, Object.fromEntries(Object.entries(charts).map(([chart, colours]) => [chart, [...colours]]))]));
}"""


def lab(css: str) -> tuple[float, float, float]:
    """CIELAB (D65) of a computed ``rgb(r, g, b)``."""
    channels = [int(v) / 255 for v in re.findall(r"\d+", css)[:3]]
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    x, y, z = ((0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047, 0.2126 * r + 0.7152 * g + 0.0722 * b,
               (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883)
    fx, fy, fz = (t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116 for t in (x, y, z))
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


@pytest.fixture(scope="module")
def real_models(mock_provider: MockProvider) -> Iterator[OmniRouteProcess]:
    """A process of its own: these names must be the only series on its Usage page."""
    with OmniRouteProcess() as proc:
        proc.add_provider("openai", "mock", mock_provider.url + "/v1")
        with proc.api() as api:
            for model in REAL_MODELS:
                response = api.post("/v1/chat/completions",
                                    json={"model": f"mock/{model}", "messages": [{"role": "user", "content": "hi"}]})
                assert response.status_code == 200, response.text
        yield proc


def test_models_shown_together_get_clearly_distinct_colours(browser: Any, real_models: OmniRouteProcess) -> None:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    try:
        ui = Page(context.new_page(), real_models.api_url)
        page = ui.open("usage")
        page.wait_for_selector(".insight-charts[data-ready=true]")
        page.wait_for_function(f"document.getElementById('timeline-legend').children.length >= {len(REAL_MODELS)}")
        shot(page, "fix-chart-colours-real-names")
        colours = page.evaluate(SERIES_COLOURS)
        assert not ui.errors
    finally:
        context.close()
    charts = {"timeline legend", "timeline", "by model", "tokens legend", "tokens", "latency"}
    of: dict[str, str] = {}
    for model in REAL_MODELS:  # one colour per name in every chart and legend of the page
        assert set(colours[model]) == charts, (model, colours[model])
        assert {c for found in colours[model].values() for c in found} == {colours[model]["tokens legend"][0]}, colours[model]
        of[model] = colours[model]["tokens legend"][0]
    close = [(round(math.dist(lab(of[a]), lab(of[b])), 1), a, b, of[a], of[b])
             for a, b in itertools.combinations(REAL_MODELS, 2) if math.dist(lab(of[a]), lab(of[b])) < MIN_DISTANCE]
    assert close == [], close
