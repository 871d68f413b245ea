"""System-wide proxy settings (capture mode ``system-proxy``) with a guard timer.

Applying a system proxy can cut a machine off the network if the proxy then stops, so every
``apply`` arms a guard: unless ``confirm`` is called, the previous settings are restored by
themselves after the guard expires. The previous settings are also saved to a file in the home
directory, so a process that died while applied restores them at the next start.

Implemented for Linux desktops through ``gsettings`` (``org.gnome.system.proxy``, honoured by
GNOME and by most apps that read the desktop proxy). Elsewhere — or without ``gsettings`` —
``SystemProxyUnsupported`` says so plainly; nothing pretends to have worked.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import sys
import time
from pathlib import Path
from typing import Any

log = logging.getLogger("omniroute.inspector")

SCHEMA = "org.gnome.system.proxy"
# (schema, key) pairs we change and restore.
KEYS = ((SCHEMA, "mode"), (f"{SCHEMA}.http", "host"), (f"{SCHEMA}.http", "port"),
        (f"{SCHEMA}.https", "host"), (f"{SCHEMA}.https", "port"))


class SystemProxyUnsupported(Exception):
    """This OS (or desktop) has no system proxy we know how to set."""


class SystemProxyError(Exception):
    """A settings command failed; the message includes its output."""


class SystemProxy:
    def __init__(self, backup_path: Path, host: str = "127.0.0.1") -> None:
        self.backup_path = backup_path
        self.host = host
        self.port: int | None = None
        self.guard_seconds: float | None = None
        self.guard_deadline: float | None = None
        self._guard: asyncio.TimerHandle | None = None
        self._lock = asyncio.Lock()

    # -- state -------------------------------------------------------------------------------
    @staticmethod
    def unsupported_reason() -> str | None:
        if not sys.platform.startswith("linux"):
            return f"system proxy is not supported on this OS ({sys.platform}); set HTTP_PROXY per app instead"
        if shutil.which("gsettings") is None:
            return "system proxy is not supported on this OS: gsettings (GNOME desktop settings) is not installed"
        return None

    @property
    def active(self) -> bool:
        return self.backup_path.exists()

    def state(self) -> dict[str, Any]:
        remaining = None
        if self.guard_deadline is not None:
            remaining = max(0.0, round(self.guard_deadline - time.time(), 1))
        state = {
            "active": self.active,
            "guardSecondsLeft": remaining,
            "port": self.port,
            "supported": self.unsupported_reason() is None,
            "reason": self.unsupported_reason(),
        }
        if self.guard_seconds:  # an integer when a guard is set, absent otherwise (the specification's type)
            state["guardMinutes"] = round(self.guard_seconds / 60)
        return state

    # -- actions -----------------------------------------------------------------------------
    async def apply(self, port: int, guard_seconds: float) -> dict[str, Any]:
        reason = self.unsupported_reason()
        if reason:
            raise SystemProxyUnsupported(reason)
        async with self._lock:
            if not self.active:  # re-applying keeps the settings from before the first apply
                previous = {f"{schema} {key}": await _get(schema, key) for schema, key in KEYS}
                self.backup_path.write_text(json.dumps(previous))
            for schema in (f"{SCHEMA}.http", f"{SCHEMA}.https"):
                await _set(schema, "host", self.host)
                await _set(schema, "port", str(port))
            await _set(SCHEMA, "mode", "manual")
            self.port = port
            self._arm(guard_seconds)
        return self.state()

    def confirm(self) -> dict[str, Any]:
        """Keep the applied settings: the guard timer is cancelled."""
        self._disarm()
        return self.state()

    async def revert(self) -> dict[str, Any]:
        async with self._lock:
            self._disarm()
            if self.active:
                reason = self.unsupported_reason()
                if reason:
                    raise SystemProxyUnsupported(reason)
                previous = json.loads(self.backup_path.read_text())
                for schema, key in KEYS:
                    value = previous.get(f"{schema} {key}")
                    if value is not None:
                        await _set(schema, key, value)
                self.backup_path.unlink(missing_ok=True)
            self.port = None
        return self.state()

    async def restore_after_crash(self) -> None:
        """At start: settings left applied by a process that died are put back."""
        if self.active and self.unsupported_reason() is None:
            log.warning("system proxy was left applied by a previous run; restoring the previous settings")
            try:
                await self.revert()
            except SystemProxyError as exc:
                log.error("could not restore the system proxy settings: %s", exc)

    # -- guard -------------------------------------------------------------------------------
    def _arm(self, seconds: float) -> None:
        self._disarm()
        self.guard_seconds = seconds
        self.guard_deadline = time.time() + seconds
        loop = asyncio.get_running_loop()
        self._guard = loop.call_later(seconds, lambda: loop.create_task(self._expire()))

    def _disarm(self) -> None:
        if self._guard is not None:
            self._guard.cancel()
        self._guard = None
        self.guard_deadline = None

    async def _expire(self) -> None:
        self._guard = None
        log.warning("system proxy guard expired without confirmation: reverting")
        try:
            await self.revert()
        except (SystemProxyError, SystemProxyUnsupported) as exc:
            log.error("system proxy guard could not revert: %s", exc)


async def _run(*args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        "gsettings", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise SystemProxyError(f"gsettings {' '.join(args)} failed: {err.decode(errors='replace').strip()}")
    return out.decode().strip()


async def _get(schema: str, key: str) -> str:
    value = await _run("get", schema, key)
    return value.strip("'") if value.startswith("'") else value


async def _set(schema: str, key: str, value: str) -> None:
    await _run("set", schema, key, value)
