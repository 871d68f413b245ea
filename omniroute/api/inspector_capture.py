"""Traffic Inspector capture setup: custom capture hosts and the capture modes.

- `hosts`: custom hosts (`InspectorCustomHost*` of the OmniRoute API specification),
  stored in the database; enabled ones are
  pointed at loopback in the hosts file (tag `custom-hosts`). 409 on a duplicate.
- `capture-modes`: the state of every mode (`InspectorCaptureModesState` of the specification, plus our
  `tlsIntercept`). `capture-modes/http-proxy` (start/stop the HTTP_PROXY listener) is served by
  `api/bridge_control.py`, which owns the listeners.
- `capture-modes/system-proxy`: apply / revert / confirm. `apply` arms a guard: unless
  `confirm` follows, the previous settings come back by themselves after `guardMinutes`
  (or `guardSeconds`, ours). Linux (gsettings) only; elsewhere 501 with a plain reason.
- `capture-modes/tls-intercept`: when off, nothing is decrypted (connections are tunnelled and
  listed with host and timing only).
- `capture-modes/capture` (ours): pause / resume capture itself (the start value is the setting
  `inspector_enabled`); traffic keeps flowing either way.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from omniroute.api.deps import runtime_of
from omniroute.api.fields import NoControl
from omniroute.api.guards import loopback_only
from omniroute.api.inspector import PREFIX
from omniroute.bridge.hostsfile import HostsFileError, HostsFileNotWritable
from omniroute.engine.errors import BadRequest, EngineError
from omniroute.inspector.custom_hosts import CustomHostExists, CustomHostNotFound
from omniroute.inspector.system_proxy import SystemProxyError, SystemProxyUnsupported

router = APIRouter(prefix=PREFIX, tags=["Traffic Inspector"], dependencies=[Depends(loopback_only)])

DEFAULT_GUARD_MINUTES = 5


class CustomHostCreate(BaseModel):
    host: Annotated[str, Field(min_length=1, max_length=253), NoControl]
    enabled: bool = True
    label: Annotated[str, Field(max_length=200), NoControl] | None = None
    kind: Literal["llm", "app", "custom"] = "custom"


class CustomHostPatch(BaseModel):
    enabled: bool


class SystemProxyAction(BaseModel):
    action: Literal["apply", "revert", "confirm"]  # confirm: ours, keeps the applied proxy
    port: int | None = Field(default=None, ge=1, le=65535)
    guardMinutes: int | None = Field(default=None, ge=1, le=10_080)  # a week
    guardSeconds: float | None = Field(default=None, gt=0, le=86400)  # ours: finer guard


class TlsInterceptToggle(BaseModel):
    enabled: bool


class CaptureToggle(BaseModel):
    enabled: bool


async def _hosts_call(fn: Any, *args: Any) -> Any:
    try:
        return await asyncio.to_thread(fn, *args)
    except CustomHostExists as exc:
        raise EngineError(str(exc), status=409, param="host") from None
    except CustomHostNotFound as exc:
        raise EngineError(f"custom host {exc.args[0]!r} not found", status=404) from None
    except HostsFileNotWritable as exc:
        raise EngineError(str(exc), status=403) from None
    except HostsFileError as exc:
        raise EngineError(str(exc), status=500) from None
    except ValueError as exc:
        raise BadRequest(str(exc), param="host") from None


@router.get("/hosts")
async def list_hosts(request: Request) -> list[dict[str, Any]]:
    return await _hosts_call(runtime_of(request).custom_hosts.list)  # type: ignore[no-any-return]


@router.post("/hosts", status_code=201)
async def add_host(request: Request, payload: CustomHostCreate) -> JSONResponse:
    hosts = runtime_of(request).custom_hosts
    row = await _hosts_call(hosts.add, payload.host, payload.enabled, payload.label, payload.kind)
    return JSONResponse(row, status_code=201)


@router.patch("/hosts/{host}")
async def toggle_host(request: Request, host: str, payload: CustomHostPatch) -> dict[str, Any]:
    return await _hosts_call(runtime_of(request).custom_hosts.set_enabled, host, payload.enabled)  # type: ignore[no-any-return]


@router.delete("/hosts/{host}", status_code=204)
async def remove_host(request: Request, host: str) -> Response:
    await _hosts_call(runtime_of(request).custom_hosts.remove, host)
    return Response(status_code=204)


@router.get("/capture-modes")
async def capture_modes(request: Request) -> dict[str, Any]:
    runtime = runtime_of(request)
    listeners = {state.name: state for state in runtime.listener_states()}
    bridge, proxy = listeners.get("agent-bridge"), listeners.get("http-proxy")
    count = runtime.custom_hosts.enabled_count
    return {
        "agentBridge": {"active": bool(bridge and bridge.state == "running"),
                        "port": bridge.port if bridge else None},
        "customHosts": {"active": count > 0, "count": count},
        "httpProxy": {"active": bool(proxy and proxy.state == "running"),
                      "port": proxy.port if proxy else runtime.settings.proxy_port},
        "systemProxy": runtime.system_proxy.state(),
        "tlsIntercept": {"enabled": runtime.tls_intercept},
        "capture": {"enabled": runtime.capture.enabled},
    }


@router.post("/capture-modes/system-proxy")
async def system_proxy(request: Request, payload: SystemProxyAction) -> dict[str, Any]:
    runtime = runtime_of(request)
    proxy = runtime.system_proxy
    try:
        if payload.action == "apply":
            port = payload.port or runtime.settings.proxy_port
            if not port:
                raise BadRequest("the HTTP_PROXY listener is disabled; pass 'port'", param="port")
            guard = payload.guardSeconds or 60.0 * (payload.guardMinutes or DEFAULT_GUARD_MINUTES)
            state = await proxy.apply(port, guard)
        elif payload.action == "confirm":
            state = proxy.confirm()
        else:
            state = await proxy.revert()
    except SystemProxyUnsupported as exc:
        raise EngineError(str(exc), status=501) from None
    except SystemProxyError as exc:
        raise EngineError(str(exc), status=500) from None
    return {"action": payload.action, "systemProxy": state}


@router.post("/capture-modes/tls-intercept")
async def tls_intercept(request: Request, payload: TlsInterceptToggle) -> dict[str, Any]:
    runtime = runtime_of(request)
    runtime.tls_intercept = payload.enabled
    return {"tlsIntercept": {"enabled": runtime.tls_intercept},
            "note": "applies to new connections; open ones keep their mode"}


@router.post("/capture-modes/capture")
async def capture_toggle(request: Request, payload: CaptureToggle) -> dict[str, Any]:
    """Ours: pause (or resume) capturing new flows without stopping any listener."""
    runtime = runtime_of(request)
    runtime.capture.enabled = payload.enabled
    return {"capture": {"enabled": runtime.capture.enabled}}
