"""The three listeners and how they map onto mitmproxy proxy modes and ports."""

from __future__ import annotations

import errno
import socket
import time
from dataclasses import dataclass
from typing import Any, Protocol

from omniroute.config import Settings

# The DNS-mode listener is a reverse proxy whose real upstream comes from each connection's
# TLS SNI; this placeholder target is replaced per connection and never contacted.
BRIDGE_PLACEHOLDER = "omniroute-bridge.invalid"


@dataclass(frozen=True, slots=True)
class Listener:
    name: str  # api | http-proxy | agent-bridge
    port: int
    flag: str  # the CLI flag that changes it


@dataclass(slots=True)
class ListenerState:
    """One listener as `/health` reports it."""

    name: str  # api | http-proxy | agent-bridge
    port: int
    state: str = "stopped"  # stopped | starting | running | disabled | error
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "port": self.port, "state": self.state, "error": self.error}


class ProxyHost(Protocol):
    """What the API needs of the mitmproxy master hosting us, without importing mitmproxy."""

    def option(self, name: str) -> Any: ...

    async def update_options(self, **options: Any) -> None:
        """Set options; returns once the proxy listeners follow a changed `mode`."""

    def reload_certificates(self) -> None: ...

    def active_connections(self) -> int: ...

    def listener_states(self) -> list[ListenerState]:
        """The proxy listeners as mitmproxy runs them right now."""
        ...


class ListenerBoard:
    """The listeners' states, and the mitmproxy host running the proxy ones (set by the addon
    that hosts us; None when the API runs alone)."""

    def __init__(self, settings: Settings, started_at: float | None = None) -> None:
        self.started_at = time.time() if started_at is None else started_at
        self.listeners = {
            listener.name: ListenerState(listener.name, listener.port, "stopped" if listener.port else "disabled")
            for listener in listeners(settings)
        }
        # When each listener last started (the API can restart the proxy listeners).
        self.started: dict[str, float] = {
            name: self.started_at for name, state in self.listeners.items() if state.port
        }
        self.host: ProxyHost | None = None
        # TLS interception (capture mode `tls-intercept`): when False the AgentBridge addon sets
        # `ignore_connection` in `tls_clienthello`, so nothing is decrypted (tunnels still listed).
        self.tls_intercept = True

    def states(self) -> list[ListenerState]:
        """The API listener plus the proxy listeners as mitmproxy reports them right now."""
        proxies = self.host.listener_states() if self.host is not None else []
        names = {p.name for p in proxies}
        static = [l for n, l in self.listeners.items() if n == "api" or n not in names]
        return static + proxies

    def state(self, name: str) -> ListenerState:
        return next(l for l in self.states() if l.name == name)


def listeners(settings: Settings) -> list[Listener]:
    return [
        Listener("api", settings.api_port, "--api-port"),
        Listener("http-proxy", settings.proxy_port, "--proxy-port"),
        Listener("agent-bridge", settings.bridge_port, "--bridge-port"),
    ]


def bridge_mode(port: int) -> str:
    """The mitmproxy `mode` of the DNS-mode listener on ``port``."""
    return f"reverse:https://{BRIDGE_PLACEHOLDER}@{port}"


def proxy_modes(settings: Settings) -> list[str]:
    """mitmproxy `mode` specs for the enabled proxy listeners (a port of 0 disables one)."""
    modes = []
    if settings.proxy_port:
        modes.append(f"regular@{settings.proxy_port}")
    if settings.bridge_port:
        modes.append(bridge_mode(settings.bridge_port))
    return modes


def is_bridge_mode(mode_data: str | None) -> bool:
    return bool(mode_data) and BRIDGE_PLACEHOLDER in str(mode_data)


def serves(name: str, spec: str) -> bool:
    """Whether the mitmproxy `mode` ``spec`` is the listener ``name`` (http-proxy | agent-bridge),
    as `omniroute run` writes it (`regular@8080`) or a mitmdump user does (`regular`)."""
    if name == "agent-bridge":
        return is_bridge_mode(spec)
    return spec == "regular" or spec.startswith("regular@")


def port_problem(host: str, listener: Listener) -> str | None:
    """One line naming the port and the flag to change it, or None when it can be bound."""
    if not listener.port:
        return None
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, listener.port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                why = "is already in use"
            elif exc.errno == errno.EACCES:
                why = "needs privileges (ports below 1024 do)"
            else:
                why = f"cannot be bound ({exc.strerror})"
            return (
                f"port {listener.port} for the {listener.name} listener {why}; "
                f"choose another with {listener.flag} PORT, or {listener.flag} 0 to disable it"
            )
    return None
