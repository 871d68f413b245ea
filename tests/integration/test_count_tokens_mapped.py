"""Anthropic `count_tokens` counted by the provider a model goes to, or estimated, and saying so.

Claude Code asks `POST /v1/messages/count_tokens` on api.anthropic.com. Under a mapping it was
passed through to that host (offline: a 502); now the mapped provider's own counter answers
(Anthropic's count_tokens, Gemini's countTokens), or the count is estimated locally when the
provider has none or cannot be reached. `x-omniroute-token-count` says which. The same holds
for `/v1/messages/count_tokens` on our API, with the official Anthropic SDK.
"""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import pytest

from tests.support.fake_upstream import TLSUpstream
from tests.support.harness import OmniRouteProcess, free_port
from tests.support.mock_provider import MockProvider

from .bridge_support import proxied_omniroute, proxy_client, upstream_fixture  # noqa: F401 - fixture

COUNT = "https://api.anthropic.com/v1/messages/count_tokens?beta=true"
BODY = {"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "count these five words"}],
        "system": "be brief"}
CLAUDE_CODE = {"user-agent": "claude-cli/2.1.0 (external, cli)", "x-api-key": "sk-ant-agent-own",
               "anthropic-version": "2023-06-01"}


@pytest.fixture(scope="module")
def omni(upstream: TLSUpstream, mock_provider: MockProvider) -> Iterator[OmniRouteProcess]:
    with proxied_omniroute(upstream, mock_provider, {}) as process:
        process.add_provider("anthropic", "ant", mock_provider.url, api_key="sk-ant-count-0001")
        process.add_provider("gemini", "gem", mock_provider.url, api_key="sk-gem-count-0001")
        process.add_provider("anthropic", "dead", f"http://127.0.0.1:{free_port()}", api_key="sk-ant-dead-0001")
        yield process


@pytest.mark.parametrize(("target", "how", "counter"), [
    ("ant/claude-counted", "upstream", "/v1/messages/count_tokens"),
    ("gem/gemini-counted", "upstream", "/v1beta/models/gemini-counted:countTokens"),
    ("mock/gpt-counted", "estimated", None),  # an OpenAI-format provider has no counter
    ("dead/claude-offline", "estimated", None),  # unreachable: estimated, not a 502
])
def test_claude_code_count_tokens_under_a_mapping(
    omni: OmniRouteProcess, mock: MockProvider, upstream: TLSUpstream, target: str, how: str, counter: str | None
) -> None:
    omni.map_models("claude-code", {"*": target})
    upstream.clear()
    try:
        with proxy_client(omni) as client:
            reply = client.post(COUNT, json=BODY, headers=CLAUDE_CODE)
    finally:
        omni.map_models("claude-code", {})
    assert reply.status_code == 200, reply.text
    assert reply.headers["x-omniroute-token-count"] == how
    assert reply.json()["input_tokens"] > 0
    assert upstream.requests == []  # api.anthropic.com was not asked
    asked = [r for r in mock.requests if "count" in r["path"].lower()]
    if counter is None:
        assert asked == []
    else:
        assert [r["path"] for r in asked] == [counter]
        assert reply.json()["input_tokens"] == 6  # the mock counts words: system and message
    with omni.api() as api:
        rows = api.get("/api/tools/traffic-inspector/requests", params={"agent": "claude-code"}).json()["requests"]
    assert (rows[0]["path"], rows[0]["status"], rows[0]["mappedModel"]) == (
        "/v1/messages/count_tokens", 200, target)


def test_unmapped_count_tokens_still_reaches_the_agents_host(omni: OmniRouteProcess, upstream: TLSUpstream) -> None:
    upstream.clear()
    with proxy_client(omni) as client:
        client.post(COUNT, json=BODY, headers=CLAUDE_CODE)
    assert [r["path"] for r in upstream.requests] == ["/v1/messages/count_tokens"]


@pytest.mark.parametrize(("model", "how"), [("ant/claude-sdk", "upstream"), ("gem/gemini-sdk", "upstream"),
                                            ("claude-not-configured", "estimated")])
def test_the_api_counts_with_the_official_sdk(omni: OmniRouteProcess, mock: MockProvider, model: str, how: str) -> None:
    client = anthropic.Anthropic(base_url=omni.api_url, api_key="unused", max_retries=0)
    raw = client.messages.with_raw_response.count_tokens(
        model=model, system="be brief", messages=[{"role": "user", "content": "count these five words"}])
    assert raw.headers["x-omniroute-token-count"] == how
    counted = raw.parse().input_tokens
    assert counted > 0
    if how == "upstream":
        assert counted == 6  # the mock's count (it counts words), not our estimate
