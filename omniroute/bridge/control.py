"""Runtime control of the proxy side: listeners on/off, upstream CA, CA regeneration.

Everything goes through the listener board's `host` (set by the mitmproxy addon that hosts
us), so the API changes mitmproxy's own options and never imports mitmproxy.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from omniroute.bridge.ca import (
    CAInfo,
    CertificateAuthority,
    find_system_bundle,
    validate_upstream_ca,
)
from omniroute.config import Settings
from omniroute.db.store import Store
from omniroute.listeners import Listener, ListenerBoard, ListenerState, ProxyHost, bridge_mode, port_problem, serves

PROXY_LISTENERS = ("http-proxy", "agent-bridge")
UPSTREAM_CA_KEY = "bridge.upstream_ca"
UPSTREAM_BUNDLE = "upstream-ca-bundle.pem"
_FLAGS = {"http-proxy": "--proxy-port", "agent-bridge": "--bridge-port"}


class ControlError(Exception):
    """A control action that cannot be done; `status` is the HTTP status to answer with."""

    status = 400


class ListenerConflict(ControlError):
    status = 409


class ProxyUnavailable(ControlError):
    status = 503


def mode_spec(name: str, port: int) -> str:
    """The mitmproxy `mode` entry of one of our listeners (same strings as `proxy_modes`)."""
    return f"regular@{port}" if name == "http-proxy" else bridge_mode(port)


class ProxyControl:
    def __init__(self, settings: Settings, board: ListenerBoard, store: Store, ca: CertificateAuthority) -> None:
        self._settings = settings
        self._board = board
        self._store = store
        self._ca = ca

    def _host(self) -> ProxyHost:
        if self._board.host is None:
            raise ProxyUnavailable("the proxy listeners are not hosted in this process")
        return self._board.host

    def listener_port(self, name: str) -> int:
        if name not in PROXY_LISTENERS:
            raise ControlError(f"unknown listener {name!r}; one of {', '.join(PROXY_LISTENERS)}")
        s = self._settings
        return s.proxy_port if name == "http-proxy" else s.bridge_port

    async def set_listener(self, name: str, running: bool) -> ListenerState:
        """Start or stop one proxy listener now; ListenerConflict names the port when it is taken."""
        port = self.listener_port(name)
        host = self._host()
        board = self._board
        if not port:
            raise ControlError(
                f"the {name} listener is disabled (port 0); restart OmniRoute with {_FLAGS[name]} PORT"
            )
        spec = mode_spec(name, port)
        modes = [str(m) for m in host.option("mode")]
        others = [m for m in modes if not serves(name, m)]
        if not running:
            if others != modes:
                await host.update_options(mode=others)
            board.listeners[name].state, board.listeners[name].error = "stopped", None
            return board.state(name)
        if others != modes and board.state(name).state == "running":
            return board.state(name)
        # Checked first so the answer names the port, instead of a mitmproxy log line.
        problem = port_problem(self._settings.host, Listener(name, port, _FLAGS[name]))
        if problem:
            raise ListenerConflict(problem)
        await host.update_options(mode=[*others, spec])
        state = board.state(name)
        if state.state != "running":
            # Lost a race for the port: take the failed mode out again so the state stays honest.
            await host.update_options(mode=[m for m in host.option("mode") if str(m) != spec])
            raise ListenerConflict(f"port {port} for the {name} listener could not be bound: {state.error}")
        board.started[name] = time.time()
        return state

    async def restart_listener(self, name: str) -> ListenerState:
        await self.set_listener(name, False)
        return await self.set_listener(name, True)

    # -- upstream CA (corporate TLS inspection) ------------------------------------------
    async def upstream_ca_path(self) -> str | None:
        value = await self._store.get_setting(UPSTREAM_CA_KEY)
        return str(value) if value else None

    def applied_upstream_bundle(self) -> str | None:
        host = self._board.host
        return host.option("ssl_verify_upstream_trusted_ca") if host is not None else None

    def _write_upstream_bundle(self, ca_file: str) -> Path:
        # mitmproxy's trusted-CA option replaces its default store, so keep the public roots
        # next to the corporate CA: hosts outside the corporate proxy must still verify.
        system = find_system_bundle()
        parts = [system.read_bytes() if system else b"", Path(ca_file).read_bytes()]
        bundle = self._settings.certs_dir / UPSTREAM_BUNDLE
        bundle.write_bytes(b"\n".join(p.rstrip(b"\n") for p in parts if p) + b"\n")
        return bundle

    async def set_upstream_ca(self, path: str | None) -> dict[str, Any]:
        """Validate, store and apply; UpstreamCAError (a ValueError) when the file is unusable."""
        bundle: Path | None = None
        if path:
            validate_upstream_ca(path)
            bundle = await asyncio.to_thread(self._write_upstream_bundle, path)
        await self._store.set_setting(UPSTREAM_CA_KEY, path or None)
        applied = False
        if self._board.host is not None:
            await self._board.host.update_options(
                ssl_verify_upstream_trusted_ca=str(bundle) if bundle else None
            )
            applied = True
        return {"path": path or None, "bundle": str(bundle) if bundle else None, "applied": applied}

    async def apply_stored_upstream_ca(self) -> None:
        """At start: re-apply the saved upstream CA (skipped with a log line if it went bad)."""
        path = await self.upstream_ca_path()
        if path:
            await self.set_upstream_ca(path)

    # -- our CA --------------------------------------------------------------------------
    async def regenerate_ca(self) -> CAInfo:
        info = await asyncio.to_thread(self._ca.regenerate)
        if self._ca.bundle_path.exists():
            await asyncio.to_thread(self._ca.write_bundle)  # SSL_CERT_FILE users need the new CA
        if self._board.host is not None:
            self._board.host.reload_certificates()  # new leaf certificates from the new key
        return info
