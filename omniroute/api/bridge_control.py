"""AgentBridge control routes: listeners, bypass list, our CA, the upstream (corporate) CA.

`/api/tools/agent-bridge/{server, bypass, cert, upstream-ca}` and the HTTP_PROXY capture
mode `/api/tools/traffic-inspector/capture-modes/http-proxy`. Loopback only.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from omniroute.api.deps import runtime_of
from omniroute.api.guards import loopback_only
from omniroute.api.management import refuse_config_entry, setting_from_config
from omniroute.bridge import control
from omniroute.bridge.bypass import BYPASS_KEY, combined_patterns
from omniroute.bridge.ca import UpstreamCAError
from omniroute.bridge.trust import run_commands, trust_commands
from omniroute.db.tables import KeyValue
from omniroute.engine.errors import BadRequest, EngineError

router = APIRouter(
    prefix="/api/tools/agent-bridge", tags=["AgentBridge"], dependencies=[Depends(loopback_only)]
)
capture_router = APIRouter(
    prefix="/api/tools/traffic-inspector/capture-modes",
    tags=["Traffic Inspector"],
    dependencies=[Depends(loopback_only)],
)

PEM_TYPE = "application/x-pem-file"
DER_TYPE = "application/pkix-cert"


class ServerAction(BaseModel):
    action: Literal["start", "stop", "restart", "trust-cert", "regenerate-cert"]
    # Beyond the OmniRoute API specification: which listener (the DNS-mode one unless told), and a dry run
    # for trust-cert that only lists the commands.
    listener: Literal["agent-bridge", "http-proxy", "all"] = "agent-bridge"
    dryRun: bool = False


class CaptureModeAction(BaseModel):
    action: Literal["start", "stop"]


class BypassUpsert(BaseModel):
    patterns: list[str] = Field(max_length=1000)


class CertAction(BaseModel):
    action: Literal["download", "regenerate"]


class UpstreamCaPost(BaseModel):
    path: str | None = Field(default=None, max_length=4096)


def _control_error(exc: control.ControlError) -> EngineError:
    return EngineError(str(exc), status=exc.status, param="action")


async def _listeners(request: Request, names: list[str], action: str) -> list[dict[str, Any]]:
    runtime = runtime_of(request)
    out = []
    try:
        for name in names:
            if action == "restart":
                state = await control.restart_listener(runtime, name)
            else:
                state = await control.set_listener(runtime, name, action == "start")
            out.append(state.as_dict())
    except control.ControlError as exc:
        raise _control_error(exc) from None
    return out


@router.post("/server")
async def server_action(request: Request, payload: ServerAction) -> dict[str, Any]:
    runtime = runtime_of(request)
    if payload.action in ("start", "stop", "restart"):
        names = list(control.PROXY_LISTENERS) if payload.listener == "all" else [payload.listener]
        return {"action": payload.action, "listeners": await _listeners(request, names, payload.action)}
    if payload.action == "regenerate-cert":
        return await _regenerate(request)
    commands = trust_commands(None, "trust", runtime.ca.cert_path)
    result: dict[str, Any] = {"action": "trust-cert", "commands": [" ".join(c) for c in commands]}
    if not payload.dryRun:
        outcomes = await asyncio.to_thread(run_commands, commands)
        result["results"] = [{"command": " ".join(c), "outcome": o} for c, o in outcomes]
        failed = [o for _, o in outcomes if o != "ok"]
        if failed:
            raise EngineError(
                f"trusting the CA failed ({failed[0]}); run these yourself: "
                + " && ".join(result["commands"]),
                status=500,
            )
    return result


@capture_router.post("/http-proxy")
async def http_proxy_mode(request: Request, payload: CaptureModeAction) -> dict[str, Any]:
    states = await _listeners(request, ["http-proxy"], payload.action)
    return {"action": payload.action, "listener": states[0]}


# -- bypass ------------------------------------------------------------------------------
def _bypass_rows(request: Request) -> list[dict[str, Any]]:
    runtime = runtime_of(request)
    with runtime.db.session() as session:
        row = session.get(KeyValue, BYPASS_KEY)
    saved_at = row.updated_at.isoformat() if row is not None else None
    mine = "config" if row is not None and row.from_config else "user"  # "config": the file's
    return [
        {"pattern": p, "source": mine if source == "user" else source,
         "created_at": saved_at if source == "user" else None}
        for p, source in combined_patterns(runtime.user_bypass_patterns())
    ]


@router.get("/bypass")
async def get_bypass(request: Request) -> list[dict[str, Any]]:
    return _bypass_rows(request)


@router.put("/bypass")
async def put_bypass(request: Request, payload: BypassUpsert) -> list[dict[str, Any]]:
    refuse_config_entry(setting_from_config(runtime_of(request).db, BYPASS_KEY), "the bypass list")
    try:
        runtime_of(request).set_user_bypass_patterns(payload.patterns)
    except ValueError as exc:
        raise BadRequest(str(exc), param="patterns") from None
    return _bypass_rows(request)


# -- our CA ------------------------------------------------------------------------------
def _cert_file(request: Request, fmt: str) -> Response:
    ca = runtime_of(request).ca
    if fmt == "der":
        return Response(ca.der(), media_type=DER_TYPE,
                        headers={"content-disposition": 'attachment; filename="omniroute-ca.cer"'})
    return Response(ca.pem(), media_type=PEM_TYPE,
                    headers={"content-disposition": 'attachment; filename="omniroute-ca.pem"'})


async def _regenerate(request: Request) -> dict[str, Any]:
    info = await control.regenerate_ca(runtime_of(request))
    return {
        "action": "regenerate",
        "cert": info.to_dict(),
        "note": "new CA created: trust it again (omniroute cert trust) and restart agents",
    }


@router.get("/cert")
async def download_cert(request: Request, format: Literal["pem", "der"] = Query("pem")) -> Response:
    return _cert_file(request, format)


@router.post("/cert", response_model=None)
async def cert_action(request: Request, payload: CertAction) -> Response | dict[str, Any]:
    if payload.action == "download":
        return _cert_file(request, "pem")
    return await _regenerate(request)


# -- upstream CA -------------------------------------------------------------------------
@router.get("/upstream-ca")
async def get_upstream_ca(request: Request) -> dict[str, Any]:
    runtime = runtime_of(request)
    path = control.upstream_ca_path(runtime)
    applied = runtime.proxy_host.option("ssl_verify_upstream_trusted_ca") if runtime.proxy_host else None
    return {"path": path, "bundle": applied}


@router.post("/upstream-ca")
async def set_upstream_ca(request: Request, payload: UpstreamCaPost) -> dict[str, Any]:
    try:
        return await control.set_upstream_ca(runtime_of(request), payload.path)
    except UpstreamCAError as exc:
        raise BadRequest(str(exc), param="path") from None


@router.delete("/upstream-ca")
async def clear_upstream_ca(request: Request) -> dict[str, Any]:
    return await control.set_upstream_ca(runtime_of(request), None)
