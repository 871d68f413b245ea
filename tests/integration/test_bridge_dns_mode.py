"""DNS mode: agents whose hosts file points their API host at us reach the SNI-routed listener.

A client connects to 127.0.0.1:<bridge-port> with SNI and Host `api.anthropic.com` (what an
agent does after `omniroute dns claude-code on`). Mapped calls are routed to the engine;
unmapped calls, bypassed hosts and hosts of no agent reach the "real" upstream (a local TLS
server found through a local upstream DNS server), the last two without decryption.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator

import httpx
import pytest

from tests.support.fake_upstream import (
    FakeDNS,
    PinnedHTTPSConnection,
    TLSUpstream,
)
from tests.support.harness import OmniRouteProcess
from tests.support.mock_provider import MockProvider

from .bridge_support import upstream_fixture  # noqa: F401 - fixture

PROMPT = "hello through the hosts file"


@pytest.fixture(scope="module")
def fake_dns(upstream: TLSUpstream) -> Iterator[FakeDNS]:
    # chatgpt.com: real DNS answering with the address the hosts file sends agents to.
    # nowhere.example.test: no route, real DNS has no such domain.
    answers = {"loop.example.test": "127.0.0.1", "chatgpt.com": "127.0.0.1", "nowhere.example.test": None}
    with FakeDNS(upstream.host, answers) as server:  # type: ignore[arg-type]
        yield server


@pytest.fixture(scope="module")
def bridge(upstream: TLSUpstream, fake_dns: FakeDNS, mock_provider: MockProvider) -> Iterator[OmniRouteProcess]:
    with OmniRouteProcess(env=fake_dns.env()) as process:
        with process.api() as api:
            api.post("/api/tools/agent-bridge/upstream-ca", json={"path": str(upstream.ca_file)}).raise_for_status()
            api.put("/api/tools/agent-bridge/bypass", json={"patterns": ["bypass.example.test"]}).raise_for_status()
        process.add_provider("openai", "mock", f"{mock_provider.url}/v1", api_key="sk-test-provider-key-0001")
        process.map_models("claude-code", {"*": "mock/gpt-mapped"})
        yield process


def _ours(bridge: OmniRouteProcess) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(bridge.ca_cert))


def _post(bridge: OmniRouteProcess, host: str, path: str, body: dict, context: ssl.SSLContext) -> tuple[int, bytes, PinnedHTTPSConnection]:
    conn = PinnedHTTPSConnection(host, ("127.0.0.1", bridge.bridge_port), context)
    conn.request("POST", path, json.dumps(body), {"content-type": "application/json", "x-api-key": "sk-ant-agent-own"})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, data, conn


def _rows(bridge: OmniRouteProcess, **params: str) -> list[dict]:
    with bridge.api() as api:
        return api.get("/api/tools/traffic-inspector/requests", params=params).json()["requests"]


def test_mapped_call_through_dns_mode_is_routed(bridge: OmniRouteProcess, mock: MockProvider) -> None:
    body = {"model": "claude-sonnet-4-5", "max_tokens": 64, "messages": [{"role": "user", "content": PROMPT}]}
    status, data, _ = _post(bridge, "api.anthropic.com", "/v1/messages?beta=true", body, _ours(bridge))
    assert status == 200, data
    message = json.loads(data)
    assert message["type"] == "message" and message["content"][0]["text"] == f"mock reply from gpt-mapped: {PROMPT}"
    assert [r["body"]["model"] for r in mock.requests_to("/v1/chat/completions")] == ["gpt-mapped"]
    row = _rows(bridge, agent="claude-code")[0]
    assert (row["source"], row["host"], row["sourceModel"], row["mappedModel"]) == (
        "agent-bridge", "api.anthropic.com", "claude-sonnet-4-5", "mock/gpt-mapped"
    )


def test_mapped_stream_through_dns_mode(bridge: OmniRouteProcess, mock: MockProvider) -> None:
    body = {"model": "claude-haiku", "max_tokens": 64, "stream": True,
            "messages": [{"role": "user", "content": PROMPT}]}
    status, data, _ = _post(bridge, "api.anthropic.com", "/v1/messages", body, _ours(bridge))
    assert status == 200
    events = [json.loads(line[6:]) for line in data.decode().splitlines() if line.startswith("data: ")]
    text = "".join(e["delta"].get("text", "") for e in events if e["type"] == "content_block_delta")
    assert text == f"mock reply from gpt-mapped: {PROMPT}"
    assert events[-1]["type"] == "message_stop"


def test_unmapped_call_reaches_the_real_upstream_unchanged(
    bridge: OmniRouteProcess, upstream: TLSUpstream, fake_dns: FakeDNS
) -> None:
    upstream.clear()
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": PROMPT}]}
    status, data, _ = _post(bridge, "api.openai.com", "/v1/chat/completions", body, _ours(bridge))
    assert status == 200, data
    assert json.loads(data)["choices"][0]["message"]["content"] == f"mock reply from gpt-4o: {PROMPT}"
    seen = upstream.requests_to("/v1/chat/completions")
    assert len(seen) == 1 and seen[0]["body"] == body
    assert seen[0]["headers"]["host"] == "api.openai.com"
    assert seen[0]["headers"]["x-api-key"] == "sk-ant-agent-own"  # the agent's own credentials, untouched
    assert ("api.openai.com", "A") in fake_dns.queries  # real DNS, not the hosts file
    row = _rows(bridge, agent="codex")[0]
    assert row["note"] == "unmapped" and row["sourceModel"] == "gpt-4o" and row["mappedModel"] is None


# login.microsoftonline.com: default bypass list; bypass.example.test: the user's pattern;
# unknown.example.test: no agent uses it, and DNS mode decrypts only agents' hosts.
@pytest.mark.parametrize("host", ["login.microsoftonline.com", "bypass.example.test", "unknown.example.test"])
def test_bypassed_and_unknown_hosts_are_tunnelled_without_decryption(
    bridge: OmniRouteProcess, upstream: TLSUpstream, host: str
) -> None:
    upstream.clear()
    # Trusting only the upstream's own CA: the handshake succeeds only if OmniRoute did not
    # put its own certificate in between.
    own = ssl.create_default_context(cafile=str(upstream.ca_file))
    status, _, conn = _post(bridge, host, "/v1/chat/completions", {"model": "x", "messages": []}, own)
    assert conn.peer_der == upstream.leaf_der
    assert status == 200 and upstream.requests_to("/v1/chat/completions")[0]["headers"]["host"] == host
    with pytest.raises(ssl.SSLCertVerificationError):
        _post(bridge, host, "/", {}, _ours(bridge))


def test_loop_back_to_ourselves_gets_508(bridge: OmniRouteProcess) -> None:
    # Upstream DNS says loop.example.test is 127.0.0.1: a call to it on one of our own ports
    # would come straight back in.
    with httpx.Client(proxy=bridge.proxy_url, verify=bridge.ssl_context(), trust_env=False, timeout=10) as client:
        plain = client.get(f"http://loop.example.test:{bridge.proxy_port}/")
        tls = client.get(f"https://loop.example.test:{bridge.bridge_port}/")
    assert plain.status_code == 508 and "loop" in plain.text
    assert tls.status_code == 508 and "OmniRoute itself" in tls.text


def test_dns_mode_upstream_at_the_address_agents_arrive_on_gets_508(bridge: OmniRouteProcess) -> None:
    # The client reached the DNS-mode listener on 127.0.0.1; port 443 there is where the hosts
    # file sends agents, so us (bound there or port-forwarded) although this listener is bound
    # to another port: passing the call through would come straight back in.
    body = {"model": "gpt-5", "input": []}
    status, data, _ = _post(bridge, "chatgpt.com", "/backend-api/codex/responses", body, _ours(bridge))
    assert status == 508 and b"chatgpt.com resolves to 127.0.0.1, which is OmniRoute itself" in data


def test_a_host_with_no_route_gets_a_502_saying_why(bridge: OmniRouteProcess) -> None:
    # Was a TLS abort: an unknown host is tunnelled undecrypted, and the tunnel had nowhere to go.
    status, data, conn = _post(bridge, "nowhere.example.test", "/v1/chat/completions", {"model": "x"}, _ours(bridge))
    assert conn.peer_der is not None  # the handshake completed, with our certificate (trusted by _ours)
    assert status == 502
    assert b"nowhere.example.test" in data and b"no such domain" in data
    row = _rows(bridge, host="nowhere.example.test")[0]
    assert (row["status"], row["path"]) == (502, "/v1/chat/completions")
