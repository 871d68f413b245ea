"""The CA signs only for what it may: a CONNECT whose ClientHello names another host is tunnelled.

``CONNECT www.paypal.com:443`` with SNI ``api.anthropic.com`` (an agent host) used to get a leaf for
both names from our CA, and the inspector captured the decrypted call. Now every name of the
connection must be one we may decrypt; a mismatch, or no name at all, is tunnelled to the real
upstream untouched (here the stand-in, which real DNS points every name at).
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator

import pytest

from omniroute.testing.fake_upstream import FakeDNS, TLSUpstream
from omniroute.testing.harness import OmniRouteProcess

from .bridge_support import stand_in_upstream

INSPECTOR = "/api/tools/traffic-inspector/requests"


@pytest.fixture(scope="module")
def upstream() -> Iterator[TLSUpstream]:
    with stand_in_upstream() as server:
        yield server


@pytest.fixture(scope="module")
def proxy(upstream: TLSUpstream) -> Iterator[OmniRouteProcess]:
    with FakeDNS(upstream.host) as dns, OmniRouteProcess(bridge=False, env=dns.env()) as process:
        with process.api() as api:
            api.post("/api/tools/agent-bridge/upstream-ca", json={"path": str(upstream.ca_file)}).raise_for_status()
        yield process


def handshake(proxy: OmniRouteProcess, connect_to: str, sni: str | None, trust: ssl.SSLContext) -> bytes:
    """CONNECT ``connect_to``:443, TLS with ``sni``, one request; the peer's certificate (DER)."""
    raw = socket.create_connection(("127.0.0.1", proxy.proxy_port), timeout=15)
    try:
        raw.sendall(f"CONNECT {connect_to}:443 HTTP/1.1\r\nhost: {connect_to}:443\r\n\r\n".encode())
        reply = b""
        while b"\r\n\r\n" not in reply and len(reply) < 8192:
            reply += raw.recv(4096)
        assert reply.startswith(b"HTTP/1.1 200"), reply
        with trust.wrap_socket(raw, server_hostname=sni) as tls:
            tls.sendall(f"GET /v1/models HTTP/1.1\r\nhost: {sni or connect_to}\r\nconnection: close\r\n\r\n".encode())
            assert tls.recv(4096).startswith(b"HTTP/1.1 200")
            peer = tls.getpeercert(binary_form=True)
    finally:
        raw.close()
    assert peer is not None
    return peer


def captured_hosts(proxy: OmniRouteProcess) -> set[str]:
    with proxy.api() as api:
        rows = api.get(INSPECTOR, params={"limit": 500}).json()["requests"]
    return {row["host"] for row in rows}


@pytest.mark.parametrize(("connect_to", "sni"), [
    ("www.paypal.com", "api.anthropic.com"),  # a bypassed host behind an agent's name
    ("intranet.corp.example", "api.openai.com"),  # any other name behind an agent's name
    ("www.paypal.com", None),  # no SNI: decided by the CONNECT, which is bypassed
])
def test_a_connect_and_sni_that_disagree_are_never_decrypted(
    proxy: OmniRouteProcess, upstream: TLSUpstream, connect_to: str, sni: str | None
) -> None:
    upstream.clear()
    own = ssl.create_default_context(cafile=str(upstream.ca_file))
    own.check_hostname = False  # its leaf names other hosts; the certificate itself is the proof
    assert handshake(proxy, connect_to, sni, own) == upstream.leaf_der
    # The call reached the upstream as the client sent it, through an untouched tunnel ...
    assert upstream.requests_to("/v1/models")[0]["headers"]["host"] == (sni or connect_to)
    # ... our CA signed nothing for it ...
    ours = proxy.ssl_context()
    ours.check_hostname = False
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(proxy, connect_to, sni, ours)
    # ... and nothing was decrypted, so nothing was captured.
    assert not captured_hosts(proxy) & {connect_to, sni}


def test_a_matching_agent_connect_is_still_decrypted(proxy: OmniRouteProcess, upstream: TLSUpstream) -> None:
    """The control: the same proxy decrypts an agent host named the same in CONNECT and SNI."""
    assert handshake(proxy, "api.anthropic.com", "api.anthropic.com", proxy.ssl_context()) != upstream.leaf_der
