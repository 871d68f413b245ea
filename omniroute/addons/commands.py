"""OmniRoute's actions as mitmproxy commands: from mitmproxy's console (`:omniroute.har ...`)
or a script (`ctx.master.commands.call("omniroute.map", ...)`).

Each command checks its arguments at once (`CommandError`, as mitmproxy's own do) and runs the
work (database writes, building a HAR) in a worker thread, so the proxy loop never waits on it;
the outcome is logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from mitmproxy import command, exceptions, types

from omniroute.addons.runtime_host import RuntimeHost
from omniroute.inspector.har import har_bytes
from omniroute.services import Services

log = logging.getLogger("omniroute")


class Commands:
    def __init__(self, host: RuntimeHost) -> None:
        self.host = host

    def _services(self) -> Services:
        if self.host.services is None:
            raise exceptions.CommandError("OmniRoute is not running (see the log for why)")
        return self.host.services

    @staticmethod
    def _off_loop(what: str, work: Callable[[], str]) -> None:
        def run() -> None:
            try:
                log.info("OmniRoute: %s", work())
            except Exception as exc:  # noqa: BLE001 - a command's failure is the user's to read
                log.error("OmniRoute: %s failed: %s", what, exc)

        asyncio.get_running_loop().run_in_executor(None, run)

    @command.command("omniroute.har")
    def har(self, path: types.Path) -> None:
        """Write the live capture (oldest first) as a HAR 1.2 file."""
        rows = list(reversed(list(self._services().ring)))
        target = Path(path).expanduser()

        def write() -> str:
            target.write_bytes(har_bytes(rows))
            return f"wrote {len(rows)} entries to {target}"

        self._off_loop("HAR export", write)

    @command.command("omniroute.map")
    def map_model(self, agent: str, source: str, target: str) -> None:
        """Map AGENT's model SOURCE (a name, a glob or *) to an engine TARGET (connection/model,
        alias or combo)."""
        services = self._services()
        if agent not in services.catalog:
            known = ", ".join(a.id for a in services.catalog)
            raise exceptions.CommandError(f"unknown agent {agent!r}; known agents: {known}")

        def upsert() -> str:
            services.mappings.upsert(agent, source, target)
            return f"{agent}: {source} -> {target}"

        self._off_loop("mapping", upsert)

    @command.command("omniroute.record.start")
    def record_start(self, name: str) -> None:
        """Start a recording session named NAME (an active one is stopped first)."""
        sessions = self._services().inspector_sessions
        self._off_loop("recording", lambda: f"recording session {sessions.start(name or None)['id']}")

    @command.command("omniroute.record.stop")
    def record_stop(self) -> None:
        """Stop the active recording session."""
        sessions = self._services().inspector_sessions
        active = sessions.active_id
        if active is None:
            raise exceptions.CommandError("no recording session is active")
        self._off_loop("recording", lambda: f"stopped recording session {sessions.stop(active)['id']}")
