"""User-defined agents (`POST/PUT/DELETE /api/tools/agent-bridge/agents[/{id}]`) and the mapping
test (`POST …/agents/{id}/mappings/test`). Loopback only, like every AgentBridge route.

A user agent's mappings go through the same `…/agents/{id}/mappings` as a built-in's
(`api/bridge.py`); deleting the agent deletes them and its DNS-mode hosts entries.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field

from omniroute.api.bridge import HostsFileDep, Spec
from omniroute.api.deps import CatalogDep, MappingsDep, RouterDep, StoreDep, UserAgentsDep
from omniroute.api.fields import NoControl
from omniroute.api.guards import loopback_only
from omniroute.api.mapping_check import try_target
from omniroute.bridge.hostsfile import HostsFileError
from omniroute.bridge.user_agents import UserAgentDef, parse_definition
from omniroute.engine.errors import BadRequest, Conflict, NotFound

router = APIRouter(
    prefix="/api/tools/agent-bridge", tags=["AgentBridge"], dependencies=[Depends(loopback_only)]
)

Text = Annotated[str, Field(min_length=1, max_length=253), NoControl]


class UserAgentBody(BaseModel):
    """An agent of the user's: what identifies it (hosts, User-Agent tokens) and how its model
    calls are read (one wire format, at ``paths`` or the format's usual paths)."""

    model_config = ConfigDict(extra="forbid")

    id: Annotated[str, Field(min_length=1, max_length=63), NoControl] | None = None
    name: Annotated[str, Field(max_length=200), NoControl] | None = None
    hosts: list[Text] = Field(default_factory=list, max_length=50)
    userAgents: list[Text] = Field(default_factory=list, max_length=20)
    wireFormat: Annotated[str, Field(max_length=40)]
    paths: list[Text] = Field(default_factory=list, max_length=20)

    def definition(self, agent_id: str) -> UserAgentDef:
        return parse_definition(agent_id, self.name, self.hosts, self.userAgents, self.wireFormat, self.paths)


class MappingTest(BaseModel):
    target: Annotated[str, Field(min_length=1, max_length=512), NoControl]


def _builtin_refusal(agent_id: str, catalog: CatalogDep, action: str) -> None:
    if agent_id in catalog and catalog.get(agent_id).builtin:
        raise Conflict(f"{agent_id!r} is a built-in agent: it cannot be {action} "
                       "(its mappings can be changed or cleared)", param="agentId")


@router.get("/agents/{agent_id}/definition")
async def get_user_agent(agent_id: str, user_agents: UserAgentsDep) -> dict[str, Any]:
    definition = user_agents.get(agent_id)
    if definition is None:
        raise NotFound(f"no user-defined agent {agent_id!r} (built-in agents have no editable "
                       "definition)", param="agentId")
    return definition.to_api()


@router.post("/agents", status_code=201)
async def create_user_agent(body: UserAgentBody, user_agents: UserAgentsDep, store: StoreDep) -> dict[str, Any]:
    if not body.id:
        raise BadRequest("id is required (lowercase letters, digits and '-')", param="id")
    created = await store.call(user_agents.create, body.definition(body.id))
    return created.to_api()


@router.put("/agents/{agent_id}")
async def update_user_agent(
    agent_id: str, body: UserAgentBody, user_agents: UserAgentsDep, store: StoreDep, catalog: CatalogDep,
) -> dict[str, Any]:
    _builtin_refusal(agent_id, catalog, "changed")
    if body.id is not None and body.id != agent_id:
        raise BadRequest(f"the body's id {body.id!r} differs from the path's {agent_id!r}; "
                         "an agent's id cannot change (create a new agent instead)", param="id")
    updated = await store.call(user_agents.update, body.definition(agent_id))
    return updated.to_api()


@router.delete("/agents/{agent_id}", status_code=204)
async def delete_user_agent(
    agent_id: str, user_agents: UserAgentsDep, mappings: MappingsDep, store: StoreDep,
    catalog: CatalogDep, hosts: HostsFileDep,
) -> Response:
    _builtin_refusal(agent_id, catalog, "deleted")
    await store.call(user_agents.delete, agent_id)
    if mappings.rules(agent_id):
        await store.call(mappings.replace, agent_id, [])
    try:  # its DNS-mode entries would point its hosts at us for nothing
        await asyncio.to_thread(hosts.disable, agent_id)
    except (HostsFileError, OSError):
        pass  # not writable: `omniroute doctor` lists the leftover entries
    return Response(status_code=204)


@router.post("/agents/{agent_id}/mappings/test")
async def test_mapping(spec: Spec, router_: RouterDep, body: MappingTest) -> dict[str, Any]:
    """One small chat call to ``target`` through the engine; ``ok``, the reply or the error."""
    return await try_target(router_, spec.id, body.target)
