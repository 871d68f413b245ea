"""Bypassed hosts are never decrypted through the HTTP proxy listener either.

``test_bridge_dns_mode.py`` proves it for the SNI-routed listener (DNS mode) with one default
host. Here an agent or browser configured with ``HTTPS_PROXY`` opens ``CONNECT`` tunnels: one
host of each default category (identity provider, government, bank, payments) and a user
pattern reach the upstream with its own certificate — OmniRoute's CA never signs for them —
while an agent host through the same listener is decrypted (the control).
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator

import pytest

from tests.support.fake_upstream import TLSUpstream
from tests.support.harness import OmniRouteProcess

from .bridge_support import stand_in_upstream

BYPASSED = ["accounts.google.com", "www.irs.gov", "secure.chase.com", "www.paypal.com", "vault.corp.example"]
AGENT_HOST = "api.openai.com"


@pytest.fixture(scope="module")
def upstream() -> Iterator[TLSUpstream]:
    with stand_in_upstream() as server:
        yield server


@pytest.fixture(scope="module")
def proxy(upstream: TLSUpstream) -> Iterator[OmniRouteProcess]:
    with OmniRouteProcess(bridge=False) as process, process.api() as api:
        api.post("/api/tools/agent-bridge/upstream-ca", json={"path": str(upstream.ca_file)}).raise_for_status()
        api.put("/api/tools/agent-bridge/bypass", json={"patterns": ["corp.example"]}).raise_for_status()
        yield process


def tunnel_handshake(proxy: OmniRouteProcess, upstream: TLSUpstream, sni: str, trust: ssl.SSLContext) -> bytes:
    """CONNECT to the upstream's address through the proxy, then TLS with ``sni``; the peer's
    certificate (DER)."""
    raw = socket.create_connection(("127.0.0.1", proxy.proxy_port), timeout=15)
    try:
        target = f"{upstream.host}:443"
        raw.sendall(f"CONNECT {target} HTTP/1.1\r\nhost: {target}\r\n\r\n".encode())
        reply = b""
        while b"\r\n\r\n" not in reply and len(reply) < 8192:
            reply += raw.recv(4096)
        assert reply.startswith(b"HTTP/1.1 200"), reply
        with trust.wrap_socket(raw, server_hostname=sni) as tls:
            tls.sendall(f"GET /v1/models HTTP/1.1\r\nhost: {sni}\r\nconnection: close\r\n\r\n".encode())
            assert tls.recv(4096).startswith(b"HTTP/1.1 200")
            peer = tls.getpeercert(binary_form=True)
    finally:
        raw.close()
    assert peer is not None
    return peer


@pytest.mark.parametrize("host", BYPASSED)
def test_bypassed_hosts_are_tunnelled_through_the_proxy_undecrypted(
    proxy: OmniRouteProcess, upstream: TLSUpstream, host: str
) -> None:
    upstream.clear()
    own = ssl.create_default_context(cafile=str(upstream.ca_file))
    own.check_hostname = False  # its leaf names other hosts; the certificate itself is the proof
    assert tunnel_handshake(proxy, upstream, host, own) == upstream.leaf_der
    assert upstream.requests_to("/v1/models")[0]["headers"]["host"] == host
    with pytest.raises(ssl.SSLCertVerificationError):  # OmniRoute's CA never signed for it
        tunnel_handshake(proxy, upstream, host, proxy.ssl_context())


def test_an_agent_host_through_the_same_proxy_is_decrypted(proxy: OmniRouteProcess, upstream: TLSUpstream) -> None:
    peer = tunnel_handshake(proxy, upstream, AGENT_HOST, proxy.ssl_context())
    assert peer != upstream.leaf_der  # OmniRoute's own leaf: the control for the test above
