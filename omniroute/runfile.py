"""The run file: which OmniRoute server runs on a home, so the CLI acts on that server.

`omniroute run` (and mitmdump with our addons) writes `<home>/run.json` once its listeners
are up: pid, the ports in use and the API's URL. A clean stop removes it. The CLI reads it to
reach the running server's API whatever ports it was started with; a file whose pid no longer
lives (a crash, a kill -9) is stale and ignored.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from omniroute.files import atomic_write

RUN_FILE = "run.json"


@dataclass(frozen=True, slots=True)
class RunInfo:
    pid: int
    host: str  # where a local client reaches the listeners
    api_port: int  # 0: disabled
    proxy_port: int
    bridge_port: int
    started_at: float
    version: str

    @property
    def api_url(self) -> str | None:
        return f"http://{self.host}:{self.api_port}" if self.api_port else None

    def ports(self) -> dict[str, int]:
        return {"api": self.api_port, "http-proxy": self.proxy_port, "agent-bridge": self.bridge_port}

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "apiUrl": self.api_url}


def run_file(home: Path) -> Path:
    return home / RUN_FILE


def client_host(bind_host: str) -> str:
    """The address a local client uses for a listener bound to ``bind_host``."""
    return "127.0.0.1" if bind_host in ("0.0.0.0", "", "::") else bind_host


def listener_ports(states: Iterable[Any]) -> dict[str, int]:
    """Ports of the running listeners, from `ListenerBoard.states()` (0 for the others)."""
    return {s.name: s.port for s in states if s.state == "running"}


def write(home: Path, info: RunInfo) -> None:
    atomic_write(run_file(home), json.dumps(info.to_json(), indent=2).encode(), 0o600)


def remove(home: Path, pid: int) -> None:
    """Remove the run file if it is ``pid``'s (another instance on this home may have replaced it)."""
    info = read_raw(home)
    if info is not None and info.pid == pid:
        with contextlib.suppress(OSError):
            run_file(home).unlink()


def read_raw(home: Path) -> RunInfo | None:
    """The run file as written, stale or not; None when absent or unreadable."""
    try:
        data = json.loads(run_file(home).read_text())
        return RunInfo(
            pid=int(data["pid"]), host=str(data["host"]), api_port=int(data["api_port"]),
            proxy_port=int(data["proxy_port"]), bridge_port=int(data["bridge_port"]),
            started_at=float(data["started_at"]), version=str(data.get("version", "")),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def pid_alive(pid: int) -> bool:
    if sys.platform == "win32":  # pragma: no cover - os.kill(pid, 0) would send CTRL_C_EVENT there
        return True  # the API's answer (or not) decides
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's (a server started with sudo)
        return True
    return True


def read(home: Path) -> tuple[RunInfo | None, RunInfo | None]:
    """(the live server's info, a stale file's info): at most one of them is set."""
    info = read_raw(home)
    if info is None:
        return None, None
    return (info, None) if pid_alive(info.pid) else (None, info)
