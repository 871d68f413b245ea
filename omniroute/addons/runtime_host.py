"""Owns OmniRoute's runtime inside mitmproxy and serves its API on mitmproxy's event loop.

The other addons are built with this host and read `host.services` (None until `running`
has built them, and when start-up failed)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from typing import Any

from mitmproxy import ctx, exceptions
from mitmproxy.proxy.mode_specs import ProxyMode

from omniroute import __version__, runfile
from omniroute.addons import options
from omniroute.bridge.ca import CAError
from omniroute.bridge.upstream_dns import UpstreamDNSError
from omniroute.config import SettingsError
from omniroute.configfile.load import ConfigFileError
from omniroute.db.database import DatabaseError
from omniroute.exposure import exposure_problem
from omniroute.listeners import ListenerState, is_bridge_mode
from omniroute.runtime import Runtime
from omniroute.services import Services

log = logging.getLogger("omniroute")
MITMPROXY_TCP_TIMEOUT = 600  # its option's default


class RuntimeHost:
    def __init__(self) -> None:
        self.runtime: Runtime | None = None

    @property
    def services(self) -> Services | None:
        return self.runtime.services if self.runtime is not None else None

    def load(self, loader: Any) -> None:
        options.add_options(loader)

    def configure(self, updated: set[str]) -> None:
        if not updated & options.OPTIONS:
            return
        if self.runtime is not None:
            raise exceptions.OptionsError("omniroute_* options apply at start-up; restart to change them")
        options.settings_from(ctx.options)  # raises OptionsError naming a value that cannot be used

    async def running(self) -> None:
        # Built here, not in configure: by now every --set option has been applied.
        # mitmproxy's own listeners (listen_host, listen_port, mode) stay as the user set them;
        # only a DNS-mode listener asked for with `omniroute_bridge_port` is added.
        modes = options.modes_with_bridge(ctx.options.mode, ctx.options.omniroute_bridge_port)
        updates: dict[str, Any] = {"mode": modes} if modes != list(ctx.options.mode) else {}
        if ctx.options.connection_strategy != "lazy":
            updates["connection_strategy"] = "lazy"  # eager fails offline and costs a round trip
        if updates:
            ctx.options.update(**updates)
        try:
            settings = options.settings_from(ctx.options)
            # The proxy listeners bind mitmproxy's listen_host ("" = every interface).
            exposed = exposure_problem(settings, ctx.options.proxyauth, proxy_host=ctx.options.listen_host)
            if exposed:
                raise SettingsError(exposed)
            self.runtime = runtime = Runtime.open(settings)
        except (exceptions.OptionsError, SettingsError, DatabaseError, CAError, UpstreamDNSError) as exc:
            log.error("OmniRoute cannot start: %s", exc)
            ctx.master.shutdown()
            return
        except ConfigFileError as exc:
            for line in exc.lines():
                log.error("OmniRoute cannot start: %s", line)
            ctx.master.shutdown()
            return
        services = runtime.services
        services.board.host = MitmproxyHost()
        if services.settings.config_file is not None:
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self._reload_config_file)
        if ctx.options.tcp_timeout == MITMPROXY_TCP_TIMEOUT:  # mitmproxy's default: use ours
            ctx.options.update(tcp_timeout=services.settings.proxy_idle_timeout)
        if ctx.options.confdir == "~/.mitmproxy":
            # Our CA lives in the home dir; mitmproxy issues per-host certificates from it.
            ctx.options.update(confdir=str(services.settings.certs_dir))
        try:
            await services.control.apply_stored_upstream_ca()
        except ValueError as exc:  # the saved file was removed or replaced since
            log.warning("OmniRoute: saved upstream CA not applied: %s", exc)
        await runtime.start_api()
        self._write_run_file(services)
        runtime.warm_up()

    def _write_run_file(self, services: Services) -> None:
        """`<home>/run.json`: how the CLI finds this server (its listeners' real ports)."""
        settings = services.settings
        ports = runfile.listener_ports(services.board.states())
        info = runfile.RunInfo(
            pid=os.getpid(), host=runfile.client_host(settings.host), api_port=ports.get("api", 0),
            proxy_port=ports.get("http-proxy", 0), bridge_port=ports.get("agent-bridge", 0),
            started_at=time.time(), version=__version__,
        )
        try:
            runfile.write(settings.home, info)
        except OSError as exc:
            log.warning("OmniRoute: run file not written (the CLI will not find this server): %s", exc)

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
        log.warning("config file %s applied (SIGHUP): %s", runtime.services.settings.config_file,
                    ", ".join(sorted(applied.kinds)) or "no changes")

    async def done(self) -> None:
        if self.runtime is not None:
            runfile.remove(self.runtime.services.settings.home, os.getpid())
            await self.runtime.stop()


class MitmproxyHost:
    """`ListenerBoard.host`: mitmproxy's options and addons, reached through `ctx`."""

    def listener_states(self) -> list[ListenerState]:
        proxyserver = ctx.master.addons.get("proxyserver")
        states = []
        for instance in getattr(proxyserver, "servers", []):
            name = "agent-bridge" if is_bridge_mode(instance.mode.data) else "http-proxy"
            port = instance.mode.listen_port(ctx.options.listen_port) or 0
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
