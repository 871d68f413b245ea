"""`omniroute config export`: the database's current configuration as a config file.

No secrets: a provider key becomes the `env:NAME` reference it came from, or, for a key typed
into the API or UI, `env:OMNIROUTE_KEY_<NAME>` with a note saying which variable to set.
API keys appear by hash. Applying the result to a database gives back the same export.
"""

from __future__ import annotations

import io
import re
from decimal import Decimal
from typing import Any

from ruamel.yaml import YAML
from sqlmodel import select

from omniroute.api.aliases import ChainStep
from omniroute.api.pricing import SETTING as PRICING_KEY
from omniroute.api.resilience import SETTING as RESILIENCE_KEY
from omniroute.bridge.bypass import BYPASS_KEY
from omniroute.configfile.apply import KEY_REF
from omniroute.db.database import Database
from omniroute.db.tables import (
    AgentMapping,
    ApiKey,
    Combo,
    FallbackChain,
    KeyValue,
    ModelAlias,
    ProviderConnection,
    UserAgent,
)
from omniroute.engine.limits import TIMING_KEYS

HEADER = (
    "# OmniRoute config file: omniroute run --config FILE (schema: omniroute/configfile/"
    "omniroute-config.schema.json)\n"
)


def key_variable(connection_name: str) -> str:
    return "OMNIROUTE_KEY_" + re.sub(r"[^A-Za-z0-9]", "_", connection_name).upper()


def _provider(row: ProviderConnection, notes: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"name": row.name, "provider": row.provider, "url": row.url}
    extra = row.extra or {}
    if row.api_key_encrypted:
        ref = extra.get(KEY_REF)
        if not ref:
            ref = f"env:{key_variable(row.name)}"
            notes.append(f"provider {row.name}: its key was entered through the API; "
                         f"set {ref[4:]} to it before using this file")
        out["apiKey"] = ref
    if not row.is_active:
        out["isActive"] = False
    if row.max_concurrent is not None:
        out["maxConcurrent"] = row.max_concurrent
    if row.priority:
        out["priority"] = row.priority
    out.update((key, extra[key]) for key in TIMING_KEYS if extra.get(key))
    return out


def _step(step: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """A stored chain step in `ChainStep`'s field order, its connection by name."""
    out = {"provider": names.get(step["provider"], step["provider"])}
    out.update((k, step[k]) for k in ChainStep.model_fields if k in step and k != "provider")
    return out


def _number(text: str) -> int | float:
    value = Decimal(text)
    return int(value) if value == value.to_integral_value() else float(value)


def export(db: Database) -> tuple[dict[str, Any], list[str]]:
    """(the config file's content, notes for the user) from the database."""
    notes: list[str] = []
    with db.session() as session:
        connections = session.exec(select(ProviderConnection).order_by(ProviderConnection.created_at)).all()
        names = {c.id: c.name for c in connections}
        doc: dict[str, Any] = {"providers": [_provider(c, notes) for c in connections]}
        doc["aliases"] = {a.alias: a.target for a in session.exec(select(ModelAlias).order_by(ModelAlias.alias))}
        doc["combos"] = [
            {"name": c.name, "model": c.model, "strategy": c.strategy,
             "nodes": [{"connection": names.get(n["connectionId"], n["connectionId"]),
                        **{k: v for k, v in n.items() if k != "connectionId" and not (k == "weight" and v == 1)}}
                       for n in c.nodes]}
            for c in session.exec(select(Combo).order_by(Combo.created_at))
        ]
        doc["fallbacks"] = [
            {"model": f.model, "chain": [_step(step, names) for step in f.chain]}
            for f in session.exec(select(FallbackChain).order_by(FallbackChain.model))
        ]
        agents: dict[str, Any] = {}
        for u in session.exec(select(UserAgent).order_by(UserAgent.created_at)):
            agents[u.id] = {"name": u.name, "hosts": list(u.hosts), "userAgents": list(u.user_agents),
                            "wireFormat": u.wire_format, **({"paths": list(u.paths)} if u.paths else {}),
                            "mappings": []}
        for m in session.exec(select(AgentMapping).order_by(AgentMapping.agent_id, AgentMapping.id)):
            agents.setdefault(m.agent_id, {"mappings": []})["mappings"].append(
                {"source": m.source_model, "target": m.target_model})
        doc["agents"] = agents
        settings = {key: session.get(KeyValue, key) for key in (BYPASS_KEY, PRICING_KEY, RESILIENCE_KEY)}
        if settings[BYPASS_KEY] is not None:
            doc["bypass"] = list(settings[BYPASS_KEY].value or [])
        if settings[PRICING_KEY] is not None:
            doc["pricing"] = {model: {k: _number(v) for k, v in price.items()}
                              for model, price in (settings[PRICING_KEY].value or {}).items()}
        if settings[RESILIENCE_KEY] is not None and settings[RESILIENCE_KEY].value:
            doc["settings"] = {"resilience": settings[RESILIENCE_KEY].value}
        doc["apiKeys"] = [
            {"label": k.label, "keyHash": k.key_hash, "scope": k.scope,
             **({} if k.is_active else {"isActive": False}), "keyPreview": k.key_preview}
            for k in session.exec(select(ApiKey).order_by(ApiKey.created_at))
        ]
    return {k: v for k, v in doc.items() if v or k in ("bypass", "pricing")}, notes


def dump(doc: dict[str, Any]) -> str:
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.sort_base_mapping_type_on_output = False  # type: ignore[attr-defined]
    out = io.StringIO()
    yaml.dump(doc, out)
    return HEADER + out.getvalue()
