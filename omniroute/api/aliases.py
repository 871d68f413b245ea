"""Model aliases (`/api/models/alias`) and fallback chains (`/api/fallback/chains`).

Both are names the engine resolves (`omniroute.engine.resolve`): an alias renames a model
(and may name another alias, never in a cycle); a fallback chain lists the connections to
try, in priority order, for a model name. Every write reloads the registry.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, select

from omniroute.api.deps import ReloadRegistryDep, StoreDep
from omniroute.api.fields import Int32, Name
from omniroute.api.management import invalid, refuse_config_entry
from omniroute.db.tables import Combo, FallbackChain, ModelAlias, ProviderConnection, utcnow
from omniroute.engine.errors import Conflict, NotFound
from omniroute.engine.resolve import MAX_ALIAS_DEPTH

router = APIRouter(tags=["Models"])
chains_router = APIRouter(prefix="/api/fallback/chains", tags=["Fallback"])

ModelName = Name


class AliasSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    alias: ModelName
    target: ModelName


def alias_json(row: ModelAlias) -> dict[str, Any]:
    return {"alias": row.alias, "target": row.target, "createdAt": row.created_at.isoformat(),
            "fromConfig": row.from_config}


def check_alias_cycle(aliases: dict[str, str], alias: str, target: str) -> None:
    """Follow the would-be alias chain from ``target``; coming back to ``alias`` is a cycle."""
    path, name = [alias, target], target
    while name in aliases:
        name = aliases[name]
        path.append(name)
        if name == alias or name in path[:-1]:
            raise invalid("target", f"alias cycle: {' → '.join(path)}; an alias must end at a "
                          "model, combo, chain or '<connection>/<model>'")
        if len(path) > MAX_ALIAS_DEPTH:
            raise invalid("target",
                          f"alias chain longer than {MAX_ALIAS_DEPTH}: {' → '.join(path)}")


@router.get("/api/models/alias")
async def list_aliases(store: StoreDep) -> dict[str, Any]:
    rows = await store.run(lambda session: session.exec(select(ModelAlias).order_by(ModelAlias.alias)).all())
    return {"aliases": [alias_json(row) for row in rows]}


@router.post("/api/models/alias")
async def set_alias(store: StoreDep, reload: ReloadRegistryDep, payload: AliasSet) -> dict[str, Any]:
    """Create or update (the OmniRoute API specification: 200 either way)."""
    alias, target = payload.alias.strip(), payload.target.strip()
    if alias == target:
        raise invalid("target", f"alias cycle: {alias} → {target}; an alias cannot name itself")

    def save(session: Session) -> tuple[ModelAlias, bool]:
        if session.exec(select(Combo).where(Combo.name == alias)).first() is not None:
            # Combos resolve before aliases: this alias would never be used.
            raise Conflict(f"{alias!r} is already a combo name; pick another alias", param="alias")
        rows = session.exec(select(ModelAlias)).all()
        check_alias_cycle({r.alias: r.target for r in rows if r.alias != alias}, alias, target)
        row = session.get(ModelAlias, alias)
        refuse_config_entry(row is not None and row.from_config, f"model alias {alias!r}")
        created = row is None
        if row is None:
            row = ModelAlias(alias=alias, target=target)
        row.target = target
        session.add(row)
        session.commit()
        return row, created

    row, created = await store.run(save)
    await reload()
    return {**alias_json(row), "created": created}


@router.delete("/api/models/alias/{alias:path}")
async def delete_alias(store: StoreDep, reload: ReloadRegistryDep, alias: str) -> dict[str, Any]:
    def delete(session: Session) -> None:
        row = session.get(ModelAlias, alias)
        if row is None:
            raise NotFound(f"model alias {alias!r} not found")
        refuse_config_entry(row.from_config, f"model alias {alias!r}")
        session.delete(row)
        session.commit()

    await store.run(delete)
    await reload()
    return {"deleted": True, "alias": alias}


# -- fallback chains ------------------------------------------------------------------------


class ChainStep(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: Name  # a connection name or id
    priority: Int32 | None = None  # lower first; None: the step's position in the list
    enabled: bool = True
    model: Name | None = None  # upstream id; None: the chain's model


class ChainSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: ModelName
    chain: list[ChainStep] = Field(min_length=1)


class ChainDelete(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: ModelName


def chain_json(row: FallbackChain) -> dict[str, Any]:
    return {"model": row.model, "chain": row.chain, "updatedAt": row.updated_at.isoformat(),
            "fromConfig": row.from_config}


def stored_chain_steps(session: Session, steps: list[ChainStep]) -> list[dict[str, Any]]:
    connections = session.exec(select(ProviderConnection)).all()
    known = {c.id for c in connections} | {c.name for c in connections}
    stored = []
    for index, step in enumerate(steps):
        if step.provider not in known:
            raise invalid(f"chain.{index}.provider",
                          f"chain step {index}: no provider connection named {step.provider!r} "
                          "(use a connection name or id from GET /api/providers)")
        data = step.model_dump(exclude_none=True)
        data.setdefault("priority", index)
        stored.append(data)
    return stored


@chains_router.get("")
async def list_chains(store: StoreDep) -> dict[str, Any]:
    rows = await store.run(lambda session: session.exec(select(FallbackChain).order_by(FallbackChain.model)).all())
    return {"chains": [chain_json(row) for row in rows]}


@chains_router.post("")
async def set_chain(store: StoreDep, reload: ReloadRegistryDep, payload: ChainSet) -> dict[str, Any]:
    """Create or replace the chain for a model (the OmniRoute API specification: 200)."""
    model = payload.model.strip()

    def save(session: Session) -> FallbackChain:
        if session.exec(select(Combo).where(Combo.name == model)).first() is not None:
            # Combos resolve before chains: this chain would never be used.
            raise Conflict(f"{model!r} is a combo name; a chain for it would never be used",
                           param="model")
        steps = stored_chain_steps(session, payload.chain)
        row = session.get(FallbackChain, model) or FallbackChain(model=model)
        refuse_config_entry(row.from_config, f"the fallback chain of {model!r}")
        row.chain, row.updated_at = steps, utcnow()
        session.add(row)
        session.commit()
        return row

    row = await store.run(save)
    await reload()
    return chain_json(row)


@chains_router.delete("")
async def delete_chain(store: StoreDep, reload: ReloadRegistryDep, payload: ChainDelete) -> dict[str, Any]:
    def delete(session: Session) -> None:
        row = session.get(FallbackChain, payload.model)
        if row is None:
            raise NotFound(f"no fallback chain for model {payload.model!r}")
        refuse_config_entry(row.from_config, f"the fallback chain of {payload.model!r}")
        session.delete(row)
        session.commit()

    await store.run(delete)
    await reload()
    return {"deleted": True, "model": payload.model}
