"""Configuration shared between instances: "kind X changed" out, reloads of X in.

A write through the API reloads what it changed here and calls `changed(kind)`; every other
instance behind the same balancer runs the reloads that follow that kind. Without Redis there
is no other instance and `changed` does nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from omniroute.shared.state import SharedState

log = logging.getLogger("omniroute")


class ConfigSync:
    def __init__(self, shared: SharedState) -> None:
        self._shared = shared
        self._loop: asyncio.AbstractEventLoop | None = None
        # What another instance's "config changed" message makes this one reload (kind → reloads).
        self._followers: dict[str, list[Callable[[], None]]] = {}

    def follow(self, kind: str, reload: Callable[[], None]) -> None:
        """Run ``reload`` (in a worker thread) when another instance changes ``kind``."""
        self._followers.setdefault(kind, []).append(reload)

    def reload_here(self, kind: str) -> None:
        """Run this instance's reloads of ``kind`` now (sync: call it from a store thread)."""
        for reload in self._followers.get(kind, ()):
            reload()

    def changed(self, kind: str) -> None:
        """Tell the other instances that ``kind`` changed. Safe from any thread."""
        loop = self._loop
        if loop is None or not self._shared.shared:
            return
        try:
            on_loop = asyncio.get_running_loop() is loop
        except RuntimeError:
            on_loop = False
        if on_loop:
            self._shared.config.changed(kind)
        else:
            loop.call_soon_threadsafe(self._shared.config.changed, kind)

    def start(self) -> None:
        """On the running loop, once the shared state is started."""
        self._loop = asyncio.get_running_loop()
        self._shared.config.on_change(self._on_change)

    def stop(self) -> None:
        self._loop = None

    def _on_change(self, kind: str) -> None:
        # "*" after a Redis outage: messages may have been missed, reload everything.
        kinds = list(self._followers) if kind == "*" else [kind]
        loop = asyncio.get_running_loop()
        for name in kinds:
            for reload in self._followers.get(name, ()):
                loop.run_in_executor(None, _reload_logged, name, reload)


def _reload_logged(kind: str, reload: Callable[[], None]) -> None:
    try:
        reload()
    except Exception as exc:  # noqa: BLE001 - database away: the next change (or restart) catches up
        log.warning("could not reload %s after another instance changed it: %s", kind, exc)
