"""Bypassed hosts are never decrypted through the HTTP proxy listener either.

``test_bridge_dns_mode.py`` proves it for the SNI-routed listener (DNS mode) with one default
host. Here an agent or browser configured with ``HTTPS_PROXY`` opens ``CONNECT`` tunnels: one
host of each default category (identity provider, government, bank, payments) and a user
pattern reach the upstream with its own certificate — OmniRoute's CA never signs for them —
while an agent host through the same listener is decrypted (the control).

``CONNECT www.paypal.com:443`` with SNI ``api.anthropic.com`` (an agent host) used to get a leaf
for both names from our CA, and the inspector captured the decrypted call: every name of a
connection must now be one we may decrypt; a mismatch, or no name at all, is tunnelled.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator

import pytest

from tests.support.fake_upstream import FakeDNS, TLSUpstream
from tests.support.harness import OmniRouteProcess, wait_until

from .bridge_support import stand_in_upstream, tunnel_handshake

INSPECTOR = "/api/tools/traffic-inspector/requests"
BYPASSED = ["accounts.google.com", "www.irs.gov", "secure.chase.com", "www.paypal.com", "vault.corp.example"]
AGENT_HOST = "api.openai.com"


@pytest.fixture(scope="module")
def upstream() -> Iterator[TLSUpstream]:
    with stand_in_upstream() as server:
        yield server


@pytest.fixture(scope="module")
def proxy(upstream: TLSUpstream) -> Iterator[OmniRouteProcess]:
    # Real DNS (the stand-in) points every name at the upstream, for CONNECTs by name.
    with FakeDNS(upstream.host) as dns, OmniRouteProcess(bridge=False, env=dns.env()) as process, process.api() as api:
        api.post("/api/tools/agent-bridge/upstream-ca", json={"path": str(upstream.ca_file)}).raise_for_status()
        api.put("/api/tools/agent-bridge/bypass", json={"patterns": ["corp.example"]}).raise_for_status()
        yield process


@pytest.mark.parametrize("host", BYPASSED)
def test_bypassed_hosts_are_tunnelled_through_the_proxy_undecrypted(
    proxy: OmniRouteProcess, upstream: TLSUpstream, host: str
) -> None:
    upstream.clear()
    own = ssl.create_default_context(cafile=str(upstream.ca_file))
    own.check_hostname = False  # its leaf names other hosts; the certificate itself is the proof
    assert tunnel_handshake(proxy, upstream.host, host, own) == upstream.leaf_der
    assert upstream.requests_to("/v1/models")[0]["headers"]["host"] == host
    with pytest.raises(ssl.SSLCertVerificationError):  # OmniRoute's CA never signed for it
        tunnel_handshake(proxy, upstream.host, host, proxy.ssl_context())


def test_an_agent_host_through_the_same_proxy_is_decrypted(proxy: OmniRouteProcess, upstream: TLSUpstream) -> None:
    peer = tunnel_handshake(proxy, upstream.host, AGENT_HOST, proxy.ssl_context())
    assert peer != upstream.leaf_der  # OmniRoute's own leaf: the control for the test above


# -- the CA signs only for what it may: a CONNECT and an SNI that disagree --------------------
def captured(proxy: OmniRouteProcess, hosts: set[str | None]) -> list[str]:
    """Ids of the inspector's rows for ``hosts``."""
    with proxy.api() as api:
        rows = api.get(INSPECTOR, params={"limit": 500}).json()["requests"]
    return [row["id"] for row in rows if row["host"] in hosts]


@pytest.mark.parametrize(("connect_to", "sni"), [
    ("www.paypal.com", "api.anthropic.com"),  # a bypassed host behind an agent's name
    ("intranet.example.net", "api.openai.com"),  # any other name behind an agent's name
    ("www.paypal.com", None),  # no SNI: decided by the CONNECT, which is bypassed
])
def test_a_connect_and_sni_that_disagree_are_never_decrypted(
    proxy: OmniRouteProcess, upstream: TLSUpstream, connect_to: str, sni: str | None
) -> None:
    upstream.clear()
    before = captured(proxy, {connect_to, sni})
    own = ssl.create_default_context(cafile=str(upstream.ca_file))
    own.check_hostname = False  # its leaf names other hosts; the certificate itself is the proof
    assert tunnel_handshake(proxy, connect_to, sni, own) == upstream.leaf_der
    # The call reached the upstream as the client sent it, through an untouched tunnel ...
    assert upstream.requests_to("/v1/models")[0]["headers"]["host"] == (sni or connect_to)
    # ... our CA signed nothing for it ...
    ours = proxy.ssl_context()
    ours.check_hostname = False
    with pytest.raises(ssl.SSLCertVerificationError):
        tunnel_handshake(proxy, connect_to, sni, ours)
    # ... and nothing was decrypted, so nothing was captured: once a decrypted call made after
    # them is in the inspector, theirs would be too.
    control = "api.openai.com" if "api.anthropic.com" in (connect_to, sni) else "api.anthropic.com"
    seen = len(captured(proxy, {control}))
    assert tunnel_handshake(proxy, control, control, proxy.ssl_context()) != upstream.leaf_der
    wait_until(lambda: len(captured(proxy, {control})) > seen, 30, f"the control call to {control} captured")
    assert captured(proxy, {connect_to, sni}) == before


def test_a_matching_agent_connect_is_still_decrypted(proxy: OmniRouteProcess, upstream: TLSUpstream) -> None:
    """The control: the same proxy decrypts an agent host named the same in CONNECT and SNI."""
    assert tunnel_handshake(proxy, "api.anthropic.com", "api.anthropic.com", proxy.ssl_context()) != upstream.leaf_der
