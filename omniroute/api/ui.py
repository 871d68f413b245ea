"""The web UI: Jinja-rendered pages under `/ui/...`, static assets under `/static`, and
`GET /api/ui/config` (ports, CA paths, version, which optional routes exist). Loopback only.

Pages are thin shells; each page's script (`web/static/<page>.js`) calls the management API.
Templates and assets are package data of `omniroute` (found through the import system, so an
installed wheel serves them as a checkout does).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import cache
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Match
from starlette.staticfiles import StaticFiles

from omniroute import __version__
from omniroute.api.deps import BoardDep, CADep, SettingsDep
from omniroute.api.guards import loopback_only
from omniroute.engine.errors import EngineError
from omniroute.engine.strategies import SUPPORTED_STRATEGIES
from omniroute.providers.adapters import ADAPTERS
from omniroute.providers.clouds import CLOUD_FIELDS, KEY_LABELS

if TYPE_CHECKING:
    from jinja2 import Environment

PAGES: dict[str, str] = {
    "inspector": "Inspector",
    "agents": "Agents",
    "routing": "Routing",
    "usage": "Usage",
    "keys": "API keys",
}

router = APIRouter(include_in_schema=False, dependencies=[Depends(loopback_only)])
_static = StaticFiles(packages=[("omniroute", "web/static")])


@cache
def _templates() -> Environment:
    """The pages' templates, made on the first page served: until then nothing needs Jinja."""
    from jinja2 import Environment, PackageLoader

    return Environment(loader=PackageLoader("omniroute", "web/templates"), autoescape=True)


class PageNotFound(EngineError):
    status = 404


@router.get("/")
async def root() -> RedirectResponse:
    return RedirectResponse("/ui/inspector", status_code=307)


@router.get("/ui")
async def ui_root() -> RedirectResponse:
    return RedirectResponse("/ui/inspector", status_code=307)


def _page_redirect(page: str) -> Callable[[Request], Awaitable[RedirectResponse]]:
    async def redirect(request: Request) -> RedirectResponse:
        query = request.url.query
        return RedirectResponse(f"/ui/{page}" + (f"?{query}" if query else ""), status_code=307)

    return redirect


# `/inspector` and the like, typed or bookmarked without the `/ui` prefix, lead to the page.
for _page in PAGES:
    router.add_api_route(f"/{_page}", _page_redirect(_page), methods=["GET"], name=f"redirect-{_page}")


@router.get("/ui/{page}", response_class=HTMLResponse)
async def page(page: str) -> HTMLResponse:
    if page not in PAGES:
        raise PageNotFound(f"no UI page {page!r}; pages: {', '.join(PAGES)}")
    html = _templates().get_template(f"{page}.html").render(
        page=page, pages=PAGES, title=PAGES[page], version=__version__
    )
    return HTMLResponse(html, headers={"cache-control": "no-store"})


@router.get("/static/{path:path}")
async def static(request: Request, path: str) -> Response:
    # Served through a route (not a mount) so the loopback guard applies like everywhere else.
    return await _static.get_response(path, request.scope)


# WebSocket routes the pages use when present (they are not in the OpenAPI schema).
WS_PATHS = ("/api/tools/traffic-inspector/ws",)


def _routes(request: Request) -> list[str]:
    """"METHOD path" of every API route, so pages enable only the features this build has."""
    out = [
        f"{method.upper()} {path}"
        for path, item in request.app.openapi().get("paths", {}).items()
        if path.startswith("/api/")
        for method in item
        if method.upper() in ("GET", "POST", "PUT", "PATCH", "DELETE")
    ]
    for path in WS_PATHS:
        scope = {"type": "websocket", "path": path, "root_path": "", "headers": [], "query_string": b""}
        if any(route.matches(scope)[0] == Match.FULL for route in request.app.routes):
            out.append(f"WS {path}")
    return sorted(out)


@router.get("/api/ui/config")
async def ui_config(request: Request, settings: SettingsDep, ca: CADep, board: BoardDep) -> dict[str, Any]:
    bundle = ca.bundle_path
    return {
        "version": __version__,
        "host": settings.host,
        "apiPort": settings.api_port,
        "proxyPort": settings.proxy_port,
        "bridgePort": settings.bridge_port,
        "home": str(settings.home),
        "caCertPath": str(ca.cert_path),
        "caBundlePath": str(bundle) if bundle.exists() else None,
        "strategies": list(SUPPORTED_STRATEGIES),
        "providerTypes": sorted(ADAPTERS),
        "providerTypeInfo": {
            name: {"defaultUrl": a.default_url, "models": list(a.models), "fields": list(CLOUD_FIELDS.get(name, ())),
                   "keyLabel": KEY_LABELS.get(name)}
            for name, a in ADAPTERS.items()
        },
        "listeners": [listener.as_dict() for listener in board.states()],
        "routes": _routes(request),
    }
