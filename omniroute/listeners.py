"""The three listeners and how they map onto mitmproxy proxy modes and ports."""

from __future__ import annotations

import errno
import socket
from dataclasses import dataclass

from omniroute.config import Settings

# The DNS-mode listener is a reverse proxy whose real upstream comes from each connection's
# TLS SNI; this placeholder target is replaced per connection and never contacted.
BRIDGE_PLACEHOLDER = "omniroute-bridge.invalid"


@dataclass(frozen=True, slots=True)
class Listener:
    name: str  # api | http-proxy | agent-bridge
    port: int
    flag: str  # the CLI flag that changes it


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
