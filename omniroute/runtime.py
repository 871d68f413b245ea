"""The process-wide state, created once: settings, database, engine, inspector, listeners.

Both entry points build one `Runtime`: `omniroute run` and `mitmdump -s addons/omniroute_addons.py`
(through the addons). The ASGI app and the addons read the same object, so breaker state,
the capture ring and live events live in memory once.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import httpx
import uvicorn
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from omniroute import __version__
from omniroute.bridge.agent_state import AgentStates
from omniroute.bridge.bypass import BYPASS_KEY, BypassMatcher, combined_patterns
from omniroute.bridge.ca import CertificateAuthority
from omniroute.bridge.catalog import AgentCatalog
from omniroute.bridge.mapping_store import MappingStore
from omniroute.bridge.upstream_dns import UpstreamResolver, local_addresses
from omniroute.config import Settings
from omniroute.db.database import Database
from omniroute.db.kv import kv_get, kv_set
from omniroute.db.tables import ProviderConnection
from omniroute.engine.limits import UpstreamLimits
from omniroute.engine.registry import Registry
from omniroute.engine.resilience import ResilienceState
from omniroute.engine.router import Router
from omniroute.engine.usage import UsageRecorder
from omniroute.inspector.capture import Capture
from omniroute.inspector.custom_hosts import CustomHosts
from omniroute.inspector.ingest import ingest_token
from omniroute.inspector.masking import Masker
from omniroute.inspector.ring import Ring
from omniroute.inspector.sessions import SessionStore
from omniroute.inspector.system_proxy import SystemProxy
from omniroute.providers.pool import ClientPool
from omniroute.providers.secrets import SecretBox
from omniroute.shared.events import InspectorEventBridge
from omniroute.shared.state import open_shared_state

if TYPE_CHECKING:
    from omniroute.configfile import Applied

log = logging.getLogger("omniroute")

DEMO_CONNECTION = "demo"


@dataclass(slots=True)
class ListenerState:
    """One listener as `/health` reports it."""

    name: str  # api | http-proxy | agent-bridge
    port: int
    state: str = "stopped"  # stopped | starting | running | disabled | error
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "port": self.port, "state": self.state, "error": self.error}


class ProxyHost(Protocol):
    """What the API needs of the mitmproxy master hosting us, without importing mitmproxy."""

    def option(self, name: str) -> Any: ...

    async def update_options(self, **options: Any) -> None:
        """Set options; returns once the proxy listeners follow a changed `mode`."""

    def reload_certificates(self) -> None: ...

    def active_connections(self) -> int: ...


@dataclass
class Runtime:
    settings: Settings
    started_at: float = field(default_factory=time.time)
    listeners: dict[str, ListenerState] = field(default_factory=dict)
    # Set by the mitmproxy host: live state of the proxy listeners.
    proxy_listener_states: Callable[[], list[ListenerState]] | None = None
    # TLS interception (capture mode `tls-intercept`): when False the AgentBridge addon must set
    # `ignore_connection` in `tls_clienthello`, so nothing is decrypted (tunnels are still listed).
    tls_intercept: bool = True
    # Set by the mitmproxy host: options (listener modes, upstream CA) and certificate reloads.
    proxy_host: ProxyHost | None = None

    def __post_init__(self) -> None:
        s = self.settings
        s.prepare_home()
        self.db = Database(s.effective_database_url)
        self.db.migrate()
        self.secrets = SecretBox(s.secret_key_path)
        if s.config_file is not None:  # before anything reads the database's configuration
            from omniroute.configfile import apply_file

            apply_file(s.config_file, self.db, self.secrets)
        self.registry = Registry(self.db, self.secrets)
        self.pool = ClientPool()
        self.usage = UsageRecorder(self.db)
        # Breakers, cooldowns, strategy counters and config-change events: in memory, or in
        # Redis when `REDIS_URL` makes several instances one service.
        self.shared = open_shared_state(s.redis_url)
        self.router = Router(
            self.registry,
            self.pool,
            self.usage,
            # Wall-clock times: records shared through Redis must mean the same on every machine.
            resilience=ResilienceState(store=self.shared.resilience, clock=time.time),
            strategy_state=self.shared.strategy,
            limits=UpstreamLimits(
                s.upstream_first_byte_timeout, s.upstream_idle_timeout,
                s.upstream_max_body_bytes, s.upstream_max_event_bytes,
            ),
        )
        self.catalog = AgentCatalog()
        self.mappings = MappingStore(self.db, on_change=lambda: self.config_changed("mappings"))
        self.ca = CertificateAuthority(s.certs_dir)
        self.ca.ensure()
        self.resolver = UpstreamResolver(s.upstream_dns or None, s.upstream_dns_port)
        self.own_addresses = local_addresses()
        # Local ends of our proxy's connections to our own API: those callers are not local.
        self.proxied_peers: set[tuple[str, int]] = set()
        self._reload_bypass_here()
        self.agent_states = AgentStates(self.db)
        self.ring = Ring(s.inspector_ring_size, s.inspector_listener_queue, s.inspector_max_listeners)
        self.capture = Capture(self.ring, Masker(), s.inspector_body_cap, enabled=s.inspector_enabled)
        # Inspector: recording sessions (persisted off the hot path), custom capture hosts,
        # the system-proxy capture mode, the token of POST .../internal/ingest.
        self.inspector_sessions = SessionStore(
            self.db, self.capture, on_change=lambda: self.config_changed("inspector-session")
        )
        self.custom_hosts = CustomHosts(self.db, s.hosts_file)
        self.system_proxy = SystemProxy(s.home / "system-proxy.backup.json", s.host)
        self.ingest_token = ingest_token(s)
        # Proves to the API that attribution headers come from our own addon.
        self.internal_token = secrets.token_urlsafe(32)
        if s.demo:
            self.ensure_demo_provider()
        self.registry.reload()
        self._register_in_process_transports()
        for name, port in (
            ("api", s.api_port),
            ("http-proxy", s.proxy_port),
            ("agent-bridge", s.bridge_port),
        ):
            self.listeners[name] = ListenerState(name, port, "stopped" if port else "disabled")
        # When each listener last started (the API can restart the proxy listeners).
        self.listener_started_at: dict[str, float] = {
            name: self.started_at for name, state in self.listeners.items() if state.port
        }
        self._api_server: uvicorn.Server | None = None
        self._api_task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._inspector_bridge: InspectorEventBridge | None = None
        # What another instance's "config changed" message makes this one reload (kind → reload).
        self._followers: dict[str, list[Callable[[], None]]] = {}
        self.follow_config("registry", self._reload_registry_here)
        self.follow_config("mappings", self.mappings.reload)
        self.follow_config("bypass", self._reload_bypass_here)
        self.follow_config("inspector-session", self.inspector_sessions.refresh_active)

    # -- demo ----------------------------------------------------------------------------
    def ensure_demo_provider(self) -> None:
        """Register the built-in offline provider as connection `demo` (model `demo/<any>`)."""
        with self.db.session() as session:
            existing = session.exec(
                select(ProviderConnection).where(ProviderConnection.name == DEMO_CONNECTION)
            ).first()
            if existing is None:
                session.add(
                    ProviderConnection(provider="demo", name=DEMO_CONNECTION, url="http://demo.invalid")
                )
                try:
                    session.commit()
                except IntegrityError:  # another instance on the same database registered it first
                    session.rollback()

    def _register_in_process_transports(self) -> None:
        demo = [c for c in self.registry.snapshot.connections.values() if c.provider == "demo"]
        if not demo:
            return
        from omniroute.providers.demo import create_app  # only when a demo connection exists

        app = create_app()
        for connection in demo:
            self.pool.register_transport(connection.id, httpx.ASGITransport(app=app))

    def user_bypass_patterns(self) -> list[str]:
        return list(kv_get(self.db, BYPASS_KEY, []))

    def set_user_bypass_patterns(self, patterns: list[str]) -> None:
        rows = combined_patterns(patterns)  # validates; raises ValueError naming the pattern
        kv_set(self.db, BYPASS_KEY, [p for p, source in rows if source == "user"])
        self.bypass = BypassMatcher(p for p, _ in rows)
        self.config_changed("bypass")

    def _reload_bypass_here(self) -> None:
        self.bypass = BypassMatcher(p for p, _ in combined_patterns(self.user_bypass_patterns()))

    def reload_registry(self) -> None:
        """After a provider, combo or alias write: reload here, tell the other instances."""
        self._reload_registry_here()
        self.config_changed("registry")

    def _reload_registry_here(self) -> None:
        self.registry.reload()
        self._register_in_process_transports()

    async def reload_config_file(self) -> Applied:
        """SIGHUP / `POST /api/config/reload`: apply the config file again, then reload what it
        changed, here and on the other instances. ConfigFileError: nothing changed."""
        from omniroute.configfile import apply_file

        applied = await asyncio.to_thread(apply_file, self.settings.config_file, self.db, self.secrets)
        for connection_id in applied.connections:
            await self.pool.drop(connection_id)
        for kind in sorted(applied.kinds):
            for reload in self._followers.get(kind, ()):
                await asyncio.to_thread(reload)
            self.config_changed(kind)
        return applied

    # -- configuration shared between instances ---------------------------------------------
    def follow_config(self, kind: str, reload: Callable[[], None]) -> None:
        """Run ``reload`` (in a worker thread) when another instance changes ``kind``."""
        self._followers.setdefault(kind, []).append(reload)

    def config_changed(self, kind: str) -> None:
        """Tell the other instances that ``kind`` changed. Safe from any thread."""
        loop = self._loop
        if loop is None or not self.shared.shared:
            return
        try:
            on_loop = asyncio.get_running_loop() is loop
        except RuntimeError:
            on_loop = False
        if on_loop:
            self.shared.config.changed(kind)
        else:
            loop.call_soon_threadsafe(self.shared.config.changed, kind)

    def _on_config_change(self, kind: str) -> None:
        # "*" after a Redis outage: messages may have been missed, reload everything.
        kinds = list(self._followers) if kind == "*" else [kind]
        loop = asyncio.get_running_loop()
        for name in kinds:
            for reload in self._followers.get(name, ()):
                loop.run_in_executor(None, _reload_logged, name, reload)

    async def _start_shared(self) -> None:
        if self._loop is not None:
            return
        self._loop = asyncio.get_running_loop()
        await self.shared.start()
        self.shared.config.on_change(self._on_config_change)
        if self.shared.shared:  # the UI on each instance shows what every instance captures
            self._inspector_bridge = InspectorEventBridge(self.shared.bus, self.ring)
            await self._inspector_bridge.start()

    # -- API server on the current event loop ---------------------------------------------
    async def start_api(self) -> None:
        """Serve the ASGI app on mitmproxy's loop; mitmproxy owns the signal handlers."""
        listener = self.listeners["api"]
        if not self.settings.api_port or self._api_task is not None:
            await self._start_shared()
            return
        await self.system_proxy.restore_after_crash()
        from omniroute.api.app import create_app
        from omniroute.api.http_protocol import protocol_class

        config = uvicorn.Config(
            create_app(self),
            host=self.settings.host,
            port=self.settings.api_port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            http=protocol_class(self.settings.header_timeout),  # httptools, with a header-read timeout
            ws="websockets-sansio",
            timeout_graceful_shutdown=2,
            # Longer than clients' idle expiry (httpx 5 s, Node 4 s): with both at 5 s a client
            # reuses a connection the server is closing and the request fails (soak: ~0.3 %).
            timeout_keep_alive=65,
        )
        server = _EmbeddedServer(config)
        self._api_server = server
        listener.state = "starting"
        self._api_task = asyncio.create_task(server.serve(), name="omniroute-api")
        while not server.started and not self._api_task.done():
            await asyncio.sleep(0.01)
        if self._api_task.done():
            listener.state, listener.error = "error", "could not start the API server"
            self._api_task = None
            return
        listener.state = "running"
        log.info("OmniRoute API listening on http://%s:%d", self.settings.host, self.settings.api_port)
        # After the app is built: a connect timed against a loop busy building it would fail.
        await self._start_shared()

    async def stop(self) -> None:
        server, task = self._api_server, self._api_task
        if server is not None and task is not None:
            server.should_exit = True
            try:
                await asyncio.wait_for(task, timeout=5)
            except (TimeoutError, asyncio.CancelledError):
                task.cancel()
            self.listeners["api"].state = "stopped"
        self._api_server = self._api_task = None
        await asyncio.to_thread(self.agent_states.flush)
        await self.pool.aclose()
        await asyncio.to_thread(self.usage.close)
        await self._stop_inspector()
        await self._stop_shared()
        self.db.dispose()

    async def _stop_shared(self) -> None:
        if self._inspector_bridge is not None:
            await self._inspector_bridge.aclose()
            self._inspector_bridge = None
        await self.shared.aclose()
        self._loop = None

    async def _stop_inspector(self) -> None:
        try:  # never leave the machine pointed at a proxy that is going away
            await self.system_proxy.revert()
        except Exception as exc:  # noqa: BLE001 - unsupported OS, gsettings failure: said in the log
            log.warning("system proxy not reverted: %s", exc)
        await asyncio.to_thread(self.inspector_sessions.close)

    def listener_states(self) -> list[ListenerState]:
        """The API listener plus the proxy listeners as mitmproxy reports them right now."""
        proxies = self.proxy_listener_states() if self.proxy_listener_states else []
        names = {p.name for p in proxies}
        static = [l for n, l in self.listeners.items() if n == "api" or n not in names]
        return static + proxies

    def health(self) -> dict[str, Any]:
        link = self.shared.link
        return {
            "status": "ok",
            "version": __version__,
            "uptime": round(time.time() - self.started_at, 3),
            "listeners": [listener.as_dict() for listener in self.listener_states()],
            # Where breakers, counters and events live; `up: false` while Redis is away (this
            # instance then serves from local state and catches up when it returns).
            "sharedState": {"backend": "redis", "up": link.up} if link else {"backend": "memory", "up": True},
        }


def _reload_logged(kind: str, reload: Callable[[], None]) -> None:
    try:
        reload()
    except Exception as exc:  # noqa: BLE001 - database away: the next change (or restart) catches up
        log.warning("could not reload %s after another instance changed it: %s", kind, exc)


class _EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to its host (mitmproxy's master)."""

    def capture_signals(self):  # type: ignore[override]
        from contextlib import nullcontext

        return nullcontext()
