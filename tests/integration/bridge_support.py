"""Stand-ins the AgentBridge integration tests share: the agents' "real" upstream, and an
OmniRoute whose HTTP_PROXY listener routes agents to the mock provider."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import httpx
import pytest

from tests.support.fake_upstream import FakeDNS, NoLoopbackAlias, TLSUpstream
from tests.support.harness import OmniRouteProcess
from tests.support.mock_provider import MockProvider


@contextmanager
def stand_in_upstream() -> Iterator[TLSUpstream]:
    """The TLS server standing in for agents' real hosts; skips where 127.0.0.N:443 is unavailable."""
    try:
        server = TLSUpstream()
    except NoLoopbackAlias as exc:
        pytest.skip(f"the stand-in upstream needs 127.0.0.N:443: {exc}")
    with server:
        yield server


@contextmanager
def proxied_omniroute(
    upstream: TLSUpstream, mock_provider: MockProvider, mappings: Mapping[str, Mapping[str, str]]
) -> Iterator[OmniRouteProcess]:
    """OmniRoute (HTTP_PROXY listener only) whose upstream DNS answers with the stand-in, with
    the mock as provider connection `mock` and ``mappings`` per agent."""
    with FakeDNS(upstream.host) as dns, OmniRouteProcess(env=dns.env(), bridge=False) as process:
        with process.api() as api:
            api.post("/api/tools/agent-bridge/upstream-ca", json={"path": str(upstream.ca_file)}).raise_for_status()
        process.add_provider("openai", "mock", f"{mock_provider.url}/v1", api_key="sk-test-provider-key-0001")
        # A target naming another connection is how a mapping looks after its connection was
        # deleted (a mapping is checked when saved): made so, then the connection removed.
        gone = {target.partition("/")[0] for rules in mappings.values() for target in rules.values()} - {"mock"}
        made = [process.add_provider("openai", name, f"{mock_provider.url}/v1", api_key="sk-gone-0001") for name in gone]
        for agent, rules in mappings.items():
            process.map_models(agent, dict(rules))
        with process.api() as api:
            for connection in made:
                api.delete(f"/api/providers/{connection['id']}").raise_for_status()
        yield process


def proxy_client(omni: OmniRouteProcess) -> httpx.Client:
    """An HTTP client sent through the HTTP_PROXY listener, trusting OmniRoute's CA."""
    context = ssl.create_default_context(cafile=str(omni.ca_cert))
    return httpx.Client(proxy=omni.proxy_url, verify=context, trust_env=False, timeout=30)


def tunnel_handshake(proxy: OmniRouteProcess, connect_to: str, sni: str | None, trust: ssl.SSLContext) -> bytes:
    """``CONNECT connect_to:443`` through the proxy, then TLS with ``sni`` and one request; the
    peer's certificate (DER)."""
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


# Module fixtures for the agent-format tests; each test module names its agents' `MAPPINGS`.
@pytest.fixture(scope="module", name="upstream")
def upstream_fixture() -> Iterator[TLSUpstream]:
    with stand_in_upstream() as server:
        yield server


@pytest.fixture(scope="module", name="omni")
def omni_fixture(
    request: pytest.FixtureRequest, upstream: TLSUpstream, mock_provider: MockProvider
) -> Iterator[OmniRouteProcess]:
    with proxied_omniroute(upstream, mock_provider, request.module.MAPPINGS) as process:
        yield process


@pytest.fixture(name="client")
def client_fixture(omni: OmniRouteProcess) -> Iterator[httpx.Client]:
    with proxy_client(omni) as c:
        yield c
