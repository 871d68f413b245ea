"""`/api/config`: the declarative config file this instance was started with, and its reload
(the same as sending the process SIGHUP)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.requests import HTTPConnection

from omniroute.api.deps import SettingsDep, services_of
from omniroute.api.errors import error_response
from omniroute.configfile import Applied, ConfigFileError
from omniroute.configfile.reload import reload_config_file as reload_services
from omniroute.engine.errors import Conflict

router = APIRouter(prefix="/api/config", tags=["System"])


async def _reload(conn: HTTPConnection) -> Callable[[], Awaitable[Applied]]:
    services = services_of(conn)
    return lambda: reload_services(services)


ReloadConfigDep = Annotated[Callable[[], Awaitable[Applied]], Depends(_reload)]


@router.get("")
async def config_file(settings: SettingsDep) -> dict[str, Any]:
    path = settings.config_file
    return {"file": str(path) if path else None}


@router.post("/reload", response_model=None)
async def reload_config_file(
    request: Request, settings: SettingsDep, reload: ReloadConfigDep
) -> dict[str, Any] | JSONResponse:
    """Apply the file again: every entry it declares, in one transaction; on any problem,
    422 listing each one (file:line: key: message) and nothing changed."""
    path = settings.config_file
    if path is None:
        raise Conflict("no config file: start OmniRoute with --config FILE (or OMNIROUTE_CONFIG) to use one")
    try:
        applied = await reload()
    except ConfigFileError as exc:
        lines = exc.lines()
        details = [{"field": f"{path}:{p.line}: {p.key}", "message": p.message} for p in exc.problems]
        return error_response(
            request, 422,
            f"config file not applied, nothing changed ({len(lines)} problem"
            f"{'s' if len(lines) != 1 else ''}): " + "; ".join(lines),
            code="config_file_invalid", details=details,
        )
    return {"applied": True, "file": str(path), "changed": sorted(applied.kinds)}
