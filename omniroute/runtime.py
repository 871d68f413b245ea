"""The composition root's second half: the API server on the current event loop, and shutdown.

Both entry points build one `Runtime`: `omniroute run` and `mitmdump -s addons/omniroute_addons.py`
(through the addons). `Runtime.open(settings)` builds the services (`omniroute.services`);
the ASGI app and the addons are handed the same services, so breaker state, the capture
ring and live events live in memory once.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from contextlib import nullcontext

import uvicorn

from omniroute.api.app import create_app
from omniroute.api.http_protocol import protocol_class
from omniroute.config import Settings
from omniroute.configfile import Applied, apply_file
from omniroute.configfile.reload import reload_config_file
from omniroute.engine.pricing import load_maintained
from omniroute.memory import QuietCollector, malloc_trim
from omniroute.services import Services, open_services
from omniroute.shared.events import InspectorEventBridge

log = logging.getLogger("omniroute")
# The warm-up waits this long after the listeners are up: the first requests (readiness checks,
# the UI's first page) do not share the interpreter with it.
WARM_UP_AFTER_S = 1.0


class Runtime:
    def __init__(self, services: Services) -> None:
        self.services = services
        self._api_server: uvicorn.Server | None = None
        self._api_task: asyncio.Task[None] | None = None
        self._shared_started = False
        self._inspector_bridge: InspectorEventBridge | None = None
        self._collector: asyncio.Task[None] | None = None

    @classmethod
    def open(cls, settings: Settings) -> Runtime:
        """The services, with the config file (if any) applied before anything reads the
        database's configuration. ConfigFileError: the file is wrong, nothing was applied."""
        log.setLevel(settings.log_level.upper())  # the "omniroute" logger, under either entry point
        path = settings.config_file
        return cls(open_services(settings, seed=lambda db, secrets: apply_file(path, db, secrets)))

    async def reload_config_file(self) -> Applied:
        """SIGHUP: apply the config file again (`POST /api/config/reload` does the same)."""
        return await reload_config_file(self.services)

    async def _start_shared(self) -> None:
        if self._shared_started:
            return
        self._shared_started = True
        shared = self.services.shared
        await shared.start()
        self.services.sync.start()
        if shared.shared:  # the UI on each instance shows what every instance captures
            self._inspector_bridge = InspectorEventBridge(shared.bus, self.services.ring)
            await self._inspector_bridge.start()

    async def start_api(self) -> None:
        """Serve the ASGI app on mitmproxy's loop; mitmproxy owns the signal handlers."""
        services = self.services
        settings = services.settings
        listener = services.board.listeners["api"]
        if not settings.api_port or self._api_task is not None:
            await self._start_shared()
            return
        await services.system_proxy.restore_after_crash()
        app = await asyncio.to_thread(create_app, services)  # reads the saved settings
        config = uvicorn.Config(
            app,
            host=settings.host,
            port=settings.api_port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            http=protocol_class(settings.header_timeout),  # httptools, with a header-read timeout
            ws="websockets-sansio",
            timeout_graceful_shutdown=2,
            # Longer than clients' idle expiry (httpx 5 s, Node 4 s): with both at 5 s a client
            # reuses a connection the server is closing and the request fails.
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
        log.info("OmniRoute API listening on http://%s:%d", settings.host, settings.api_port)
        # After the app is built: a connect timed against a loop busy building it would fail.
        await self._start_shared()

    def warm_up(self) -> None:
        """Once the listeners are up: read in a thread, a moment later, what start-up leaves for
        first use (the maintained price table); a call that needs it sooner reads it itself, or
        waits for that read. And from then on, give memory back after each burst of traffic
        (`omniroute.memory`)."""
        timer = threading.Timer(WARM_UP_AFTER_S, load_maintained)
        timer.name, timer.daemon = "omniroute-warm-up", True
        timer.start()
        if self._collector is None:
            collector = QuietCollector(trim=malloc_trim())
            self._collector = asyncio.get_running_loop().create_task(
                collector.run(), name="omniroute-quiet-collector")

    async def stop(self) -> None:
        services = self.services
        if self._collector is not None:
            self._collector.cancel()
            self._collector = None
        server, task = self._api_server, self._api_task
        if server is not None and task is not None:
            server.should_exit = True
            try:
                await asyncio.wait_for(task, timeout=5)
            except (TimeoutError, asyncio.CancelledError):
                task.cancel()
            services.board.listeners["api"].state = "stopped"
        self._api_server = self._api_task = None
        await services.store.call(services.agent_states.flush)
        await services.pool.aclose()
        await services.store.call(services.usage.close)
        await self._stop_inspector()
        await self._stop_shared()
        services.store.close()
        services.db.dispose()

    async def _stop_shared(self) -> None:
        if self._inspector_bridge is not None:
            await self._inspector_bridge.aclose()
            self._inspector_bridge = None
        await self.services.shared.aclose()
        self.services.sync.stop()
        self._shared_started = False

    async def _stop_inspector(self) -> None:
        try:  # never leave the machine pointed at a proxy that is going away
            await self.services.system_proxy.revert()
        except Exception as exc:  # noqa: BLE001 - unsupported OS, gsettings failure: said in the log
            log.warning("system proxy not reverted: %s", exc)
        await self.services.store.call(self.services.inspector_sessions.close)


class _EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to its host (mitmproxy's master)."""

    def capture_signals(self):  # type: ignore[override]
        return nullcontext()
