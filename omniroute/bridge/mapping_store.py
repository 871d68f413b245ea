"""The one mapping store: per agent, source model pattern → engine target, in the database.

The AgentBridge addon reads it on every intercepted model call, so reads come from an
in-memory copy that every write replaces.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any

from sqlmodel import delete, select

from omniroute.bridge.mapping import MappingRule, resolve_mapping, validate_rules
from omniroute.db.database import Database
from omniroute.db.tables import AgentMapping, utcnow


class MappingStore:
    def __init__(self, db: Database, on_change: Callable[[], None] | None = None) -> None:
        """``on_change`` runs after every committed write (other instances reload then)."""
        self.db = db
        self._on_change = on_change
        self._rules: Mapping[str, tuple[MappingRule, ...]] = MappingProxyType({})
        self.reload()

    def reload(self) -> None:
        with self.db.session() as session:
            rows = session.exec(select(AgentMapping).order_by(AgentMapping.id)).all()
        rules: dict[str, list[MappingRule]] = {}
        for row in rows:
            rules.setdefault(row.agent_id, []).append(MappingRule(row.source_model, row.target_model))
        self._rules = MappingProxyType({agent: tuple(r) for agent, r in rules.items()})

    def rules(self, agent_id: str) -> tuple[MappingRule, ...]:
        return self._rules.get(agent_id, ())

    def target_for(self, agent_id: str, model: str | None) -> str | None:
        return resolve_mapping(self.rules(agent_id), model)

    def rows(self, agent_id: str) -> list[dict[str, Any]]:
        with self.db.session() as session:
            found = session.exec(
                select(AgentMapping).where(AgentMapping.agent_id == agent_id).order_by(AgentMapping.id)
            ).all()
        return [
            {
                "agent_id": row.agent_id,
                "source_model": row.source_model,
                "target_model": row.target_model,
                "updated_at": row.updated_at.isoformat(),
                "from_config": row.from_config,
            }
            for row in found
        ]

    def replace(self, agent_id: str, rules: Iterable[Mapping[str, Any] | MappingRule]) -> list[MappingRule]:
        """Replace an agent's rules in one transaction; invalid input raises ValueError."""
        valid = validate_rules(rules)
        now = utcnow()
        with self.db.session() as session:
            session.exec(delete(AgentMapping).where(AgentMapping.agent_id == agent_id))
            session.add_all(
                AgentMapping(agent_id=agent_id, source_model=r.source, target_model=r.target, updated_at=now)
                for r in valid
            )
            session.commit()
        self.reload()
        if self._on_change is not None:
            self._on_change()
        return valid

    def upsert(self, agent_id: str, source: str, target: str) -> None:
        """Set one rule, keeping the others (`omniroute map AGENT SOURCE=TARGET`)."""
        kept = [r for r in self.rules(agent_id) if r.source.casefold() != source.casefold()]
        self.replace(agent_id, [*kept, MappingRule(source, target)])
