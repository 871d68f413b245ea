"""The routing configuration in memory: connections, aliases, combos and fallback chains.

Reads happen on every request, so they come from an in-memory snapshot; writes go to the
database first and then replace the snapshot (copy-on-write, so readers never see half an
update).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from sqlmodel import select

from omniroute.db.database import Database
from omniroute.db.tables import Combo, FallbackChain, ModelAlias, ProviderConnection
from omniroute.providers.adapters import ProviderAdapter, adapter_for
from omniroute.providers.cloud_auth import Authorizer
from omniroute.providers.clouds import SESSION_TOKEN, SESSION_TOKEN_KEY
from omniroute.providers.secrets import SecretBox


@dataclass(frozen=True, slots=True)
class Connection:
    """A provider connection as the engine uses it: the key decrypted, the adapter attached."""

    id: str
    provider: str
    name: str
    url: str
    api_key: str | None
    is_active: bool
    max_concurrent: int | None
    priority: int
    adapter: ProviderAdapter
    extra: Mapping[str, Any] = field(default_factory=dict)
    # Per-request signing / token auth of cloud providers (None: the adapter's static header).
    auth: Authorizer | None = None


@dataclass(frozen=True, slots=True)
class ComboSpec:
    id: str
    name: str
    model: str
    strategy: str
    nodes: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True, slots=True)
class ChainEntry:
    """One step of a fallback chain. ``connection`` is a connection name or id, looked up at
    resolve time so a renamed or re-created connection is picked up without re-saving."""

    connection: str
    priority: int
    model: str | None = None  # upstream model id; None: the chain's own model name


def _empty() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Snapshot:
    connections: Mapping[str, Connection]  # by id
    by_name: Mapping[str, Connection]  # by connection name (routing prefix)
    aliases: Mapping[str, str]
    combos: Mapping[str, ComboSpec]  # by name
    # model name → enabled entries, lowest priority first (disabled ones never get here)
    chains: Mapping[str, tuple[ChainEntry, ...]] = field(default_factory=_empty)

    @classmethod
    def empty(cls) -> Snapshot:
        return cls(MappingProxyType({}), MappingProxyType({}), MappingProxyType({}), MappingProxyType({}))


class Registry:
    def __init__(self, db: Database, secrets: SecretBox,
                 on_reload: Callable[[Snapshot], None] = lambda snapshot: None) -> None:
        self.db = db
        self.secrets = secrets
        self.snapshot = Snapshot.empty()
        self._on_reload = on_reload  # e.g. in-process transports for the connections that need one

    def reload(self) -> Snapshot:
        with self.db.session() as session:
            rows = session.exec(select(ProviderConnection)).all()
            aliases = session.exec(select(ModelAlias)).all()
            combos = session.exec(select(Combo)).all()
            chains = session.exec(select(FallbackChain)).all()
        connections = {row.id: self.connection(row) for row in rows}
        self.snapshot = Snapshot(
            connections=MappingProxyType(connections),
            by_name=MappingProxyType({c.name: c for c in connections.values()}),
            aliases=MappingProxyType({a.alias: a.target for a in aliases}),
            combos=MappingProxyType(
                {
                    c.name: ComboSpec(c.id, c.name, c.model, c.strategy, tuple(c.nodes))
                    for c in combos
                }
            ),
            chains=MappingProxyType({c.model: chain_entries(c.chain) for c in chains}),
        )
        self._on_reload(self.snapshot)
        return self.snapshot

    def connection(self, row: ProviderConnection) -> Connection:
        """The routable form of a stored (or about to be stored) connection row."""
        key = self.secrets.decrypt(row.api_key_encrypted) if row.api_key_encrypted else None
        adapter = adapter_for(row.provider)
        settings = adapter.connection_settings(key, dict(row.extra or {}))
        token = settings.get(SESSION_TOKEN_KEY)
        secret_settings = {**settings, SESSION_TOKEN: self.secrets.decrypt(token)} if token else settings
        return Connection(
            id=row.id,
            provider=row.provider,
            name=row.name,
            url=adapter.base_url(row.url, settings),
            api_key=key,
            is_active=row.is_active,
            max_concurrent=row.max_concurrent,
            priority=row.priority,
            adapter=adapter,
            extra=MappingProxyType(dict(settings)),
            auth=adapter.authorizer(key, secret_settings),
        )


def chain_entries(chain: list[dict[str, Any]]) -> tuple[ChainEntry, ...]:
    """Stored chain JSON → the enabled entries in attempt order (priority, then list order)."""
    entries = [
        ChainEntry(str(item["provider"]), int(item.get("priority") or 0), item.get("model") or None)
        for item in chain
        if item.get("enabled", True) and item.get("provider")
    ]
    return tuple(sorted(entries, key=lambda e: e.priority))  # stable: ties keep list order
