"""Runtime control of the proxy side: listeners on/off, upstream CA, CA regeneration.

Everything here goes through `Runtime.proxy_host` (set by the mitmproxy addon that hosts
us), so the API changes mitmproxy's own options and never imports mitmproxy.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omniroute.bridge.ca import CAInfo, find_system_bundle, validate_upstream_ca
from omniroute.db.kv import kv_get, kv_set
from omniroute.listeners import Listener, bridge_mode, port_problem, serves

if TYPE_CHECKING:
    from omniroute.runtime import ListenerState, ProxyHost, Runtime

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


def _host(runtime: Runtime) -> ProxyHost:
    if runtime.proxy_host is None:
        raise ProxyUnavailable("the proxy listeners are not hosted in this process")
    return runtime.proxy_host


def listener_port(runtime: Runtime, name: str) -> int:
    if name not in PROXY_LISTENERS:
        raise ControlError(f"unknown listener {name!r}; one of {', '.join(PROXY_LISTENERS)}")
    s = runtime.settings
    return s.proxy_port if name == "http-proxy" else s.bridge_port


def mode_spec(name: str, port: int) -> str:
    """The mitmproxy `mode` entry of one of our listeners (same strings as `proxy_modes`)."""
    return f"regular@{port}" if name == "http-proxy" else bridge_mode(port)


def listener_state(runtime: Runtime, name: str) -> ListenerState:
    return next(l for l in runtime.listener_states() if l.name == name)


async def set_listener(runtime: Runtime, name: str, running: bool) -> ListenerState:
    """Start or stop one proxy listener now; ListenerConflict names the port when it is taken."""
    port = listener_port(runtime, name)
    host = _host(runtime)
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
        runtime.listeners[name].state, runtime.listeners[name].error = "stopped", None
        return listener_state(runtime, name)
    if others != modes and listener_state(runtime, name).state == "running":
        return listener_state(runtime, name)
    # Checked first so the answer names the port, instead of a mitmproxy log line.
    problem = port_problem(runtime.settings.host, Listener(name, port, _FLAGS[name]))
    if problem:
        raise ListenerConflict(problem)
    await host.update_options(mode=[*others, spec])
    state = listener_state(runtime, name)
    if state.state != "running":
        # Lost a race for the port: take the failed mode out again so the state stays honest.
        await host.update_options(mode=[m for m in host.option("mode") if str(m) != spec])
        raise ListenerConflict(f"port {port} for the {name} listener could not be bound: {state.error}")
    runtime.listener_started_at[name] = time.time()
    return state


async def restart_listener(runtime: Runtime, name: str) -> ListenerState:
    await set_listener(runtime, name, False)
    return await set_listener(runtime, name, True)


# -- upstream CA (corporate TLS inspection) ----------------------------------------------
def upstream_ca_path(runtime: Runtime) -> str | None:
    value = kv_get(runtime.db, UPSTREAM_CA_KEY)
    return str(value) if value else None


def _write_upstream_bundle(runtime: Runtime, ca_file: str) -> Path:
    # mitmproxy's trusted-CA option replaces its default store, so keep the public roots
    # next to the corporate CA: hosts outside the corporate proxy must still verify.
    system = find_system_bundle()
    parts = [system.read_bytes() if system else b"", Path(ca_file).read_bytes()]
    bundle = runtime.settings.certs_dir / UPSTREAM_BUNDLE
    bundle.write_bytes(b"\n".join(p.rstrip(b"\n") for p in parts if p) + b"\n")
    return bundle


async def set_upstream_ca(runtime: Runtime, path: str | None) -> dict[str, Any]:
    """Validate, store and apply; UpstreamCAError (a ValueError) when the file is unusable."""
    bundle: Path | None = None
    if path:
        validate_upstream_ca(path)
        bundle = await asyncio.to_thread(_write_upstream_bundle, runtime, path)
    kv_set(runtime.db, UPSTREAM_CA_KEY, path or None)
    applied = False
    if runtime.proxy_host is not None:
        await runtime.proxy_host.update_options(
            ssl_verify_upstream_trusted_ca=str(bundle) if bundle else None
        )
        applied = True
    return {"path": path or None, "bundle": str(bundle) if bundle else None, "applied": applied}


async def apply_stored_upstream_ca(runtime: Runtime) -> None:
    """At start: re-apply the saved upstream CA (skipped with a log line if it went bad)."""
    path = upstream_ca_path(runtime)
    if path:
        await set_upstream_ca(runtime, path)


# -- our CA ------------------------------------------------------------------------------
async def regenerate_ca(runtime: Runtime) -> CAInfo:
    info = await asyncio.to_thread(runtime.ca.regenerate)
    if runtime.ca.bundle_path.exists():
        await asyncio.to_thread(runtime.ca.write_bundle)  # SSL_CERT_FILE users need the new CA
    if runtime.proxy_host is not None:
        runtime.proxy_host.reload_certificates()  # new leaf certificates from the new key
    return info
