"""The inspector's layout in Chromium: the list header scrolls with the rows, the detail pane
is an overlay on narrow screens, header labels stay on one line, toasts never take a click.
Each test keeps a screenshot in ``artifacts/screenshots/``."""

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

# The left edge of every header cell and of the same cell in the first row, in the viewport.
COLUMN_EDGES = """() => {
  const head = [...document.querySelectorAll('.grid-head > span')].map((s) => s.getBoundingClientRect().left);
  const row = [...document.querySelector('#grid .grid-row').children].map((s) => s.getBoundingClientRect().left);
  return {head, row};
}"""


def test_header_scrolls_with_the_rows_when_the_detail_is_open(ui: Page, process: OmniRouteProcess) -> None:
    page, _ = open_captured_call(ui, process, "layout")
    # With the pane open the columns are wider than the list: it scrolls sideways.
    assert page.evaluate("document.getElementById('grid').scrollWidth > document.getElementById('grid').clientWidth")
    page.evaluate("document.getElementById('grid').scrollLeft = 240")
    page.wait_for_function("document.getElementById('grid').scrollLeft > 0")
    edges = page.evaluate(COLUMN_EDGES)
    shot(page, "fix-header-scrolls-with-rows")
    assert len(edges["head"]) == len(edges["row"]) == 12
    for head, row in zip(edges["head"], edges["row"], strict=True):
        assert abs(head - row) <= 1, edges

    # Scrolled down through many rows, the header stays in view above them.
    page.evaluate("""() => { const rows = [];
        for (let i = 0; i < 300; i++) rows.push({id: 'layout-' + i, timestamp: new Date().toISOString(), agent: 'codex',
          source: 'http-proxy', method: 'POST', host: 'api.openai.com', path: '/v1/responses', status: 200});
        OmniInspector.ingest(rows); document.getElementById('grid').scrollTop = 4000; OmniInspector.render(); }""")
    head_box = page.locator(".grid-head").bounding_box()
    grid_box = page.locator("#grid").bounding_box()
    assert head_box is not None and grid_box is not None
    assert abs(head_box["y"] - grid_box["y"]) <= 1
    assert ui.errors == []


def test_detail_is_an_overlay_on_narrow_screens(ui: Page, process: OmniRouteProcess) -> None:
    ui.page.set_viewport_size({"width": 800, "height": 900})
    marker = f"narrow-{uuid.uuid4().hex[:8]}"
    agent_call(process, marker, stream=False)
    page = ui.open("inspector", f"?q={marker}")
    page.wait_for_function("OmniInspector.state.rows.length === 1")
    before = page.locator(".table-wrap").bounding_box()
    page.locator("#grid .grid-row").first.click()
    page.wait_for_selector("#detail-body dl")
    shot(page, "fix-detail-overlay-800px")
    after = page.locator(".table-wrap").bounding_box()
    assert before is not None and after is not None
    assert after["width"] == before["width"]  # the list keeps its columns; the pane lies over it
    pane = page.locator("#detail").bounding_box()
    assert pane is not None and pane["x"] >= 0 and pane["x"] + pane["width"] <= 800
    for tab in page.locator("#detail .tabs button").all():
        box = tab.bounding_box()
        assert box is not None and box["x"] >= pane["x"] and box["x"] + box["width"] <= pane["x"] + pane["width"], box
    page.keyboard.press("Escape")
    assert page.locator("#detail").is_hidden()
    # Closed, the Status, Path and Model columns start on screen (the list scrolls sideways for
    # the rest of the widest ones).
    for label in ("Status", "Path", "Model"):
        cell = page.locator(".grid-head > span", has_text=label).first.bounding_box()
        assert cell is not None and cell["x"] + min(cell["width"], 100) <= 800, (label, cell)
    assert ui.errors == []


@pytest.mark.parametrize("width", [1440, 800])
def test_header_labels_stay_on_one_line(ui: Page, process: OmniRouteProcess, width: int) -> None:
    ui.page.set_viewport_size({"width": width, "height": 900})
    page, _ = open_captured_call(ui, process, "layout")
    shot(page, f"fix-header-one-line-{width}px")
    # One line box per label, and none cut short.
    lines = page.evaluate("""() => [...document.querySelectorAll('.grid-head > span')].map((s) => {
        const range = document.createRange(); range.selectNodeContents(s);
        const tops = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
        return [s.textContent, tops.size, s.scrollWidth <= s.clientWidth]; })""")
    assert [label for label, count, whole in lines if count != 1 or not whole] == [], lines
    assert "Model (source → mapped)" in [label for label, _, _ in lines]


def test_toasts_never_take_a_click(ui: Page, process: OmniRouteProcess) -> None:
    page, _ = open_captured_call(ui, process, "layout")
    page.fill("#annotation-form textarea", "a note")
    page.click("#annotation-form button[type=submit]")
    toast = page.locator(".toast", has_text="Annotation saved")
    toast.wait_for()
    shot(page, "fix-toast-over-buttons")
    box = toast.bounding_box()
    assert box is not None
    # Whatever lies under a toast still gets the click.
    hit = page.evaluate("([x, y]) => !!document.elementFromPoint(x, y).closest('#toasts')",
                        [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2])
    assert hit is False
