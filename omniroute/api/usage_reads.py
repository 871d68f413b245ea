"""The Usage page's reads served without FastAPI's router (`direct.py`):
`GET /api/usage/call-logs`, `/api/usage/analytics` and `/api/usage/charts`.

Why: the page asks for these on every open and period change, while the agents' calls share
the loop. The database work already runs in the Store's reader process; what the loop did
besides was mostly FastAPI's: matching, dependency solving, exception middleware. Served here,
a read is the query check, the drain and the bytes from the reader.

The endpoint is the registered route's own function, handed the `Store` and `UsageRecorder`
of the composition root, and the query is checked with that route's own parameter fields
(FastAPI's `request_params_to_args`): a bad ``limit`` or ``period`` gets the 422 it gets
through FastAPI, named field for named field.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import request_params_to_args
from fastapi.exceptions import RequestValidationError
from fastapi.routing import RouteContext, iter_route_contexts
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

from omniroute.api import usage, usage_charts
from omniroute.api.direct import Endpoint, Lookup, endpoint
from omniroute.services import Services

PAGE_READS = (usage.call_logs, usage.analytics, usage_charts.charts)


def _read(route: RouteContext, services: Services) -> Endpoint:
    dependant: Dependant = route.dependant
    needs = {each.name for each in dependant.dependencies}
    if needs != {"store", "usage"} or dependant.path_params or dependant.header_params or dependant.body_params:
        raise TypeError(f"{route.path} takes more than its query, the store and the usage recorder; "
                        "serve it through FastAPI")
    fields, call = dependant.query_params, route.endpoint
    services_used: dict[str, Any] = {"store": services.store, "usage": services.usage}

    async def handle(request: Request) -> Response:
        values, problems = request_params_to_args(fields, request.query_params)
        if problems:
            raise RequestValidationError(problems)
        return await call(**services_used, **values)  # type: ignore[no-any-return]

    return endpoint(handle)


def usage_reads(app: FastAPI, services: Services) -> Lookup:
    """The lookup `GuardPass` calls for each GET; the app must already include the routes."""
    table = {route.path: _read(route, services) for route in iter_route_contexts(app.routes)
             if route.endpoint in PAGE_READS}
    if len(table) != len(PAGE_READS):
        raise LookupError("the Usage routes must be included before their direct reads are built")

    def lookup(scope: Scope) -> Endpoint | None:
        return table.get(scope["path"])

    return lookup
