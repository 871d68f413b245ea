"""AgentBridge control routes: listeners, bypass list, our CA, the upstream (corporate) CA.

`/api/tools/agent-bridge/{server, bypass, cert, upstream-ca}` and the HTTP_PROXY capture
mode `/api/tools/traffic-inspector/capture-modes/http-proxy`. Loopback only.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from omniroute.api.deps import BypassDep, CADep, ControlDep, StoreDep
from omniroute.api.guards import loopback_only
from omniroute.api.management import refuse_config_entry
from omniroute.bridge import control
from omniroute.bridge.bypass import combined_patterns
from omniroute.bridge.bypass_rules import BypassRules
from omniroute.bridge.ca import CertificateAuthority, UpstreamCAError
from omniroute.bridge.trust import run_commands, trust_commands
from omniroute.db.store import Store
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


async def _listeners(proxy: control.ProxyControl, names: list[str], action: str) -> list[dict[str, Any]]:
    out = []
    try:
        for name in names:
            if action == "restart":
                state = await proxy.restart_listener(name)
            else:
                state = await proxy.set_listener(name, action == "start")
            out.append(state.as_dict())
    except control.ControlError as exc:
        raise _control_error(exc) from None
    return out


@router.post("/server")
async def server_action(proxy: ControlDep, ca: CADep, payload: ServerAction) -> dict[str, Any]:
    if payload.action in ("start", "stop", "restart"):
        names = list(control.PROXY_LISTENERS) if payload.listener == "all" else [payload.listener]
        return {"action": payload.action, "listeners": await _listeners(proxy, names, payload.action)}
    if payload.action == "regenerate-cert":
        return await _regenerate(proxy)
    commands = trust_commands(None, "trust", ca.cert_path)
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
async def http_proxy_mode(proxy: ControlDep, payload: CaptureModeAction) -> dict[str, Any]:
    states = await _listeners(proxy, ["http-proxy"], payload.action)
    return {"action": payload.action, "listener": states[0]}


# -- bypass ------------------------------------------------------------------------------
async def _bypass_rows(store: Store, bypass: BypassRules) -> list[dict[str, Any]]:
    patterns, saved, declared = await store.call(bypass.stored)
    saved_at = saved.isoformat() if saved is not None else None
    mine = "config" if declared else "user"  # "config": the file's
    rows: list[dict[str, Any]] = []
    for pattern, source in combined_patterns(patterns):
        row = {"pattern": pattern, "source": mine if source == "user" else source}
        if source == "user" and saved_at is not None:  # built-in rules were never created: no date
            row["created_at"] = saved_at
        rows.append(row)
    return rows


@router.get("/bypass")
async def get_bypass(store: StoreDep, bypass: BypassDep) -> list[dict[str, Any]]:
    return await _bypass_rows(store, bypass)


@router.put("/bypass")
async def put_bypass(store: StoreDep, bypass: BypassDep, payload: BypassUpsert) -> list[dict[str, Any]]:
    _, _, declared = await store.call(bypass.stored)
    refuse_config_entry(declared, "the bypass list")
    try:
        await store.call(bypass.set_user_patterns, payload.patterns)
    except ValueError as exc:
        raise BadRequest(str(exc), param="patterns") from None
    return await _bypass_rows(store, bypass)


# -- our CA ------------------------------------------------------------------------------
def _cert_file(ca: CertificateAuthority, fmt: str) -> Response:
    if fmt == "der":
        return Response(ca.der(), media_type=DER_TYPE,
                        headers={"content-disposition": 'attachment; filename="omniroute-ca.cer"'})
    return Response(ca.pem(), media_type=PEM_TYPE,
                    headers={"content-disposition": 'attachment; filename="omniroute-ca.pem"'})


async def _regenerate(proxy: control.ProxyControl) -> dict[str, Any]:
    info = await proxy.regenerate_ca()
    return {
        "action": "regenerate",
        "cert": info.to_dict(),
        "note": "new CA created: trust it again (omniroute cert trust) and restart agents",
    }


@router.get("/cert")
async def download_cert(ca: CADep, format: Literal["pem", "der"] = Query("pem")) -> Response:
    return _cert_file(ca, format)


@router.post("/cert", response_model=None)
async def cert_action(ca: CADep, proxy: ControlDep, payload: CertAction) -> Response | dict[str, Any]:
    if payload.action == "download":
        return _cert_file(ca, "pem")
    return await _regenerate(proxy)


# -- upstream CA -------------------------------------------------------------------------
@router.get("/upstream-ca")
async def get_upstream_ca(proxy: ControlDep) -> dict[str, Any]:
    return {"path": await proxy.upstream_ca_path(), "bundle": proxy.applied_upstream_bundle()}


@router.post("/upstream-ca")
async def set_upstream_ca(proxy: ControlDep, payload: UpstreamCaPost) -> dict[str, Any]:
    try:
        return await proxy.set_upstream_ca(payload.path)
    except UpstreamCAError as exc:
        raise BadRequest(str(exc), param="path") from None


@router.delete("/upstream-ca")
async def clear_upstream_ca(proxy: ControlDep) -> dict[str, Any]:
    return await proxy.set_upstream_ca(None)
