"""CLI tool settings (`/api/cli-tools/...`, the OmniRoute API specification's "CLI Tools"): point an
agent at this OmniRoute by writing its own settings file, read that back, reset it; backups.

Loopback only, like the AgentBridge routes: these edit files in the user's home. The spec's
route names (`claude-settings`, `codex-settings`, …) and our tool ids (`claude-code`) both work;
Cline, Kilo and OpenClaw answer that they cannot be configured, and why.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from omniroute.api.auth import key_cache
from omniroute.api.deps import AgentStatesDep, StoreDep, SyncDep
from omniroute.api.guards import loopback_only
from omniroute.clitools.backups import BackupNotFound
from omniroute.clitools.base import Writer
from omniroute.clitools.codex import ProfileNotFound
from omniroute.clitools.formats import SettingsFileError
from omniroute.clitools.service import CliTools, tool_list, user_home
from omniroute.clitools.tools import UNSUPPORTED, UnknownTool, writer_for
from omniroute.engine.errors import BadRequest, Conflict, NotFound
from omniroute.services import Services
from omniroute.shared.config_sync import ConfigSync

router = APIRouter(prefix="/api/cli-tools", tags=["CLI Tools"], dependencies=[Depends(loopback_only)])




class ApplyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: str | None = Field(default=None, min_length=1, max_length=200)
    smallModel: str | None = Field(default=None, min_length=1, max_length=200)


class ProfileBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")
    model: str | None = Field(default=None, min_length=1, max_length=200)


class BackupBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tool: str | None = Field(default=None, max_length=100)  # create a backup of this tool's files
    restore: str | None = Field(default=None, max_length=200)  # or restore this backup


def service(request: Request) -> CliTools:
    return request.app.state.cli_tools  # type: ignore[no-any-return]


def _writer(name: str) -> Writer:
    try:
        return writer_for(name)
    except UnknownTool as exc:
        raise (BadRequest if name in UNSUPPORTED else NotFound)(str(exc), param="tool") from None


async def _run[T](fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """File and database work in a worker thread; our errors become API errors."""
    try:
        return await asyncio.to_thread(fn, *args, **kwargs)
    except SettingsFileError as exc:
        raise Conflict(str(exc), param="settingsFile") from None
    except (BackupNotFound, ProfileNotFound) as exc:
        raise NotFound(str(exc)) from None
    except ValueError as exc:
        raise Conflict(str(exc)) from None
    except OSError as exc:  # a settings folder we may not read or write, a full disk
        where = f"{exc.filename}: " if exc.filename else ""
        raise Conflict(f"{where}{exc.strerror or exc} (backups taken before any change: "
                       "GET /api/cli-tools/backups)") from None


def _keys_changed(request: Request, sync: ConfigSync) -> None:
    key_cache(request).invalidate()
    sync.changed("keys")


@router.get("")
async def list_tools() -> dict[str, Any]:
    return {"tools": tool_list()}


@router.get("/backups")
async def list_backups(request: Request, tool: str | None = None) -> dict[str, Any]:
    tool_id = _writer(tool).id if tool else None
    backups = await _run(service(request).backups.list, tool_id)
    return {"backups": [b.to_dict() for b in backups]}


@router.post("/backups")
async def create_or_restore_backup(request: Request, payload: BackupBody) -> dict[str, Any]:
    if (payload.tool is None) == (payload.restore is None):
        raise BadRequest("send either {\"tool\": ID} to back up its settings or {\"restore\": BACKUP_ID}")
    tools = service(request)
    if payload.restore is not None:
        return {"restored": await _run(tools.restore_backup, payload.restore)}
    return {"backup": await _run(tools.create_backup, _writer(payload.tool or ""))}


@router.get("/runtime/{tool_id}")
async def tool_runtime(
    request: Request, store: StoreDep, agent_states: AgentStatesDep, tool_id: str
) -> dict[str, Any]:
    writer = _writer(tool_id)
    states = await store.call(agent_states.all)
    dns = bool(states.get(writer.agent, {}).get("dns_enabled"))
    return await _run(service(request).runtime, writer, dns)


@router.get("/guide-settings/{tool_id}")
async def guide(request: Request, tool_id: str) -> dict[str, Any]:
    if tool_id in UNSUPPORTED:
        return {"tool": tool_id, "supported": False, "reason": UNSUPPORTED[tool_id]}
    return service(request).guide(_writer(tool_id))


@router.get("/codex-profiles")
async def codex_profiles(request: Request) -> dict[str, Any]:
    return {"profiles": await _run(service(request).codex_profiles)}


@router.post("/codex-profiles")
async def create_codex_profile(request: Request, payload: ProfileBody) -> dict[str, Any]:
    return {"profiles": await _run(service(request).put_codex_profile, payload.name, payload.model, create=True)}


@router.put("/codex-profiles")
async def update_codex_profile(request: Request, payload: ProfileBody) -> dict[str, Any]:
    return {"profiles": await _run(service(request).put_codex_profile, payload.name, payload.model, create=False)}


@router.delete("/codex-profiles")
async def delete_codex_profile(request: Request, name: str) -> dict[str, Any]:
    return {"profiles": await _run(service(request).delete_codex_profile, name)}


@router.get("/{tool}-settings")
async def get_settings(request: Request, tool: str) -> dict[str, Any]:
    if tool in UNSUPPORTED:
        return {"tool": tool, "supported": False, "reason": UNSUPPORTED[tool]}
    return await _run(service(request).state, _writer(tool))


@router.post("/{tool}-settings")
async def apply_settings(
    request: Request, sync: SyncDep, tool: str, payload: ApplyBody | None = None
) -> dict[str, Any]:
    body = payload or ApplyBody()
    state = await _run(service(request).connect, _writer(tool), body.model, body.smallModel)
    _keys_changed(request, sync)
    return state


@router.delete("/{tool}-settings")
async def reset_settings(request: Request, sync: SyncDep, tool: str) -> dict[str, Any]:
    state = await _run(service(request).disconnect, _writer(tool))
    _keys_changed(request, sync)
    return state


def install(app: Any, services: Services) -> None:
    """The service on ``app.state`` (the per-tool keys are loaded now, and again on key changes)."""
    from omniroute.api.tool_keys import ToolKeys

    keys = ToolKeys(services.db)
    keys.reload()
    app.state.tool_keys = keys
    app.state.cli_tools = CliTools(services.settings, keys, user_home())
    services.sync.follow("keys", keys.reload)
