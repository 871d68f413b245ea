"""The Usage page's requests are matched ahead of the rest of the management API.

FastAPI 0.165 tries the app's included routers one by one, and each walks all of its routes,
so a path's place in that list is its matching cost on the event loop that carries the agents'
calls (issue #16: the page's queries in a loop must not slow those calls). The routes whose
paths overlap keep their relative order, `/api/usage/budget` and `/api/usage/charts` before
`/api/usage/{connectionId}`: `test_settings_limits.py` and `test_usage_charts.py` reach them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from starlette.routing import Match

from omniroute.api.app import create_app
from omniroute.config import Settings
from omniroute.runtime import Runtime

# What the Usage page asks for (omniroute/web/static/usage.js, usage-charts.js), and one route
# of the long list after it.
PAGE_PATHS = ("/api/usage/call-logs", "/api/usage/analytics", "/api/usage/charts")
MANAGEMENT_PATH = "/api/providers"


@pytest.fixture()
def app(tmp_path: Path) -> Iterator[FastAPI]:
    settings = Settings(home=tmp_path / "home", host="127.0.0.1", api_port=0, proxy_port=0, bridge_port=0)
    runtime = Runtime.open(settings)
    yield create_app(runtime.services)
    asyncio.run(runtime.stop())


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
