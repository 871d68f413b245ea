"""The running server the CLI acts on: found through the home's run file, reached by its API.

`map`, `agents add|edit|remove`, `env` and `doctor` act on the server that runs on this home,
whatever ports it was started with, and say plainly when none runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Self

import httpx

from omniroute import runfile
from omniroute.config import Settings

Echo = Callable[[str], None]


class NoServer(Exception):
    """No server runs on this home; the message says so and how to start one."""


@dataclass(frozen=True, slots=True)
class Server:
    info: runfile.RunInfo
    api: httpx.Client

    def describe(self) -> str:
        return f"the OmniRoute server running on this home (pid {self.info.pid}, {self.info.api_url})"

    def close(self) -> None:
        self.api.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def find_server(settings: Settings) -> Server | None:
    """The live server of ``settings.home`` whose API answers, or None."""
    info, _stale = runfile.read(settings.home)
    if info is None or info.api_url is None:
        return None
    client = httpx.Client(base_url=info.api_url, timeout=30.0, trust_env=False)
    try:
        client.get("/health").raise_for_status()
    except httpx.HTTPError:
        client.close()
        return None
    return Server(info, client)


def no_server_message(settings: Settings, action: str) -> str:
    """Why there is nothing to act on: no run file, a stale one, or an API that does not answer."""
    info, stale = runfile.read(settings.home)
    if stale is not None:
        why = f"its run file names pid {stale.pid}, which no longer runs"
    elif info is not None and info.api_url is None:
        why = f"the server (pid {info.pid}) runs with its API disabled (--api-port 0)"
    elif info is not None:
        why = f"the server (pid {info.pid}) does not answer on {info.api_url}"
    else:
        why = f"no run file in {settings.home}"
    return (f"no OmniRoute server is running on home {settings.home} ({why}); "
            f"start it with `omniroute run --home {settings.home}`, then {action}")


def require_server(settings: Settings, action: str) -> Server:
    server = find_server(settings)
    if server is None:
        raise NoServer(no_server_message(settings, action))
    return server


def api_error(reply: httpx.Response) -> str:
    """The API's error in one line per problem (a 422 lists each field)."""
    try:
        error: dict[str, Any] = reply.json().get("error") or {}
    except ValueError:
        return f"HTTP {reply.status_code}: {reply.text[:200]}"
    details = error.get("details") or []
    if details:
        return "\n".join(f"{d.get('field')}: {d.get('message')}" for d in details)
    return str(error.get("message") or f"HTTP {reply.status_code}")
