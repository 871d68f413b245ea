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

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from omniroute.api.deps import (
    AgentStatesDep,
    BoardDep,
    CADep,
    CatalogDep,
    MappingsDep,
    RegistryDep,
    RingDep,
    SettingsDep,
    StoreDep,
    UserAgentsDep,
)
from omniroute.api.fields import NoControl
from omniroute.api.guards import loopback_only
from omniroute.api.management import refuse_config_entry
from omniroute.api.mapping_check import check_targets
from omniroute.bridge.agent_state import agent_rows, iso
from omniroute.bridge.catalog import AgentSpec
from omniroute.bridge.hostsfile import (
    DEFAULT_HOSTS_FILE,
    HostsFile,
    HostsFileError,
    HostsFileNotWritable,
    flush_dns,
)
from omniroute.bridge.mapping import validate_rules
from omniroute.bridge.trust import is_trusted
from omniroute.engine.errors import BadRequest, Conflict, EngineError, Forbidden

router = APIRouter(
    prefix="/api/tools/agent-bridge", tags=["AgentBridge"], dependencies=[Depends(loopback_only)]
)


class UnknownAgent(EngineError):
    status = 404



class MappingItem(BaseModel):
    source: Annotated[str, Field(max_length=256), NoControl]
    target: Annotated[str, Field(max_length=512), NoControl]


class MappingPut(BaseModel):
    mappings: list[MappingItem] = Field(max_length=1000)


class DnsAction(BaseModel):
    enabled: bool


async def _spec(agent_id: str, catalog: CatalogDep) -> AgentSpec:
    """The agent a route's ``agent_id`` names (a route dependency); 404 naming the known ones."""
    if agent_id not in catalog:
        known = ", ".join(a.id for a in catalog)
        raise UnknownAgent(f"unknown agent {agent_id!r}; known agents: {known}", param="agentId")
    return catalog.get(agent_id)


def cli_command() -> str:
    """How the sudo hint names our CLI: sudo's PATH rarely includes a virtualenv."""
    sibling = Path(sys.executable).parent / "omniroute"
    return str(sibling) if sibling.exists() else (shutil.which("omniroute") or "omniroute")


Spec = Annotated[AgentSpec, Depends(_spec)]


async def hosts_file(settings: SettingsDep) -> HostsFile:
    return HostsFile(settings.hosts_file, command=cli_command())


HostsFileDep = Annotated[HostsFile, Depends(hosts_file)]


def _hosts_entries(hosts: HostsFile) -> dict[str, list[str]] | None:
    try:
        return hosts.entries()
    except (HostsFileError, OSError):
        return None


@router.get("/agents")
async def list_agents(
    hosts: HostsFileDep, ca: CADep, catalog: CatalogDep, mappings: MappingsDep, store: StoreDep,
    agent_states: AgentStatesDep, user_agents: UserAgentsDep,
) -> list[dict[str, Any]]:
    entries, trusted = await asyncio.to_thread(lambda: (_hosts_entries(hosts), is_trusted(ca.cert_path)))
    rows = agent_rows(
        catalog,
        mapping_counts={a.id: len(mappings.rules(a.id)) for a in catalog},
        states=await store.call(agent_states.all),
        hosts_entries=entries,
        cert_trusted=trusted,
    )
    for row in rows:  # a user-defined agent: its definition, as POST/PUT take it
        definition = user_agents.get(row["agent_id"]) if not row["builtin"] else None
        if definition is not None:
            row["definition"] = definition.to_api()
    return rows


@router.get("/state")
async def bridge_state(board: BoardDep, ca: CADep, ring: RingDep, settings: SettingsDep) -> dict[str, Any]:
    listeners = {l.name: l for l in board.states()}
    bridge, proxy = listeners["agent-bridge"], listeners["http-proxy"]
    try:
        cert: dict[str, Any] | None = ca.info().to_dict()
    except Exception:  # noqa: BLE001 - a broken CA is reported as not ready, not a 500
        cert = None
    return {
        "running": bridge.state == "running",
        "port": bridge.port,
        "certReady": cert is not None,
        # Calls captured by either proxy listener (bounded by the inspector ring).
        "interceptedCount": sum(1 for row in ring if row.source in ("agent-bridge", "http-proxy")),
        "activeConnections": board.host.active_connections() if board.host else 0,
        "lastStartedAt": iso(board.started.get("agent-bridge")),
        "lastError": bridge.error,
        "httpProxy": {"running": proxy.state == "running", "port": proxy.port, "error": proxy.error},
        "cert": cert,
        "hostsFile": str(settings.hosts_file),
    }


@router.post("/agents/{agent_id}/dns")
async def set_dns(
    spec: Spec, hosts: HostsFileDep, store: StoreDep, agent_states: AgentStatesDep, settings: SettingsDep,
    payload: DnsAction,
) -> dict[str, Any]:
    if payload.enabled and not spec.exact_hosts:
        raise BadRequest(
            f"agent {spec.id!r} has no known hosts to map; add its hosts to the catalog first",
            param="agentId",
        )
    try:
        if payload.enabled:
            changed = await asyncio.to_thread(hosts.enable, spec.id, spec.exact_hosts)
        else:
            changed = await asyncio.to_thread(hosts.disable, spec.id)
    except HostsFileNotWritable as exc:
        await store.call(agent_states.update, spec.id, last_error=str(exc))
        raise Forbidden(str(exc), param="hostsFile") from None
    except HostsFileError as exc:
        raise Conflict(str(exc), param="hostsFile") from None
    except OSError as exc:
        raise Conflict(f"cannot change {hosts.path}: {exc.strerror or exc}", param="hostsFile") from None
    fields: dict[str, Any] = {"dns_enabled": payload.enabled, "last_error": None}
    if payload.enabled and changed:
        fields["last_started_at"] = time.time()
    await store.call(agent_states.update, spec.id, **fields)
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
    port = settings.bridge_port
    if payload.enabled and port != 443:
        result["warning"] = (
            f"the DNS-mode listener is on port {port}, but agents connect to 443; "
            "run OmniRoute with --bridge-port 443 (as root) or forward 443 to it"
        )
    if payload.enabled and not spec.routable:
        result["warning"] = f"{spec.name} is captured but never rerouted: {spec.reason}"
    return result


@router.get("/agents/{agent_id}/mappings")
async def get_mappings(spec: Spec, mappings: MappingsDep, store: StoreDep) -> list[dict[str, Any]]:
    return await store.call(mappings.rows, spec.id)


@router.put("/agents/{agent_id}/mappings")
async def put_mappings(
    spec: Spec, mappings: MappingsDep, store: StoreDep, registry: RegistryDep, payload: MappingPut,
) -> dict[str, Any]:
    declared = any(row["from_config"] for row in await store.call(mappings.rows, spec.id))
    refuse_config_entry(declared, f"the model mappings of {spec.id}")
    rows = [m.model_dump() for m in payload.mappings]
    try:
        validate_rules(rows)
    except ValueError as exc:
        raise BadRequest(str(exc), param="mappings") from None
    check_targets((m.target for m in payload.mappings), registry.snapshot)
    await store.call(mappings.replace, spec.id, rows)
    out: dict[str, Any] = {"agent_id": spec.id, "mappings": await store.call(mappings.rows, spec.id)}
    if not spec.routable:
        out["warning"] = f"{spec.name} is not routable, so these mappings are not applied: {spec.reason}"
    return out
