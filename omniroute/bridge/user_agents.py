"""Agents the user defines: validated definitions, stored in the database, in the one catalog.

A user agent is identified like a built-in one (its hosts, then its User-Agent tokens) and its
model calls are read in one wire format, at the paths the user names or the format's usual
ones. `UserAgentStore` owns the table; every change replaces the catalog's user agents, so
the AgentBridge addon (which reads the catalog on every call) routes it at once. Methods touch
the database and are sync: the API calls them through the store layer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlmodel import select

from omniroute.bridge.agent_spec import (
    NODE_EXTRA_CA_CERTS,
    SSL_CERT_FILE,
    AgentSpec,
    ModelCallRule,
    normalize_host_pattern,
)
from omniroute.bridge.catalog import AgentCatalog
from omniroute.db.database import Database
from omniroute.db.tables import UserAgent, utcnow
from omniroute.engine.errors import BadRequest, Conflict, NotFound
from omniroute.translate.formats import WireFormat

# The formats an agent of the user's may speak: the engine's four public model APIs.
USER_FORMATS: tuple[WireFormat, ...] = (
    WireFormat.OPENAI_CHAT, WireFormat.OPENAI_RESPONSES, WireFormat.ANTHROPIC, WireFormat.GEMINI,
)
# Where each format's model calls usually are, when the user names no paths.
DEFAULT_PATHS: Mapping[WireFormat, tuple[str, ...]] = {
    WireFormat.OPENAI_CHAT: ("*/chat/completions",),
    WireFormat.OPENAI_RESPONSES: ("*/responses",),
    WireFormat.ANTHROPIC: ("*/messages",),
    WireFormat.GEMINI: ("*/models/*:generateContent", "*/models/*:streamGenerateContent"),
}
AGENT_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
MAX_HOSTS, MAX_TOKENS, MAX_PATHS = 50, 20, 20
KIND = "user-agents"  # the ConfigSync kind: other instances reload the definitions


@dataclass(frozen=True, slots=True)
class UserAgentDef:
    id: str
    name: str
    hosts: tuple[str, ...]
    user_agents: tuple[str, ...]
    wire_format: WireFormat
    paths: tuple[str, ...] = ()  # empty: the format's DEFAULT_PATHS
    from_config: bool = False

    def spec(self) -> AgentSpec:
        paths = self.paths or DEFAULT_PATHS[self.wire_format]
        return AgentSpec(
            id=self.id, name=self.name, hosts=self.hosts, wire_formats=(self.wire_format,),
            routable=True, env=(NODE_EXTRA_CA_CERTS, SSL_CERT_FILE),  # its runtime is unknown
            model_calls=tuple(ModelCallRule("POST", p, self.wire_format) for p in paths),
            user_agents=self.user_agents, builtin=False,
        )

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "hosts": list(self.hosts),
            "userAgents": list(self.user_agents), "wireFormat": str(self.wire_format),
            "paths": list(self.paths), "builtin": False, "fromConfig": self.from_config,
        }


def parse_definition(
    agent_id: str, name: str | None, hosts: Sequence[str], user_agents: Sequence[str],
    wire_format: str, paths: Sequence[str] = (),
) -> UserAgentDef:
    """Check one definition's own fields; BadRequest naming the field."""
    if not AGENT_ID.match(agent_id):
        raise BadRequest(f"agent id {agent_id!r} must be 1-63 lowercase letters, digits and '-', "
                         "starting with a letter or digit", param="id")
    try:
        fmt = WireFormat(wire_format)
    except ValueError:
        fmt = None
    if fmt not in USER_FORMATS:
        raise BadRequest(f"wireFormat {wire_format!r} is not one of {', '.join(USER_FORMATS)}",
                         param="wireFormat")
    normalized: list[str] = []
    for index, host in enumerate(hosts):
        try:
            normalized.append(normalize_host_pattern(host))
        except ValueError as exc:
            raise BadRequest(str(exc), param=f"hosts.{index}") from None
    tokens = [t.strip() for t in user_agents if t.strip()]
    if not normalized and not tokens:
        raise BadRequest("give at least one host or one User-Agent token to recognise the agent by",
                         param="hosts")
    for index, path in enumerate(paths):
        if not path.startswith(("/", "*")) or any(c.isspace() for c in path):
            raise BadRequest(f"path {path!r} must start with '/' or '*' and hold no spaces "
                             "(a glob like */chat/completions)", param=f"paths.{index}")
    if len(normalized) > MAX_HOSTS or len(tokens) > MAX_TOKENS or len(paths) > MAX_PATHS:
        raise BadRequest(f"at most {MAX_HOSTS} hosts, {MAX_TOKENS} User-Agent tokens and "
                         f"{MAX_PATHS} paths", param="hosts")
    return UserAgentDef(
        id=agent_id, name=(name or "").strip() or agent_id, hosts=tuple(dict.fromkeys(normalized)),
        user_agents=tuple(dict.fromkeys(tokens)), wire_format=fmt, paths=tuple(dict.fromkeys(paths)),
    )


