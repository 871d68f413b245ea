"""A Runtime whose API listens on a free loopback port, its event loop in a thread of the test
process: tests can look inside that loop (its tasks, which thread runs a database statement)
while clients reach it over real TCP."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, Self

from omniroute.config import Settings
from omniroute.runtime import Runtime
from tests.support.harness import free_port


class ServedRuntime:
    """A Runtime whose API listens on a free loopback port, its event loop in a thread."""

    def __init__(self, home: Path, database_url: str | None = None) -> None:
        self.port = free_port()
        settings = Settings(home=home, api_port=self.port, proxy_port=0, bridge_port=0, hosts_file=home / "hosts",
                            database_url=database_url)
        self.runtime = Runtime.open(settings)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="served-runtime", daemon=True)

    @property
    def loop_thread(self) -> int | None:
        """The id of the thread that runs the runtime's event loop."""
        return self._thread.ident

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def run[T](self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def tasks(self) -> list[str]:
        """Names of the loop's live tasks, apart from the one asking."""

        async def live() -> list[str]:
            me = asyncio.current_task()
            return sorted(t.get_name() for t in asyncio.all_tasks() if t is not me and not t.done())

        return self.run(live())

    def __enter__(self) -> Self:
        self._thread.start()
        self.run(self.runtime.start_api())
        assert self.runtime.services.board.listeners["api"].state == "running"
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.run(self.runtime.stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            self.loop.close()
