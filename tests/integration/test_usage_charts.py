"""`/api/usage/charts` against a real process: series by model, agent and provider add up to the
calls made, unpriced calls are counted (not priced at 0), latency percentiles are ordered and
come from the calls' own latencies, and errors are grouped by status and message."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.harness import OmniRouteProcess
from tests.support.mock_provider import MockProvider

PRICES = {"chart-a": {"input": "2", "output": "4"}}


@pytest.fixture(scope="module", name="charted")
def charted_fixture(mock_provider: MockProvider) -> Iterator[tuple[OmniRouteProcess, list[dict[str, Any]]]]:
    with OmniRouteProcess(bridge=False) as proc:
        proc.add_provider("openai", "alpha", f"{mock_provider.url}/v1")
        with proc.api() as api:
            assert api.post("/api/pricing", json=PRICES).status_code == 200
            for model, n in (("alpha/chart-a", 3), ("alpha/chart-unpriced", 2), ("alpha/fail-400", 1)):
                for i in range(n):
                    api.post("/v1/chat/completions", json={"model": model, "messages": [{"role": "user", "content": f"call {i}"}]})
            logged = api.get("/api/usage/call-logs", params={"limit": 100}).json()["items"]
        yield proc, logged


def charts(proc: OmniRouteProcess, **params: str) -> dict[str, Any]:
    with proc.api() as api:
        response = api.get("/api/usage/charts", params=params)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


@pytest.mark.parametrize("by", ["model", "agent", "provider"])
def test_series_add_up_to_the_calls(charted: tuple[OmniRouteProcess, list[dict[str, Any]]], by: str) -> None:
    proc, logged = charted
    data = charts(proc, period="day", by=by)
    series = data["series"]
    assert sum(p["requests"] for p in series) == len(logged) == 6
    assert sum(p["tokensIn"] for p in series) == sum(r["tokensIn"] for r in logged)
    assert sum(p["errors"] for p in series) == 1
    assert all(p["bucket"] % data["bucketSeconds"] == 0 for p in series)
    priced = sum(float(r["cost"]) for r in logged if r["cost"] is not None)
    assert sum(p["cost"] for p in series) == pytest.approx(priced)
    assert sum(p["unpriced"] for p in series) == sum(1 for r in logged if r["cost"] is None) == 2


def test_series_by_model_names_each_model(charted: tuple[OmniRouteProcess, list[dict[str, Any]]]) -> None:
    proc, _ = charted
    by_name: dict[str, int] = {}
    for point in charts(proc, by="model")["series"]:
        by_name[point["name"]] = by_name.get(point["name"], 0) + point["requests"]
    assert by_name == {"chart-a": 3, "chart-unpriced": 2, "fail-400": 1}
    assert charts(proc, by="agent")["series"][0]["name"] == "api"


def test_latency_percentiles_are_the_calls_own(charted: tuple[OmniRouteProcess, list[dict[str, Any]]]) -> None:
    proc, logged = charted
    rows = {r["name"]: r for r in charts(proc, by="model")["latency"]}
    assert set(rows) == {"chart-a", "chart-unpriced"}  # answered calls only
    a = rows["chart-a"]
    own = sorted(r["latencyMs"] for r in logged if r["modelUsed"] == "chart-a")
    # Nearest rank, read back from the latency buckets: within 2.5 % of the calls' own values.
    assert a["n"] == 3
    assert (a["p50"], a["p90"], a["p99"]) == pytest.approx((own[1], own[2], own[2]), rel=0.025)


def test_errors_grouped_by_status_and_message(charted: tuple[OmniRouteProcess, list[dict[str, Any]]]) -> None:
    proc, logged = charted
    errors = charts(proc)["errors"]
    assert [(e["status"], e["count"]) for e in errors] == [(400, 1)]
    assert errors[0]["error"] == next(r["error"] for r in logged if r["status"] == 400)


def test_bad_parameters_are_refused_in_the_api_error_shape(charted: tuple[OmniRouteProcess, list[dict[str, Any]]]) -> None:
    proc, _ = charted
    with proc.api() as api:
        response: httpx.Response = api.get("/api/usage/charts", params={"by": "colour"})
    assert response.status_code in (400, 422) and "error" in response.json()
