"""The real Claude Code and Codex CLIs (from npm) through the HTTP_PROXY listener.

Each agent gets the environment `omniroute env AGENT` prints (HTTPS_PROXY, NO_PROXY and its
CA variable), a fake API key and a throwaway HOME. With a `*` mapping to a provider served by
our mock, it prints the mock's reply for the mapped model; without one, its call reaches the
"real" upstream unchanged: a local TLS server standing in for api.anthropic.com, found through
a local upstream DNS server and trusted through the upstream-CA setting.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.agents_support import CLAUDE_CODE, CODEX, agent_env, install_agents
from tests.e2e.agents_support import inspector_rows as rows
from tests.integration.bridge_support import upstream_fixture  # noqa: F401 - fixture
from tests.support.fake_upstream import FakeDNS, TLSUpstream
from tests.support.harness import OmniRouteProcess
from tests.support.mock_provider import MockProvider

pytestmark = pytest.mark.e2e

PROMPT = "say hello"


@pytest.fixture(scope="session")
def agent_bin() -> Path:
    """node_modules/.bin with both CLIs, installed once per cache."""
    return install_agents(CLAUDE_CODE, CODEX)


@pytest.fixture(scope="module")
def fake_dns(upstream: TLSUpstream) -> Iterator[FakeDNS]:
    with FakeDNS(upstream.host) as server:
        yield server


def _start(fake_dns: FakeDNS, upstream: TLSUpstream, mock: MockProvider, **env: str) -> OmniRouteProcess:
    process = OmniRouteProcess(bridge=False, env={**fake_dns.env(), **env}).start()
    with process.api() as api:
        api.post("/api/tools/agent-bridge/upstream-ca", json={"path": str(upstream.ca_file)}).raise_for_status()
    process.add_provider("openai", "mock", f"{mock.url}/v1", api_key="sk-test-provider-key-0001")
    return process


@pytest.fixture(scope="module")
def omni(fake_dns: FakeDNS, upstream: TLSUpstream, mock_provider: MockProvider) -> Iterator[OmniRouteProcess]:
    process = _start(fake_dns, upstream, mock_provider)
    yield process
    process.close()


def run_claude(omni: OmniRouteProcess, agent_bin: Path) -> dict[str, Any]:
    env = agent_env(omni, "claude-code", ANTHROPIC_API_KEY="sk-ant-api03-fake-key-for-tests",
                    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1")
    assert env["NODE_EXTRA_CA_CERTS"] == str(omni.ca_cert)
    result = subprocess.run([str(agent_bin / "claude"), "-p", PROMPT, "--output-format", "json"],
                            env=env, cwd=env["HOME"], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:] + result.stdout[-2000:]
    return json.loads(result.stdout)


def run_codex(omni: OmniRouteProcess, agent_bin: Path) -> str:
    env = agent_env(omni, "codex", OPENAI_API_KEY="sk-fake-openai-key-for-tests")
    assert Path(env["SSL_CERT_FILE"]).read_text().endswith(omni.ca_cert.read_text())
    result = subprocess.run([str(agent_bin / "codex"), "exec", "--skip-git-repo-check", PROMPT],
                            env=env, cwd=env["HOME"], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip()


def test_claude_code_mapped_to_our_provider(omni: OmniRouteProcess, agent_bin: Path, mock: MockProvider) -> None:
    omni.map_models("claude-code", {"*": "mock/claude-mapped"})
    try:
        output = run_claude(omni, agent_bin)
    finally:
        omni.map_models("claude-code", {})
    assert output["is_error"] is False
    assert output["result"].startswith("mock reply from claude-mapped: ")
    seen = {r["body"]["model"] for r in mock.requests_to("/v1/chat/completions")}
    assert seen == {"claude-mapped"}
    calls = [r for r in rows(omni, "claude-code") if r["path"].startswith("/v1/messages") and r["mappedModel"]]
    assert calls and all(r["mappedModel"] == "mock/claude-mapped" and r["sourceModel"].startswith("claude") for r in calls)
    assert all(r["source"] == "http-proxy" and r["host"] == "api.anthropic.com" for r in calls)


def test_claude_code_unmapped_reaches_the_real_upstream_unchanged(
    omni: OmniRouteProcess, agent_bin: Path, mock: MockProvider, upstream: TLSUpstream, fake_dns: FakeDNS
) -> None:
    upstream.clear()
    output = run_claude(omni, agent_bin)
    sent = [r for r in upstream.requests if r["path"] == "/v1/messages"]
    assert sent, "the call never reached the upstream"
    model = sent[-1]["body"]["model"]
    assert output["result"].startswith(f"mock reply from {model}: ")
    assert sent[-1]["headers"]["x-api-key"] == "sk-ant-api03-fake-key-for-tests"  # the agent's own key
    assert mock.requests == []  # nothing went to our provider
    assert ("api.anthropic.com", "A") in fake_dns.queries
    unmapped = [r for r in rows(omni, "claude-code") if r["path"].startswith("/v1/messages") and not r["mappedModel"]]
    assert unmapped and unmapped[0]["note"] == "unmapped" and unmapped[0]["sourceModel"] == model


def test_codex_mapped_over_websocket(omni: OmniRouteProcess, agent_bin: Path, mock: MockProvider) -> None:
    omni.map_models("codex", {"*": "mock/codex-mapped"})
    try:
        output = run_codex(omni, agent_bin)
    finally:
        omni.map_models("codex", {})
    assert output.endswith(f"mock reply from codex-mapped: {PROMPT}")
    assert {r["body"]["model"] for r in mock.requests_to("/v1/responses")} == {"codex-mapped"}
    sessions = [r for r in rows(omni, "codex") if r["method"] == "GET" and r["path"].startswith("/v1/responses")]
    assert sessions and sessions[0]["status"] == 101, "codex did not use the WebSocket"
    assert (sessions[0]["sourceModel"] is not None, sessions[0]["mappedModel"]) == (True, "mock/codex-mapped"), [(r["method"], r["path"], r["status"], r["sourceModel"], r["mappedModel"], r["note"]) for r in rows(omni, "codex")]
    assert not [r for r in rows(omni, "codex") if r["method"] == "POST" and r["path"] == "/v1/responses"]


def test_codex_mapped_over_https_fallback(
    fake_dns: FakeDNS, upstream: TLSUpstream, mock: MockProvider, agent_bin: Path
) -> None:
    # WebSocket routing off: the upgrade is refused and Codex falls back to POST /v1/responses.
    process = _start(fake_dns, upstream, mock, OMNIROUTE_BRIDGE_WEBSOCKET="false")
    try:
        process.map_models("codex", {"*": "mock/codex-https"})
        output = run_codex(process, agent_bin)
        captured = rows(process, "codex")
    finally:
        process.close()
    assert output.endswith(f"mock reply from codex-https: {PROMPT}")
    assert {r["body"]["model"] for r in mock.requests_to("/v1/responses")} == {"codex-https"}
    refused = [r for r in captured if r["method"] == "GET" and r["path"].startswith("/v1/responses")]
    assert refused and all(r["status"] == 426 for r in refused)
    posted = [r for r in captured if r["method"] == "POST" and r["path"] == "/v1/responses"]
    assert posted and posted[0]["mappedModel"] == "mock/codex-https" and posted[0]["status"] == 200
