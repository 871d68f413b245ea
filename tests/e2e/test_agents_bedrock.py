"""The real Claude Code CLI through the HTTP_PROXY listener with `*` mapped to an Amazon
Bedrock connection: OmniRoute sends its Anthropic Messages calls to Claude on Bedrock as signed
InvokeModelWithResponseStream calls (Anthropic's body, as Claude Code itself would on Bedrock)
to the Bedrock stand-in, which verifies each SigV4 signature with botocore."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_agents_cli import agent_bin, fake_dns, rows, run_claude  # noqa: F401 - fixtures
from tests.integration.bridge_support import upstream_fixture  # noqa: F401 - fixture
from tests.support.fake_upstream import FakeDNS, TLSUpstream
from tests.support.harness import OmniRouteProcess
from tests.support.mock_provider import MockProvider
from tests.support.standin_bedrock import BedrockStandIn

pytestmark = pytest.mark.e2e

MODEL = "anthropic.claude-sonnet-4-5-20250929-v1:0"
KEY, SECRET = "AKIACLAUDECODETEST01", "claude-code-bedrock-secret"


@pytest.fixture(scope="module")
def bedrock(mock_provider: MockProvider) -> Iterator[BedrockStandIn]:
    with BedrockStandIn(mock_provider.url, KEY, SECRET, region="us-west-2") as standin:
        yield standin


@pytest.fixture(scope="module")
def omni(fake_dns: FakeDNS, upstream: TLSUpstream, bedrock: BedrockStandIn) -> Iterator[OmniRouteProcess]:
    process = OmniRouteProcess(bridge=False, env=fake_dns.env()).start()
    try:
        with process.api() as api:
            api.post("/api/tools/agent-bridge/upstream-ca", json={"path": str(upstream.ca_file)}).raise_for_status()
            api.post("/api/providers", json={
                "provider": "bedrock", "name": "bedrock", "url": bedrock.url, "region": "us-west-2",
                "accessKeyId": KEY, "apiKey": SECRET,
            }).raise_for_status()
        process.map_models("claude-code", {"*": f"bedrock/{MODEL}"})
        yield process
    finally:
        process.close()


def test_claude_code_on_bedrock(omni: OmniRouteProcess, agent_bin: Path, bedrock: BedrockStandIn) -> None:
    output = run_claude(omni, agent_bin)
    print("Claude Code replied:", output["result"])
    assert output["is_error"] is False
    assert output["result"].startswith(f"mock reply from {MODEL}: ")
    assert bedrock.verified >= 1 and not bedrock.rejected
    assert any(r["path"] == f"/model/{MODEL}/invoke-with-response-stream" for r in bedrock.requests)
    calls = [r for r in rows(omni, "claude-code") if r["path"].startswith("/v1/messages") and r["mappedModel"]]
    assert calls and all(r["mappedModel"] == f"bedrock/{MODEL}" for r in calls)
