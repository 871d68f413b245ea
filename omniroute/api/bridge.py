"""AgentBridge routes (`/api/tools/agent-bridge/...`): agents, state, DNS mode, mappings.

Loopback only. Listener, certificate, bypass and upstream-CA control is in `bridge_control`.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import time
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from omniroute.api.deps import runtime_of
from omniroute.api.fields import NoControl
from omniroute.api.guards import loopback_only
from omniroute.api.management import refuse_config_entry
from omniroute.bridge.agent_state import agent_rows, iso
from omniroute.bridge.catalog import AgentSpec
from omniroute.bridge.hostsfile import (
    DEFAULT_HOSTS_FILE,
    HostsFile,
    HostsFileError,
    HostsFileNotWritable,
    flush_dns,
)
from omniroute.bridge.trust import is_trusted
from omniroute.engine.errors import BadRequest, EngineError, Forbidden

router = APIRouter(
    prefix="/api/tools/agent-bridge", tags=["AgentBridge"], dependencies=[Depends(loopback_only)]
)


class UnknownAgent(EngineError):
    status = 404


class Conflict(EngineError):
    status = 409


class MappingItem(BaseModel):
    source: Annotated[str, Field(max_length=256), NoControl]
    target: Annotated[str, Field(max_length=512), NoControl]


class MappingPut(BaseModel):
    mappings: list[MappingItem] = Field(max_length=1000)


class DnsAction(BaseModel):
    enabled: bool


def _spec(request: Request, agent_id: str) -> AgentSpec:
    catalog = runtime_of(request).catalog
    if agent_id not in catalog:
        known = ", ".join(a.id for a in catalog)
        raise UnknownAgent(f"unknown agent {agent_id!r}; known agents: {known}", param="agentId")
    return catalog.get(agent_id)


def cli_command() -> str:
    """How the sudo hint names our CLI: sudo's PATH rarely includes a virtualenv."""
    sibling = Path(sys.executable).parent / "omniroute"
    return str(sibling) if sibling.exists() else (shutil.which("omniroute") or "omniroute")


def hosts_file(request: Request) -> HostsFile:
    return HostsFile(runtime_of(request).settings.hosts_file, command=cli_command())


def _hosts_entries(hosts: HostsFile) -> dict[str, list[str]] | None:
    try:
        return hosts.entries()
    except (HostsFileError, OSError):
        return None


@router.get("/agents")
async def list_agents(request: Request) -> list[dict[str, Any]]:
    runtime = runtime_of(request)
    entries, trusted = await asyncio.to_thread(
        lambda: (_hosts_entries(hosts_file(request)), is_trusted(runtime.ca.cert_path))
    )
    return agent_rows(
        runtime.catalog,
        mapping_counts={a.id: len(runtime.mappings.rules(a.id)) for a in runtime.catalog},
        states=await asyncio.to_thread(runtime.agent_states.all),
        hosts_entries=entries,
        cert_trusted=trusted,
    )


@router.get("/state")
async def bridge_state(request: Request) -> dict[str, Any]:
    runtime = runtime_of(request)
    listeners = {l.name: l for l in runtime.listener_states()}
    bridge, proxy = listeners["agent-bridge"], listeners["http-proxy"]
    try:
        cert: dict[str, Any] | None = runtime.ca.info().to_dict()
    except Exception:  # noqa: BLE001 - a broken CA is reported as not ready, not a 500
        cert = None
    return {
        "running": bridge.state == "running",
        "port": bridge.port,
        "certReady": cert is not None,
        # Calls captured by either proxy listener (bounded by the inspector ring).
        "interceptedCount": sum(1 for row in runtime.ring if row.source in ("agent-bridge", "http-proxy")),
        "activeConnections": runtime.proxy_host.active_connections() if runtime.proxy_host else 0,
        "lastStartedAt": iso(runtime.listener_started_at.get("agent-bridge")),
        "lastError": bridge.error,
        "httpProxy": {"running": proxy.state == "running", "port": proxy.port, "error": proxy.error},
        "cert": cert,
        "hostsFile": str(runtime.settings.hosts_file),
    }


@router.post("/agents/{agent_id}/dns")
async def set_dns(request: Request, agent_id: str, payload: DnsAction) -> dict[str, Any]:
    runtime = runtime_of(request)
    spec = _spec(request, agent_id)
    hosts = hosts_file(request)
    if payload.enabled and not spec.exact_hosts:
        raise BadRequest(
            f"agent {agent_id!r} has no known hosts to map; add its hosts to the catalog first",
            param="agentId",
        )
    try:
        if payload.enabled:
            changed = await asyncio.to_thread(hosts.enable, spec.id, spec.exact_hosts)
        else:
            changed = await asyncio.to_thread(hosts.disable, spec.id)
    except HostsFileNotWritable as exc:
        await asyncio.to_thread(runtime.agent_states.update, spec.id, last_error=str(exc))
        raise Forbidden(str(exc), param="hostsFile") from None
    except HostsFileError as exc:
        raise Conflict(str(exc), param="hostsFile") from None
    except OSError as exc:
        raise Conflict(f"cannot change {hosts.path}: {exc.strerror or exc}", param="hostsFile") from None
    fields: dict[str, Any] = {"dns_enabled": payload.enabled, "last_error": None}
    if payload.enabled and changed:
        fields["last_started_at"] = time.time()
    await asyncio.to_thread(runtime.agent_states.update, spec.id, **fields)
    flushed = None
    if changed and str(hosts.path) == DEFAULT_HOSTS_FILE:
        # Resolvers cache the old answers; a test's temp hosts file needs no flush.
        flushed = [(" ".join(cmd), outcome) for cmd, outcome in await asyncio.to_thread(flush_dns)]
    result: dict[str, Any] = {
        "agent_id": spec.id,
        "dns_enabled": payload.enabled,
        "changed": changed,
        "hosts": list(spec.exact_hosts) if payload.enabled else [],
        "hostsFile": str(hosts.path),
        "dnsFlush": flushed,
    }
    port = runtime.settings.bridge_port
    if payload.enabled and port != 443:
        result["warning"] = (
            f"the DNS-mode listener is on port {port}, but agents connect to 443; "
            "run OmniRoute with --bridge-port 443 (as root) or forward 443 to it"
        )
    if payload.enabled and not spec.routable:
        result["warning"] = f"{spec.name} is captured but never rerouted: {spec.reason}"
    return result


@router.get("/agents/{agent_id}/mappings")
async def get_mappings(request: Request, agent_id: str) -> list[dict[str, Any]]:
    return runtime_of(request).mappings.rows(_spec(request, agent_id).id)


@router.put("/agents/{agent_id}/mappings")
async def put_mappings(request: Request, agent_id: str, payload: MappingPut) -> dict[str, Any]:
    runtime = runtime_of(request)
    spec = _spec(request, agent_id)
    declared = any(row["from_config"] for row in runtime.mappings.rows(spec.id))
    refuse_config_entry(declared, f"the model mappings of {spec.id}")
    try:
        runtime.mappings.replace(spec.id, [m.model_dump() for m in payload.mappings])
    except ValueError as exc:
        raise BadRequest(str(exc), param="mappings") from None
    out: dict[str, Any] = {"agent_id": spec.id, "mappings": runtime.mappings.rows(spec.id)}
    if not spec.routable:
        out["warning"] = f"{spec.name} is not routable, so these mappings are not applied: {spec.reason}"
    return out
