"""AgentBridge management routes (`/api/tools/agent-bridge/...`), loopback only."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from omniroute.api.deps import runtime_of
from omniroute.api.guards import loopback_only
from omniroute.engine.errors import BadRequest, EngineError

router = APIRouter(
    prefix="/api/tools/agent-bridge", tags=["AgentBridge"], dependencies=[Depends(loopback_only)]
)


class UnknownAgent(EngineError):
    status = 404


class MappingItem(BaseModel):
    source: str = Field(max_length=256)
    target: str = Field(max_length=512)


class MappingPut(BaseModel):
    mappings: list[MappingItem] = Field(max_length=1000)


def _agent(request: Request, agent_id: str) -> str:
    catalog = runtime_of(request).catalog
    if agent_id not in catalog:
        known = ", ".join(a.id for a in catalog)
        raise UnknownAgent(f"unknown agent {agent_id!r}; known agents: {known}", param="agentId")
    return agent_id


@router.get("/agents")
async def list_agents(request: Request) -> list[dict[str, Any]]:
    runtime = runtime_of(request)
    return [
        {**spec.to_dict(), "mappings": len(runtime.mappings.rules(spec.id))}
        for spec in runtime.catalog
    ]


@router.get("/agents/{agent_id}/mappings")
async def get_mappings(request: Request, agent_id: str) -> list[dict[str, Any]]:
    return runtime_of(request).mappings.rows(_agent(request, agent_id))


@router.put("/agents/{agent_id}/mappings")
async def put_mappings(request: Request, agent_id: str, payload: MappingPut) -> dict[str, Any]:
    runtime = runtime_of(request)
    agent = _agent(request, agent_id)
    try:
        runtime.mappings.replace(agent, [m.model_dump() for m in payload.mappings])
    except ValueError as exc:
        raise BadRequest(str(exc), param="mappings") from None
    return {"agent_id": agent, "mappings": runtime.mappings.rows(agent)}
