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

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from omniroute.api.deps import (
    BoardDep,
    CaptureDep,
    CustomHostsDep,
    SettingsDep,
    StoreDep,
    SystemProxyDep,
)
from omniroute.api.fields import NoControl
from omniroute.api.guards import loopback_only
from omniroute.api.inspector import PREFIX
from omniroute.bridge.hostsfile import HostsFileError, HostsFileNotWritable
from omniroute.db.store import Store
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


async def _hosts_call(store: Store, fn: Any, *args: Any) -> Any:
    try:
        return await store.call(fn, *args)
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
async def list_hosts(store: StoreDep, hosts: CustomHostsDep) -> list[dict[str, Any]]:
    return await _hosts_call(store, hosts.list)  # type: ignore[no-any-return]


@router.post("/hosts", status_code=201)
async def add_host(store: StoreDep, hosts: CustomHostsDep, payload: CustomHostCreate) -> JSONResponse:
    row = await _hosts_call(store, hosts.add, payload.host, payload.enabled, payload.label, payload.kind)
    return JSONResponse(row, status_code=201)


@router.patch("/hosts/{host}")
async def toggle_host(
    store: StoreDep, hosts: CustomHostsDep, host: str, payload: CustomHostPatch
) -> dict[str, Any]:
    return await _hosts_call(store, hosts.set_enabled, host, payload.enabled)  # type: ignore[no-any-return]


@router.delete("/hosts/{host}", status_code=204)
async def remove_host(store: StoreDep, hosts: CustomHostsDep, host: str) -> Response:
    await _hosts_call(store, hosts.remove, host)
    return Response(status_code=204)


@router.get("/capture-modes")
async def capture_modes(
    settings: SettingsDep, board: BoardDep, hosts: CustomHostsDep, system: SystemProxyDep, capture: CaptureDep
) -> dict[str, Any]:
    listeners = {state.name: state for state in board.states()}
    bridge, proxy = listeners.get("agent-bridge"), listeners.get("http-proxy")
    count = hosts.enabled_count
    return {
        "agentBridge": {"active": bool(bridge and bridge.state == "running"),
                        "port": bridge.port if bridge else None},
        "customHosts": {"active": count > 0, "count": count},
        "httpProxy": {"active": bool(proxy and proxy.state == "running"),
                      "port": proxy.port if proxy else settings.proxy_port},
        "systemProxy": system.state(),
        "tlsIntercept": {"enabled": board.tls_intercept},
        "capture": {"enabled": capture.enabled},
    }


@router.post("/capture-modes/system-proxy")
async def system_proxy(settings: SettingsDep, proxy: SystemProxyDep, payload: SystemProxyAction) -> dict[str, Any]:
    try:
        if payload.action == "apply":
            port = payload.port or settings.proxy_port
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
async def tls_intercept(board: BoardDep, payload: TlsInterceptToggle) -> dict[str, Any]:
    board.tls_intercept = payload.enabled
    return {"tlsIntercept": {"enabled": board.tls_intercept},
            "note": "applies to new connections; open ones keep their mode"}


@router.post("/capture-modes/capture")
async def capture_toggle(capture: CaptureDep, payload: CaptureToggle) -> dict[str, Any]:
    """Ours: pause (or resume) capturing new flows without stopping any listener."""
    capture.enabled = payload.enabled
    return {"capture": {"enabled": capture.enabled}}
