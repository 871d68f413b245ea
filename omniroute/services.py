"""The services one OmniRoute process runs on, and the one function that builds them.

`open_services` is the composition root's first half (the second, `omniroute.runtime`, serves
the API on mitmproxy's loop): it prepares the home directory, migrates the database, loads
the CA and the registry, and wires each service with only the services it uses. Nothing
here is looked up later by name: the ASGI app hands each route the services it declares
(`omniroute.api.deps`), the addons get theirs when they are built.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from omniroute.bridge.agent_state import AgentStates
from omniroute.bridge.bypass_rules import BypassRules
from omniroute.bridge.ca import CertificateAuthority
from omniroute.bridge.catalog import AgentCatalog
from omniroute.bridge.control import ProxyControl
from omniroute.bridge.mapping_store import MappingStore
from omniroute.bridge.upstream import UpstreamChooser
from omniroute.bridge.upstream_dns import UpstreamResolver, local_addresses
from omniroute.bridge.user_agents import KIND as USER_AGENTS_KIND
from omniroute.bridge.user_agents import UserAgentStore
from omniroute.config import Settings
from omniroute.db.database import Database
from omniroute.db.store import Store
from omniroute.db.tables import ProviderConnection
from omniroute.engine.admission import Admission
from omniroute.engine.budgets import Budgets, spend_since
from omniroute.engine.ip_filter import IpFilter
from omniroute.engine.limits import UpstreamLimits
from omniroute.engine.rate_limits import RateLimiter
from omniroute.engine.registry import Registry, Snapshot
from omniroute.engine.resilience import ResilienceState
from omniroute.engine.router import Router
from omniroute.engine.runtime_settings import RuntimeSettings
from omniroute.engine.usage import UsageRecorder
from omniroute.inspector.capture import Capture
from omniroute.inspector.custom_hosts import CustomHosts
from omniroute.inspector.ingest import ingest_token
from omniroute.inspector.masking import Masker
from omniroute.inspector.ring import Ring
from omniroute.inspector.sessions import SessionStore
from omniroute.inspector.system_proxy import SystemProxy
from omniroute.listeners import ListenerBoard
from omniroute.providers.pool import ClientPool
from omniroute.providers.secrets import SecretBox
from omniroute.shared.config_sync import ConfigSync
from omniroute.shared.state import SharedState, open_shared_state

Seed = Callable[[Database, SecretBox], object]


@dataclass(frozen=True, slots=True)
class Tokens:
    """Secrets this process checks: `internal` proves to the API that attribution headers come
    from our own addon; `ingest` guards POST .../internal/ingest."""

    internal: str
    ingest: str


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    db: Database
    store: Store  # database work from the event loop goes through here
    shared: SharedState  # breakers, counters, events: in memory, or Redis for several instances
    sync: ConfigSync
    secrets: SecretBox  # provider keys at rest
    registry: Registry
    pool: ClientPool
    usage: UsageRecorder
    router: Router
    runtime_settings: RuntimeSettings  # /api/settings: system prompt, proxy, IP filter, limits …
    catalog: AgentCatalog
    user_agents: UserAgentStore  # the user-defined agents of `catalog`
    mappings: MappingStore
    agent_states: AgentStates
    bypass: BypassRules
    upstream: UpstreamChooser
    ca: CertificateAuthority
    board: ListenerBoard
    control: ProxyControl
    ring: Ring
    capture: Capture
    inspector_sessions: SessionStore
    custom_hosts: CustomHosts
    system_proxy: SystemProxy
    tokens: Tokens
    own_addresses: frozenset[str]  # this machine's addresses (a wildcard bind serves them all)
    # Local ends of our proxy's connections to our own API (the AgentBridge adds and removes
    # them): callers on those are not local, whatever their address says.
    proxied_peers: set[tuple[str, int]]


def open_services(settings: Settings, seed: Seed | None = None) -> Services:
    """Build every service for ``settings``; does the start-up I/O (home, migrations, CA).

    ``seed`` writes to the migrated database before anything reads its configuration (the
    config file: `Runtime.open`).
    """
    s = settings
    s.prepare_home()
    db = Database(s.effective_database_url)
    db.migrate()
    store = Store(db)
    shared = open_shared_state(s.redis_url, timeout_s=s.redis_timeout_s)
    sync = ConfigSync(shared)
    pool = ClientPool()
    secret_box = SecretBox(s.secret_key_path)
    if seed is not None:
        seed(db, secret_box)
    registry = Registry(db, secret_box,
                        on_reload=lambda snapshot: serve_demo_in_process(snapshot, pool))
    usage = UsageRecorder(db)
    budgets = Budgets(lambda key, starts: store.run(lambda session: spend_since(session, key, starts)))
    admission = Admission(RateLimiter(shared.rate_counter), budgets)
    router = Router(
        registry,
        pool,
        usage,
        # Wall-clock times: records shared through Redis must mean the same on every machine.
        resilience=ResilienceState(store=shared.resilience, clock=time.time),
        strategy_state=shared.strategy,
        limits=UpstreamLimits(
            s.upstream_first_byte_timeout, s.upstream_idle_timeout,
            s.upstream_max_body_bytes, s.upstream_max_event_bytes,
        ),
        admission=admission,
    )
    runtime_settings = RuntimeSettings(db, router, pool, registry, admission, IpFilter())
    mappings = MappingStore(db, on_change=lambda: sync.changed("mappings"))
    catalog = AgentCatalog()
    user_agents = UserAgentStore(db, catalog, on_change=lambda: sync.changed(USER_AGENTS_KIND))
    user_agents.reload()
    bypass = BypassRules(db, on_change=lambda: sync.changed("bypass"))
    bypass.reload()
    ca = CertificateAuthority(s.certs_dir)
    ca.ensure()
    own_addresses = frozenset(local_addresses())
    board = ListenerBoard(s)
    ring = Ring(s.inspector_ring_size, s.inspector_listener_queue, s.inspector_max_listeners)
    capture = Capture(ring, Masker(), s.inspector_body_cap, enabled=s.inspector_enabled,
                      api_calls=s.inspector_api_calls)
    sessions = SessionStore(db, capture, on_change=lambda: sync.changed("inspector-session"))
    if s.demo:
        ensure_demo_provider(db)
    registry.reload()
    runtime_settings.load()
    sync.follow("registry", registry.reload)
    sync.follow("settings", runtime_settings.load)
    sync.follow("mappings", mappings.reload)
    sync.follow(USER_AGENTS_KIND, user_agents.reload)
    sync.follow("bypass", bypass.reload)
    sync.follow("inspector-session", sessions.refresh_active)
    return Services(
        settings=s,
        db=db,
        store=store,
        shared=shared,
        sync=sync,
        secrets=secret_box,
        registry=registry,
        pool=pool,
        usage=usage,
        router=router,
        runtime_settings=runtime_settings,
        catalog=catalog,
        user_agents=user_agents,
        mappings=mappings,
        agent_states=AgentStates(db),
        bypass=bypass,
        upstream=UpstreamChooser(
            UpstreamResolver(s.upstream_dns or None, s.upstream_dns_port),
            bind_host=s.host, proxy_ports=(s.proxy_port, s.bridge_port), own_addresses=set(own_addresses),
        ),
        ca=ca,
        board=board,
        control=ProxyControl(s, board, store, ca),
        ring=ring,
        capture=capture,
        inspector_sessions=sessions,
        custom_hosts=CustomHosts(db, s.hosts_file),
        system_proxy=SystemProxy(s.home / "system-proxy.backup.json", s.host),
        tokens=Tokens(internal=secrets.token_urlsafe(32), ingest=ingest_token(s)),
        own_addresses=own_addresses,
        proxied_peers=set(),
    )


DEMO_CONNECTION = "demo"


def ensure_demo_provider(db: Database) -> None:
    """Register the built-in offline provider as connection `demo` (model `demo/<any>`)."""
    with db.session() as session:
        existing = session.exec(
            select(ProviderConnection).where(ProviderConnection.name == DEMO_CONNECTION)
        ).first()
        if existing is None:
            session.add(ProviderConnection(provider="demo", name=DEMO_CONNECTION, url="http://demo.invalid"))
            try:
                session.commit()
            except IntegrityError:  # another instance on the same database registered it first
                session.rollback()


def serve_demo_in_process(snapshot: Snapshot, pool: ClientPool) -> None:
    demo = [c for c in snapshot.connections.values() if c.provider == "demo"]
    if not demo:
        return
    from omniroute.providers.demo import create_app  # only when a demo connection exists

    app = create_app()
    for connection in demo:
        pool.register_transport(connection.id, httpx.ASGITransport(app=app))
