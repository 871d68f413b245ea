"""`/api/config`: the declarative config file this instance was started with, and its reload
(the same as sending the process SIGHUP)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from omniroute.api.deps import runtime_of
from omniroute.api.errors import error_response
from omniroute.api.management import Conflict
from omniroute.configfile import ConfigFileError

router = APIRouter(prefix="/api/config", tags=["System"])


@router.get("")
async def config_file(request: Request) -> dict[str, Any]:
    path = runtime_of(request).settings.config_file
    return {"file": str(path) if path else None}


@router.post("/reload", response_model=None)
async def reload_config_file(request: Request) -> dict[str, Any] | JSONResponse:
    """Apply the file again: every entry it declares, in one transaction; on any problem,
    422 listing each one (file:line: key: message) and nothing changed."""
    runtime = runtime_of(request)
    path = runtime.settings.config_file
    if path is None:
        raise Conflict("no config file: start OmniRoute with --config FILE (or OMNIROUTE_CONFIG) to use one")
    try:
        applied = await runtime.reload_config_file()
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
