"""The Usage routes are matched ahead of the rest of the management API.

FastAPI 0.165 tries the app's included routers one by one, and each walks all of its routes,
so a path's place in that list is its matching cost on the event loop that carries the agents'
calls (issue #16). The page's main reads skip the router altogether (`test_usage_reads.py`);
its other views (logs, history, budget) and every method but GET still go through it. The routes
whose paths overlap keep their relative order, `/api/usage/budget` and `/api/usage/charts` before
`/api/usage/{connectionId}`: `test_settings_limits.py` and `test_usage_charts.py` reach them.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.routing import Match

# Usage routes (omniroute/web/static/usage.js, usage-charts.js, the limits screen), and one
# route of the long list after them.
PAGE_PATHS = ("/api/usage/call-logs", "/api/usage/charts", "/api/usage/logs", "/api/usage/history",
              "/api/usage/budget")
MANAGEMENT_PATH = "/api/providers"


def routes_tried(app: FastAPI, path: str) -> int:
    """How many of the app's top-level routes FastAPI tries before one matches ``GET path``."""
    scope = {"type": "http", "method": "GET", "path": path, "root_path": "", "headers": [], "query_string": b""}
    for tried, route in enumerate(app.router.routes, start=1):
        if route.matches(scope)[0] is Match.FULL:
            return tried
    raise AssertionError(f"no route matches GET {path}")


def test_the_usage_pages_requests_are_matched_before_the_management_api(app: FastAPI) -> None:
    management = routes_tried(app, MANAGEMENT_PATH)
    assert {path: routes_tried(app, path) < management for path in PAGE_PATHS} == dict.fromkeys(PAGE_PATHS, True)
