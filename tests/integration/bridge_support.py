"""Stand-ins the AgentBridge integration tests share: the agents' "real" upstream, and an
OmniRoute whose HTTP_PROXY listener routes agents to the mock provider."""

from __future__ import annotations

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
        for agent, rules in mappings.items():
            process.map_models(agent, dict(rules))
        yield process


def proxy_client(omni: OmniRouteProcess) -> httpx.Client:
    """An HTTP client sent through the HTTP_PROXY listener, trusting OmniRoute's CA."""
    context = ssl.create_default_context(cafile=str(omni.ca_cert))
    return httpx.Client(proxy=omni.proxy_url, verify=context, trust_env=False, timeout=30)


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
