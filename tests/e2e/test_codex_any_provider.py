"""The real Codex CLI mapped to an Anthropic-format provider, over its WebSocket and over HTTPS.

Current Codex sends a warm-up (`generate: false`), its tools in an `additional_tools` item with
`namespace` tools, and chains its WebSocket requests with `previous_response_id`: each reaches
the Anthropic-format mock translated, Codex prints the mock's reply, and each response on the
socket is a row of its own in the inspector.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.agents_support import CODEX, install_agents
from tests.e2e.test_agents_cli import PROMPT, _start, agent_env, rows
from tests.integration.bridge_support import upstream_fixture  # noqa: F401 - fixture
from tests.support.fake_upstream import FakeDNS, TLSUpstream
from tests.support.harness import OmniRouteProcess
from tests.support.mock_provider import MockProvider

pytestmark = pytest.mark.e2e

# Codex's own switch for its Responses WebSocket: a model provider's `supports_websockets`
# (config.toml `[model_providers.<id>]`); this one is OpenAI's API with the switch off.
HTTPS_ONLY = [
    "-c", ('model_providers.openai-https={name="OpenAI over HTTPS", base_url="https://api.openai.com/v1", '
           'env_key="OPENAI_API_KEY", wire_api="responses", supports_websockets=false}'),
    "-c", "model_provider=openai-https",
]


@pytest.fixture(scope="session")
def agent_bin() -> Path:
    return install_agents(CODEX)


@pytest.fixture(scope="module")
def fake_dns(upstream: TLSUpstream) -> Iterator[FakeDNS]:
    with FakeDNS(upstream.host) as server:
        yield server


@pytest.fixture(scope="module")
def omni(fake_dns: FakeDNS, upstream: TLSUpstream, mock_provider: MockProvider) -> Iterator[OmniRouteProcess]:
    process = _start(fake_dns, upstream, mock_provider)
    process.add_provider("anthropic", "ant", mock_provider.url, api_key="sk-ant-test-provider-0001")
    process.map_models("codex", {"*": "ant/claude-for-codex"})
    yield process
    process.close()


def run_codex(omni: OmniRouteProcess, agent_bin: Path, *flags: str) -> str:
    env = agent_env(omni, "codex", OPENAI_API_KEY="sk-fake-openai-key-for-tests")
    result = subprocess.run([str(agent_bin / "codex"), "exec", *flags, "--skip-git-repo-check", PROMPT],
                            env=env, cwd=env["HOME"], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip()


def _anthropic_calls(mock: MockProvider) -> list[dict]:
    return [r["body"] for r in mock.requests_to("/v1/messages")]


def test_codex_over_websocket_to_an_anthropic_provider(omni: OmniRouteProcess, agent_bin: Path, mock: MockProvider) -> None:
    output = run_codex(omni, agent_bin)
    print(output)
    assert output.endswith(f"mock reply from claude-for-codex: {PROMPT}")
    calls = _anthropic_calls(mock)
    assert len(calls) == 1, "the warm-up must not reach the provider"
    names = {t["name"] for t in calls[0]["tools"]}
    assert {"exec", "clock__sleep"} <= names  # from Codex's additional_tools item and its namespaces
    captured = rows(omni, "codex")
    session = [r for r in captured if r["method"] == "GET" and r["path"] == "/v1/responses"]
    responses = [r for r in captured if r["method"] == "WS"]
    assert session and session[0]["status"] == 101
    assert len(responses) == 2 and all(r["status"] == 200 and r["error"] is None for r in responses), responses
    assert {(r["sourceModel"], r["mappedModel"], r["host"]) for r in responses} == {
        (session[0]["sourceModel"], "ant/claude-for-codex", "api.openai.com")}
    assert not [r for r in captured if r["method"] == "POST" and r["path"] == "/v1/responses"]


def test_codex_over_https_to_an_anthropic_provider(omni: OmniRouteProcess, agent_bin: Path, mock: MockProvider) -> None:
    before = {r["id"] for r in rows(omni, "codex")}
    output = run_codex(omni, agent_bin, *HTTPS_ONLY)
    print(output)
    assert output.endswith(f"mock reply from claude-for-codex: {PROMPT}")
    assert len(_anthropic_calls(mock)) == 1
    new = [r for r in rows(omni, "codex") if r["id"] not in before]
    assert not [r for r in new if r["path"] == "/v1/responses" and r["method"] in ("GET", "WS")], "used the WebSocket"
    posted = [r for r in new if r["method"] == "POST" and r["path"] == "/v1/responses"]
    assert posted and all(r["status"] == 200 and r["mappedModel"] == "ant/claude-for-codex" for r in posted)


def test_a_codex_tool_loop_over_websocket(omni: OmniRouteProcess, agent_bin: Path, mock: MockProvider) -> None:
    """The mock answers a turn that mentions a tool with a call to the first tool it is given:
    Codex's `exec` (freeform, in its `functions` namespace). Codex must take the call back as its
    own, run it, and send the result chained on the response with `previous_response_id`."""
    before = {r["id"] for r in rows(omni, "codex")}
    env = agent_env(omni, "codex", OPENAI_API_KEY="sk-fake-openai-key-for-tests")
    result = subprocess.run([str(agent_bin / "codex"), "exec", "--skip-git-repo-check", "call a tool please"],
                            env=env, cwd=env["HOME"], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    print(result.stdout)
    assert result.stdout.strip().endswith("mock reply from claude-for-codex: call a tool please")
    first, second = _anthropic_calls(mock)
    assert first["tools"][0]["name"] == "exec"
    use = next(b for b in second["messages"][-2]["content"] if b["type"] == "tool_use")
    result_block = next(b for b in second["messages"][-1]["content"] if b["type"] == "tool_result")
    assert use["name"] == "exec" and result_block["tool_use_id"] == use["id"]  # Codex ran it as its exec
    assert [m["content"] for m in second["messages"][:2]] == [m["content"] for m in first["messages"][:2]]
    new = [r for r in rows(omni, "codex") if r["id"] not in before and r["method"] == "WS"]
    assert len(new) == 3 and all(r["status"] == 200 for r in new)  # warm-up, the turn, the tool result


def test_a_failed_response_on_the_websocket_is_a_row_with_its_error(
    omni: OmniRouteProcess, agent_bin: Path, mock: MockProvider
) -> None:
    """The provider refuses the turn (400): Codex reports it, and the inspector shows that response
    on the socket as a failed row of codex, with the provider's message."""
    before = {r["id"] for r in rows(omni, "codex")}
    mock.add_fault(400, message="the mock refuses this turn", path="/v1/messages")
    try:
        env = agent_env(omni, "codex", OPENAI_API_KEY="sk-fake-openai-key-for-tests")
        result = subprocess.run([str(agent_bin / "codex"), "exec", "--skip-git-repo-check", PROMPT],
                                env=env, cwd=env["HOME"], capture_output=True, text=True, timeout=120, check=False)
    finally:
        mock.clear_faults()
    assert "mock reply" not in result.stdout
    assert "the mock refuses this turn" in result.stdout + result.stderr, (result.stdout[-1000:], result.stderr[-2000:])
    new = [r for r in rows(omni, "codex") if r["id"] not in before]
    failed = [r for r in new if r["method"] == "WS" and r["status"] == 400]
    assert failed, [(r["method"], r["status"], r["error"]) for r in new]
    assert all("the mock refuses this turn" in (r["error"] or "") for r in failed)
    assert all(r["mappedModel"] == "ant/claude-for-codex" for r in failed)
