"""The Usage page's reads are served without FastAPI's router (`omniroute.api.usage_reads`),
and answer exactly as FastAPI does.

Why it matters: the page asks for them while the agents' calls share the event loop (issue
#16), and FastAPI's dependency solving per request was most of what the loop still spent on
them. `/api/usage/logs` takes the same query as `/api/usage/call-logs` and is still served by
FastAPI: the reference for every 422 the direct read gives.
"""

from __future__ import annotations

import asyncio
from typing import Any

import fastapi.routing
import httpx
import pytest
from fastapi import FastAPI

BAD_LOG_QUERIES = ("limit=0", "limit=1001", "limit=abc&offset=-1", "offset=x", "status=slow",
                   "limit=5&status=2xx&model=m")


class DependencySolving:
    """Counts FastAPI's `solve_dependencies`: one per request FastAPI's router serves."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        solve = fastapi.routing.solve_dependencies

        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return await solve(*args, **kwargs)

        monkeypatch.setattr(fastapi.routing, "solve_dependencies", counted)


def get_all(app: FastAPI, paths: list[str], method: str = "GET") -> list[httpx.Response]:
    """The app's answers, in order, through its whole middleware stack."""
    async def run() -> list[httpx.Response]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as c:
            return [await c.request(method, path) for path in paths]

    return asyncio.run(run())


def test_the_pages_reads_skip_fastapis_dependency_solving(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    solving = DependencySolving(monkeypatch)
    page = ["/api/usage/call-logs?limit=50", "/api/usage/analytics?period=week",
            "/api/usage/charts?period=month&by=agent"]
    answers = get_all(app, page)
    assert [r.status_code for r in answers] == [200, 200, 200]
    assert answers[0].json() == {"items": [], "total": 0, "limit": 50, "offset": 0}
    assert (answers[1].json()["period"], answers[2].json()["by"]) == ("week", "agent")
    assert solving.count == 0
    get_all(app, ["/api/usage/history"])  # another Usage route: FastAPI still serves it
    assert solving.count == 1


def test_a_bad_query_gets_the_422_fastapi_gives(app: FastAPI) -> None:
    direct = get_all(app, [f"/api/usage/call-logs?{query}" for query in BAD_LOG_QUERIES])
    fastapi_served = get_all(app, [f"/api/usage/logs?{query}" for query in BAD_LOG_QUERIES])
    assert [(r.status_code, r.json()) for r in direct] == [(r.status_code, r.json()) for r in fastapi_served]
    assert {r.status_code for r in direct} == {422}


def test_a_bad_period_or_split_names_its_field(app: FastAPI) -> None:
    analytics, charts = get_all(app, ["/api/usage/analytics?period=year", "/api/usage/charts?period=x&by=team"])
    assert (analytics.status_code, charts.status_code) == (422, 422)
    assert analytics.json()["error"]["details"] == [
        {"field": "period", "message": "Input should be 'day', 'week' or 'month'"}]
    assert [d["field"] for d in charts.json()["error"]["details"]] == ["period", "by"]


def test_other_methods_still_reach_fastapi(app: FastAPI) -> None:
    (post,) = get_all(app, ["/api/usage/call-logs"], method="POST")
    assert (post.status_code, post.headers["allow"]) == (405, "GET")
