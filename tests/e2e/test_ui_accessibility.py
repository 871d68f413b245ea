"""axe-core finds no serious or critical accessibility violation on any page of the web UI,
in either theme, nor in the inspector's detail pane, tabs, sessions list and empty states.

axe-core comes from npm, pinned in ``tests/e2e/package-lock.json`` and installed by
``./scripts/test`` into ``tests/e2e/node_modules``; it is injected into each page, so the check
runs offline. Without it the test skips (under ``CI=true`` a skip fails the run).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.harness import REPO_ROOT, OmniRouteProcess

from .ui_support import (
    PAGES,
    Page,
    agent_call,
    browser_fixture,  # noqa: F401 (a fixture, used by name)
    process_fixture,  # noqa: F401 (a fixture, used by name)
    shot,
)

pytestmark = pytest.mark.e2e

AXE = REPO_ROOT / "tests" / "e2e" / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")
# What a page marks once its last drawing is done, beyond the body's data-ready that Page.open
# waits for: the Usage page draws its database-summed charts after its own data.
DRAWN = {"usage": ".insight-charts[data-ready=true]"}

# axe's own report, cut to what a failure needs: rule, impact, help and the first elements.
RUN_AXE = """async () => {
  const result = await axe.run(document, { resultTypes: ['violations'] });
  return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ') + ' :: ' + n.failureSummary.replace(/\\s+/g, ' ')) }));
}"""


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.exists():
        pytest.skip(f"axe-core is not installed ({AXE}): ./scripts/test installs it with npm ci")
    return AXE.read_text()


@pytest.fixture(scope="module")
def traffic(process: OmniRouteProcess) -> str:
    marker = f"a11y-{uuid.uuid4().hex[:8]}"
    agent_call(process, marker, stream=True)
    agent_call(process, marker, stream=False)
    return marker


@pytest.fixture(params=["light", "dark"])
def themed(request: pytest.FixtureRequest, browser: Any, process: OmniRouteProcess) -> Iterator[tuple[Page, str]]:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.add_init_script(f"localStorage.setItem('omniroute.theme', '{request.param}')")
    try:
        yield Page(context.new_page(), process.api_url), request.param
    finally:
        context.close()


def blocking_violations(page: Any, axe_source: str) -> list[str]:
    """One line per element axe finds a serious or critical violation on."""
    page.add_script_tag(content=axe_source)
    return [f"{v['id']} ({v['impact']}: {v['help']}) at {node}"
            for v in page.evaluate(RUN_AXE) if v["impact"] in BLOCKING for node in v["nodes"]]


@pytest.mark.parametrize("name", PAGES)
def test_page_has_no_serious_violation(themed: tuple[Page, str], name: str, axe_source: str, traffic: str) -> None:
    ui, theme = themed
    page = ui.open(name)
    if name in DRAWN:
        page.wait_for_selector(DRAWN[name])
    else:
        page.wait_for_timeout(300)  # the page's second round of requests (listeners, tests) settles
    shot(page, f"a11y-{name}-{theme}")
    violations = blocking_violations(page, axe_source)
    assert violations == [], "\n".join(violations)


def test_inspector_states_have_no_serious_violation(themed: tuple[Page, str], axe_source: str, traffic: str) -> None:
    ui, theme = themed
    page = ui.open("inspector", f"?q={traffic}")
    page.wait_for_function("OmniInspector.state.rows.length === 2")
    page.locator("#grid .grid-row").first.click()
    page.wait_for_selector("#detail-body dl")
    page.click("#session-toggle")
    page.locator("#session-list > *").first.wait_for()
    found = {}
    for tab in ("overview", "request", "response", "merged", "conversation"):
        page.click(f"#detail .tabs button[data-tab={tab}]")
        found[tab] = blocking_violations(page, axe_source)
    shot(page, f"a11y-inspector-detail-{theme}")
    page.keyboard.press("Escape")
    page.fill("#filters input[name=filter]", "~d (")
    page.click("#filters button[type=submit]")
    page.locator("#filters .field-error").wait_for()
    found["invalid filter"] = blocking_violations(page, axe_source)
    lines = [f"{state}: {line}" for state, violations in found.items() for line in violations]
    assert lines == [], "\n".join(lines)