def check_conflicts(definition: UserAgentDef, catalog: Iterable[AgentSpec]) -> None:
    """Conflict when the id is a built-in's, or a host it claims belongs to another agent and
    no User-Agent token could tell the two apart."""
    for other in catalog:
        if other.id == definition.id:
            if other.builtin:
                raise Conflict(f"{definition.id!r} is a built-in agent's id; choose another id",
                               param="id")
            continue
        shared = sorted(set(definition.hosts) & set(other.hosts))
        if shared and not definition.user_agents:
            raise Conflict(
                f"host {shared[0]} already belongs to agent {other.id!r}: add userAgents tokens "
                "that tell your agent's requests apart, or use another host", param="hosts")


def _from_row(row: UserAgent) -> UserAgentDef:
    return UserAgentDef(
        id=row.id, name=row.name, hosts=tuple(row.hosts), user_agents=tuple(row.user_agents),
        wire_format=WireFormat(row.wire_format), paths=tuple(row.paths), from_config=row.from_config,
    )


class UserAgentStore:
    def __init__(self, db: Database, catalog: AgentCatalog,
                 on_change: Callable[[], None] = lambda: None) -> None:
        self._db = db
        self._catalog = catalog
        self._on_change = on_change
        self._defs: Mapping[str, UserAgentDef] = {}

    def reload(self) -> None:
        with self._db.session() as session:
            rows = session.exec(select(UserAgent).order_by(UserAgent.created_at)).all()
        defs = {}
        for row in rows:
            try:
                defs[row.id] = _from_row(row)
            except ValueError:  # a format a later version removed: that agent only is skipped
                continue
        self._defs = defs
        self._catalog.set_user_agents(d.spec() for d in defs.values())

    def get(self, agent_id: str) -> UserAgentDef | None:
        return self._defs.get(agent_id)

    def all(self) -> list[UserAgentDef]:
        return list(self._defs.values())

    def create(self, definition: UserAgentDef) -> UserAgentDef:
        check_conflicts(definition, self._catalog)
        with self._db.session() as session:
            if session.get(UserAgent, definition.id) is not None:
                raise Conflict(f"agent {definition.id!r} exists; change it with PUT", param="id")
            session.add(UserAgent(
                id=definition.id, name=definition.name, hosts=list(definition.hosts),
                user_agents=list(definition.user_agents), wire_format=str(definition.wire_format),
                paths=list(definition.paths)))
            session.commit()
        self._changed()
        return self._defs[definition.id]

    def update(self, definition: UserAgentDef) -> UserAgentDef:
        check_conflicts(definition, self._catalog)
        with self._db.session() as session:
            row = self._own_row(session, definition.id)
            row.name, row.hosts = definition.name, list(definition.hosts)
            row.user_agents, row.wire_format = list(definition.user_agents), str(definition.wire_format)
            row.paths, row.updated_at = list(definition.paths), utcnow()
            session.add(row)
            session.commit()
        self._changed()
        return self._defs[definition.id]

    def delete(self, agent_id: str) -> None:
        with self._db.session() as session:
            session.delete(self._own_row(session, agent_id))
            session.commit()
        self._changed()

    def _own_row(self, session: Any, agent_id: str) -> UserAgent:
        row = session.get(UserAgent, agent_id)
        if row is None:
            raise NotFound(f"no user-defined agent {agent_id!r}", param="agentId")
        if row.from_config:
            raise Conflict(f"agent {agent_id!r} is declared in the config file; change it there "
                           "and reload (SIGHUP or POST /api/config/reload)", param="agentId")
        return row

    def _changed(self) -> None:
        self.reload()
        self._on_change()
