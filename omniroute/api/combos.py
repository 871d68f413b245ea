"""Routing combos: `/api/combos` (schema ComboCreate of the OmniRoute API specification).

A combo is a model name of its own whose requests go to several provider connections,
ordered by a strategy (`omniroute.engine.strategies`). Every write reloads the registry, so
the next request routes with the new definition.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from sqlmodel import Session, select

from omniroute.api.deps import ReloadRegistryDep, RuntimeSettingsDep, StoreDep
from omniroute.api.fields import Count32, Int32, Name, NoControl
from omniroute.api.management import invalid, refuse_config_entry
from omniroute.db.tables import Combo, ModelAlias, ProviderConnection, utcnow
from omniroute.engine.errors import Conflict, NotFound
from omniroute.engine.strategies import validate_strategy

router = APIRouter(prefix="/api/combos", tags=["Combos"])


def _check_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise ValueError("must not be empty")
    if "/" in name:
        # '<connection>/<model>' is how a single connection is addressed; a combo named like
        # that would be ambiguous.
        raise ValueError("must not contain '/' (that form addresses '<connection>/<model>')")
    return name


ComboName = Annotated[str, Field(max_length=128), NoControl, AfterValidator(_check_name)]
Strategy = Annotated[str, AfterValidator(validate_strategy)]


class ComboNode(BaseModel):
    model_config = ConfigDict(extra="forbid")

    connectionId: Name
    weight: Count32 = 1
    priority: Int32 | None = None  # None: the node's position in the list
    model: Name | None = None  # None: the combo's model


class ComboCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: ComboName
    model: Name
    strategy: Strategy = "priority"
    nodes: list[ComboNode] = Field(default_factory=list)


class ComboUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: ComboName | None = None
    model: Name | None = None
    strategy: Strategy | None = None
    nodes: list[ComboNode] | None = None


def combo_json(row: Combo) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "model": row.model,
        "strategy": row.strategy,
        "nodes": row.nodes,
        "createdAt": row.created_at.isoformat(),
        "updatedAt": row.updated_at.isoformat(),
        "fromConfig": row.from_config,
    }


def stored_nodes(session: Session, nodes: list[ComboNode]) -> list[dict[str, Any]]:
    """Nodes as stored; each must name an existing connection, by id (or by name: resolved
    to the id here, so renaming the connection later keeps the combo working)."""
    by_id = {row.id: row for row in session.exec(select(ProviderConnection)).all()}
    by_name = {row.name: row for row in by_id.values()}
    stored = []
    for index, node in enumerate(nodes):
        connection = by_id.get(node.connectionId) or by_name.get(node.connectionId)
        if connection is None:
            raise invalid(
                f"nodes.{index}.connectionId",
                f"node {index}: no provider connection {node.connectionId!r} "
                "(list them with GET /api/providers)",
            )
        data = node.model_dump(exclude_none=True)
        data["connectionId"] = connection.id
        stored.append(data)
    return stored


def _unique(session: Session, name: str, exclude_id: str | None = None) -> None:
    clash = session.exec(select(Combo).where(Combo.name == name)).first()
    if clash is not None and clash.id != exclude_id:
        raise Conflict(f"a combo named {name!r} already exists", param="name")
    if session.get(ModelAlias, name) is not None:
        # Combos resolve first, so the alias would silently stop working.
        raise Conflict(f"{name!r} is already a model alias; delete it or pick another name",
                       param="name")


def _get(session: Session, combo_id: str) -> Combo:
    row = session.get(Combo, combo_id)
    if row is None:
        row = session.exec(select(Combo).where(Combo.name == combo_id)).first()
    if row is None:
        raise NotFound(f"combo {combo_id!r} not found")
    return row


@router.get("")
async def list_combos(store: StoreDep) -> dict[str, Any]:
    rows = await store.run(lambda session: session.exec(select(Combo).order_by(Combo.created_at)).all())
    return {"combos": [combo_json(row) for row in rows]}


@router.post("", status_code=201)
async def create_combo(
    store: StoreDep, reload: ReloadRegistryDep, settings: RuntimeSettingsDep, payload: ComboCreate
) -> dict[str, Any]:
    # No strategy sent: the user's default (PATCH /api/settings/combo-defaults).
    strategy = payload.strategy if "strategy" in payload.model_fields_set else (
        settings.get("comboDefaults").get("strategy") or payload.strategy)

    def create(session: Session) -> Combo:
        _unique(session, payload.name)
        row = Combo(name=payload.name, model=payload.model, strategy=strategy,
                    nodes=stored_nodes(session, payload.nodes))
        session.add(row)
        session.commit()
        return row

    row = await store.run(create)
    await reload()
    return combo_json(row)


@router.get("/{combo_id}")
async def get_combo(store: StoreDep, combo_id: str) -> dict[str, Any]:
    return combo_json(await store.run(lambda session: _get(session, combo_id)))


@router.patch("/{combo_id}")
async def update_combo(
    store: StoreDep, reload: ReloadRegistryDep, combo_id: str, payload: ComboUpdate
) -> dict[str, Any]:
    def update(session: Session) -> Combo:
        row = _get(session, combo_id)
        refuse_config_entry(row.from_config, f"combo {row.name!r}")
        if payload.name is not None and payload.name != row.name:
            _unique(session, payload.name, exclude_id=row.id)
            row.name = payload.name
        if payload.model is not None:
            row.model = payload.model
        if payload.strategy is not None:
            row.strategy = payload.strategy
        if payload.nodes is not None:
            row.nodes = stored_nodes(session, payload.nodes)
        row.updated_at = utcnow()
        session.add(row)
        session.commit()
        return row

    row = await store.run(update)
    await reload()
    return combo_json(row)


@router.delete("/{combo_id}")
async def delete_combo(store: StoreDep, reload: ReloadRegistryDep, combo_id: str) -> dict[str, Any]:
    def delete(session: Session) -> str:
        row = _get(session, combo_id)
        refuse_config_entry(row.from_config, f"combo {row.name!r}")
        session.delete(row)
        session.commit()
        return row.id

    deleted_id = await store.run(delete)
    await reload()
    return {"deleted": True, "id": deleted_id}
