"""Owns OmniRoute's runtime inside mitmproxy and serves its API on mitmproxy's event loop.

The other addons are built with this host and read `host.services` (None until `running`
has built them, and when start-up failed)."""

from __future__ import annotations

import logging
from typing import Any, Optional

from mitmproxy import ctx, exceptions
from mitmproxy.proxy.mode_specs import ProxyMode

from omniroute.bridge.ca import CAError
from omniroute.bridge.upstream_dns import UpstreamDNSError
from omniroute.config import Settings, SettingsError
from omniroute.db.database import DatabaseError
from omniroute.exposure import exposure_problem
from omniroute.listeners import ListenerState, is_bridge_mode, proxy_modes
from omniroute.runtime import Runtime
from omniroute.services import Services

log = logging.getLogger("omniroute")

# mitmproxy option → Settings field; unset options leave env/config-file values alone.
OPTION_FIELDS = {
    "omniroute_home": "home",
    "omniroute_api_port": "api_port",
    "omniroute_proxy_port": "proxy_port",
    "omniroute_bridge_port": "bridge_port",
    "omniroute_host": "host",
    "omniroute_demo": "demo",
    "omniroute_allow_open_proxy": "allow_open_proxy",
    "omniroute_allow_open_v1": "allow_open_v1",
}


class RuntimeHost:
    def __init__(self) -> None:
        self.runtime: Runtime | None = None

    @property
    def services(self) -> Services | None:
        return self.runtime.services if self.runtime is not None else None

    def load(self, loader: Any) -> None:
        loader.add_option("omniroute_home", Optional[str], None, "OmniRoute home directory (db, certs, logs).")
        loader.add_option("omniroute_host", Optional[str], None, "Address the OmniRoute API listens on.")
        loader.add_option("omniroute_api_port", Optional[int], None, "Port of the OmniRoute API; 0 disables it.")
        loader.add_option("omniroute_proxy_port", Optional[int], None, "Port of the HTTP_PROXY listener; 0 disables it.")
        loader.add_option("omniroute_bridge_port", Optional[int], None, "Port of the DNS-mode listener; 0 disables it.")
        loader.add_option("omniroute_demo", bool, False, "Register the built-in offline demo provider.")
        loader.add_option("omniroute_allow_open_proxy", bool, False, "Beyond loopback: proxy listeners without authentication.")
        loader.add_option("omniroute_allow_open_v1", bool, False, "Beyond loopback: /v1 without REQUIRE_API_KEY.")

    async def running(self) -> None:
        # Built here, not in configure: by now every --set option has been applied.
        overrides = {
            field: value
            for option, field in OPTION_FIELDS.items()
            if (value := getattr(ctx.options, option)) is not None and value is not False
        }
        try:
            settings = Settings(**overrides)
            exposed = exposure_problem(settings, getattr(ctx.options, "proxyauth", None))
            if exposed:
                raise SettingsError(exposed)
            self.runtime = runtime = Runtime.open(settings)
        except (SettingsError, DatabaseError, CAError, UpstreamDNSError) as exc:
            log.error("OmniRoute cannot start: %s", exc)
            ctx.master.shutdown()
            return
        services = runtime.services
        services.board.host = MitmproxyHost()
        updates: dict[str, Any] = {}
        if ctx.options.connection_strategy != "lazy":
            updates["connection_strategy"] = "lazy"  # eager fails offline and costs a round trip
        if list(ctx.options.mode) == ["regular"]:  # mitmdump's default: use ours instead
            updates["mode"] = proxy_modes(services.settings)
        if ctx.options.confdir == "~/.mitmproxy":
            # Our CA lives in the home dir; mitmproxy issues per-host certificates from it.
            updates["confdir"] = str(services.settings.certs_dir)
        if updates:
            ctx.options.update(**updates)
        try:
            await services.control.apply_stored_upstream_ca()
        except ValueError as exc:  # the saved file was removed or replaced since
            log.warning("OmniRoute: saved upstream CA not applied: %s", exc)
        await runtime.start_api()

    async def done(self) -> None:
        if self.runtime is not None:
            await self.runtime.stop()


class MitmproxyHost:
    """`ListenerBoard.host`: mitmproxy's options and addons, reached through `ctx`."""

    def listener_states(self) -> list[ListenerState]:
        proxyserver = ctx.master.addons.get("proxyserver")
        states = []
        for instance in getattr(proxyserver, "servers", []):
            name = "agent-bridge" if is_bridge_mode(instance.mode.data) else "http-proxy"
            port = instance.mode.listen_port() or 0
            error = str(instance.last_exception) if instance.last_exception else None
            state = "running" if instance.is_running else ("error" if error else "stopped")
            states.append(ListenerState(name, port, state, error))
        return states

    def option(self, name: str) -> Any:
        return getattr(ctx.options, name)

    async def update_options(self, **options: Any) -> None:
        try:
            ctx.options.update(**options)
        except exceptions.OptionsError as exc:
            raise ValueError(str(exc)) from None
        if "mode" in options:
            # The proxyserver addon applies a new `mode` in a background task; updating the
            # servers here as well (serialised by their lock, a no-op the second time) lets
            # the caller see the listeners' real state when this returns.
            proxyserver = ctx.master.addons.get("proxyserver")
            await proxyserver.servers.update([ProxyMode.parse(m) for m in ctx.options.mode])

    def reload_certificates(self) -> None:
        # tlsconfig rebuilds its certificate store (and forgets cached leaves) on this update.
        ctx.master.addons.get("tlsconfig").configure({"confdir"})

    def active_connections(self) -> int:
        return len(getattr(ctx.master.addons.get("proxyserver"), "connections", {}))
