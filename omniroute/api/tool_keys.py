"""Per-tool OmniRoute API keys: the key a settings writer puts in an agent's settings names the
agent, so a direct call made with it is attributed to that agent (usage, mappings, inspector).

The link is the key's label, ``cli-tool:<tool id>``: visible in ``GET /api/keys``, and no table
of its own. Lookups come from an in-memory copy, reloaded after each change (off the event loop).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from sqlmodel import select

from omniroute.api.auth import hash_key, new_secret
from omniroute.clitools.tools import WRITERS
from omniroute.db.database import Database
from omniroute.db.tables import ApiKey
from omniroute.providers.secrets import preview

LABEL_PREFIX = "cli-tool:"


def label_for(tool_id: str) -> str:
    return f"{LABEL_PREFIX}{tool_id}"


class ToolKeys:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._agents: MappingProxyType[str, str] = MappingProxyType({})

    def reload(self) -> None:
        with self._db.session() as session:
            rows = session.exec(select(ApiKey).where(ApiKey.is_active == True)).all()
        agents = {}
        for row in rows:
            writer = WRITERS.get(row.label.removeprefix(LABEL_PREFIX)) if row.label.startswith(LABEL_PREFIX) else None
            if writer is not None:
                agents[row.id] = writer.agent
        self._agents = MappingProxyType(agents)

    def agent(self, key_id: str | None) -> str | None:
        return self._agents.get(key_id) if key_id else None

    def issue(self, tool_id: str) -> str:
        """A new key for ``tool_id`` (its earlier ones are deactivated); the secret, once."""
        secret = new_secret()
        with self._db.session() as session:
            for old in self._active(session, tool_id):
                old.is_active = False
                session.add(old)
            session.add(ApiKey(label=label_for(tool_id), key_hash=hash_key(secret),
                               key_preview=preview(secret), scope="write"))
            session.commit()
        self.reload()
        return secret

    def revoke(self, tool_id: str) -> int:
        with self._db.session() as session:
            rows = self._active(session, tool_id)
            for row in rows:
                row.is_active = False
                session.add(row)
            session.commit()
        self.reload()
        return len(rows)

    @staticmethod
    def _active(session: Any, tool_id: str) -> list[ApiKey]:
        query = select(ApiKey).where(ApiKey.label == label_for(tool_id), ApiKey.is_active == True)
        return list(session.exec(query).all())
