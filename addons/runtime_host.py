"""Owns OmniRoute's runtime inside mitmproxy and serves its API on mitmproxy's event loop."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any, Optional

from mitmproxy import ctx, exceptions
from mitmproxy.proxy.mode_specs import ProxyMode

from omniroute.bridge.ca import CAError
from omniroute.bridge.control import apply_stored_upstream_ca
from omniroute.bridge.upstream_dns import UpstreamDNSError
from omniroute.config import Settings, SettingsError
from omniroute.configfile.load import ConfigFileError
from omniroute.db.database import DatabaseError
from omniroute.exposure import exposure_problem
from omniroute.listeners import is_bridge_mode, proxy_modes
from omniroute.runtime import ListenerState, Runtime

log = logging.getLogger("omniroute")
MITMPROXY_TCP_TIMEOUT = 600  # its option's default

# mitmproxy option → Settings field; unset options leave env/config-file values alone.
OPTION_FIELDS = {
    "omniroute_home": "home",
    "omniroute_api_port": "api_port",
    "omniroute_proxy_port": "proxy_port",
    "omniroute_bridge_port": "bridge_port",
    "omniroute_host": "host",
    "omniroute_demo": "demo",
    "omniroute_config": "config_file",
    "omniroute_allow_open_proxy": "allow_open_proxy",
    "omniroute_allow_open_v1": "allow_open_v1",
}


class RuntimeHost:
    def __init__(self) -> None:
        self.runtime: Runtime | None = None

    def load(self, loader: Any) -> None:
        loader.add_option("omniroute_home", Optional[str], None, "OmniRoute home directory (db, certs, logs).")
        loader.add_option("omniroute_host", Optional[str], None, "Address the OmniRoute API listens on.")
        loader.add_option("omniroute_api_port", Optional[int], None, "Port of the OmniRoute API; 0 disables it.")
        loader.add_option("omniroute_proxy_port", Optional[int], None, "Port of the HTTP_PROXY listener; 0 disables it.")
        loader.add_option("omniroute_bridge_port", Optional[int], None, "Port of the DNS-mode listener; 0 disables it.")
        loader.add_option("omniroute_demo", bool, False, "Register the built-in offline demo provider.")
        loader.add_option("omniroute_config", Optional[str], None,
                          "OmniRoute config file (YAML): applied at start and on SIGHUP.")
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
            self.runtime = runtime = Runtime(settings)
        except (SettingsError, DatabaseError, CAError, UpstreamDNSError) as exc:
            log.error("OmniRoute cannot start: %s", exc)
            ctx.master.shutdown()
            return
        except ConfigFileError as exc:
            for line in exc.lines():
                log.error("OmniRoute cannot start: %s", line)
            ctx.master.shutdown()
            return
        if runtime.settings.config_file is not None:
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self._reload_config_file)
        runtime.proxy_listener_states = self._proxy_listener_states
        runtime.proxy_host = MitmproxyHost()
        updates: dict[str, Any] = {}
        if ctx.options.connection_strategy != "lazy":
            updates["connection_strategy"] = "lazy"  # eager fails offline and costs a round trip
        if ctx.options.tcp_timeout == MITMPROXY_TCP_TIMEOUT:  # mitmproxy's default: use ours
            updates["tcp_timeout"] = runtime.settings.proxy_idle_timeout
        if list(ctx.options.mode) == ["regular"]:  # mitmdump's default: use ours instead
            updates["mode"] = proxy_modes(runtime.settings)
        if ctx.options.confdir == "~/.mitmproxy":
            # Our CA lives in the home dir; mitmproxy issues per-host certificates from it.
            updates["confdir"] = str(runtime.settings.certs_dir)
        if updates:
            ctx.options.update(**updates)
        try:
            await apply_stored_upstream_ca(runtime)
        except ValueError as exc:  # the saved file was removed or replaced since
            log.warning("OmniRoute: saved upstream CA not applied: %s", exc)
        await runtime.start_api()

    def _reload_config_file(self) -> None:
        asyncio.create_task(self._reload_logged(), name="omniroute-config-reload")

    async def _reload_logged(self) -> None:
        runtime = self.runtime
        if runtime is None:
            return
        try:
            applied = await runtime.reload_config_file()
        except ConfigFileError as exc:
            for line in exc.lines():
                log.error("config file not applied (nothing changed): %s", line)
            return
        log.warning("config file %s applied (SIGHUP): %s", runtime.settings.config_file,
                    ", ".join(sorted(applied.kinds)) or "no changes")

    def _proxy_listener_states(self) -> list[ListenerState]:
        proxyserver = ctx.master.addons.get("proxyserver")
        states = []
        for instance in getattr(proxyserver, "servers", []):
            name = "agent-bridge" if is_bridge_mode(instance.mode.data) else "http-proxy"
            port = instance.mode.listen_port() or 0
            error = str(instance.last_exception) if instance.last_exception else None
            state = "running" if instance.is_running else ("error" if error else "stopped")
            states.append(ListenerState(name, port, state, error))
        return states

    async def done(self) -> None:
        if self.runtime is not None:
            await self.runtime.stop()


class MitmproxyHost:
    """`Runtime.proxy_host`: mitmproxy's options and addons, reached through `ctx`."""

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
