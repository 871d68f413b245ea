"""The real Claude Code, Codex, Gemini CLI, Qwen Code and opencode pointed at OmniRoute by
`omniroute connect TOOL --direct` alone: no HTTPS_PROXY, no CA, no key in their environment. Each answers with the mock's
reply for the model its agent's mapping names, and the call shows in usage and in the inspector
under that agent, with source `direct`.

The server and the agents share one throwaway HOME: the server edits the agents' settings there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.agents_support import (
    CLAUDE_CODE,
    CODEX,
    GEMINI_CLI,
    OPENCODE,
    QWEN_CODE,
    install_agents,
)
from tests.integration.agents_home_support import home_fixture, omni_fixture  # noqa: F401 - fixtures
from tests.support.harness import OmniRouteProcess
from tests.support.mock_provider import MockProvider

pytestmark = pytest.mark.e2e

PROMPT = "say hello"
PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE")


@pytest.fixture(scope="module")
def agent_bin() -> Path:
    return install_agents(CLAUDE_CODE, CODEX, GEMINI_CLI, QWEN_CODE, OPENCODE)


def connect(omni: OmniRouteProcess, home: Path, tool: str, *args: str) -> None:
    cli = str(Path(sys.executable).parent / "omniroute")
    done = subprocess.run([cli, "connect", tool, "--direct", "--home", str(omni.home), "--api-port", str(omni.api_port), *args],
                          env={**os.environ, "HOME": str(home)}, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "calls OmniRoute directly" in done.stdout


def run_agent(home: Path, command: list[str], **extra: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "HOME": str(home), **extra}
    assert not set(env) & set(PROXY_VARS)
    work = home / "work"
    work.mkdir(exist_ok=True)
    return subprocess.run(command, env=env, cwd=work, capture_output=True, text=True, timeout=180, check=False)


def attributed(omni: OmniRouteProcess, agent: str, mapped: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    with omni.api() as api:
        rows = api.get("/api/tools/traffic-inspector/requests", params={"agent": agent, "limit": 200}).json()["requests"]
        usage = api.get("/api/usage/call-logs", params={"agent": agent}).json()["items"]
    return ([r for r in rows if r["mappedModel"] == mapped],
            [u for u in usage if u["modelUsed"] == mapped.split("/", 1)[1]])


def check_attribution(omni: OmniRouteProcess, agent: str, mapped: str) -> None:
    rows, usage = attributed(omni, agent, mapped)
    assert rows and all(r["source"] == "direct" and r["status"] == 200 for r in rows), rows
    assert usage and all(u["source"] == "direct" and u["agent"] == agent for u in usage), usage


def test_claude_code_direct(omni: OmniRouteProcess, home: Path, agent_bin: Path, mock: MockProvider) -> None:
    omni.map_models("claude-code", {"*": "mock/claude-direct"})
    connect(omni, home, "claude-code")
    try:
        result = run_agent(home, [str(agent_bin / "claude"), "-p", PROMPT, "--output-format", "json"],
                           CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1")
    finally:
        omni.map_models("claude-code", {})
    assert result.returncode == 0, result.stderr[-2000:] + result.stdout[-2000:]
    output = json.loads(result.stdout)
    assert output["is_error"] is False and output["result"].startswith("mock reply from claude-direct: ")
    assert {r["body"]["model"] for r in mock.requests_to("/v1/chat/completions")} == {"claude-direct"}
    check_attribution(omni, "claude-code", "mock/claude-direct")


def test_codex_direct(omni: OmniRouteProcess, home: Path, agent_bin: Path, mock: MockProvider) -> None:
    omni.map_models("codex", {"*": "mock/codex-direct"})
    connect(omni, home, "codex", "--model", "gpt-5-codex")
    try:
        result = run_agent(home, [str(agent_bin / "codex"), "exec", "--skip-git-repo-check", PROMPT])
    finally:
        omni.map_models("codex", {})
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith(f"mock reply from codex-direct: {PROMPT}")
    assert {r["body"]["model"] for r in mock.requests_to("/v1/responses")} == {"codex-direct"}
    check_attribution(omni, "codex", "mock/codex-direct")


def test_gemini_cli_direct(omni: OmniRouteProcess, home: Path, agent_bin: Path, mock: MockProvider) -> None:
    # Mapped to the OpenAI-format connection: Gemini CLI's generationConfig.topK has no place
    # there and is dropped (openai_chat's stated rule), not refused.
    omni.map_models("gemini-cli", {"*": "mock/gemini-direct"})
    connect(omni, home, "gemini-cli", "--model", "gemini-2.5-flash")
    try:
        # Gemini CLI reads ~/.gemini/.env only in a trusted folder.
        result = run_agent(home, [str(agent_bin / "gemini"), "-p", PROMPT], GEMINI_CLI_TRUST_WORKSPACE="true")
    finally:
        omni.map_models("gemini-cli", {})
    assert result.returncode == 0, result.stderr[-3000:] + result.stdout[-2000:]
    # The mock echoes the first text part, which Gemini CLI fills with its session context.
    assert result.stdout.startswith("mock reply from gemini-direct: "), result.stdout
    sent = mock.requests_to("/v1/chat/completions")
    assert sent and {r["body"]["model"] for r in sent} == {"gemini-direct"}
    assert not [r for r in sent if "top_k" in r["body"]]
    check_attribution(omni, "gemini-cli", "mock/gemini-direct")


def test_qwen_code_direct(omni: OmniRouteProcess, home: Path, agent_bin: Path, mock: MockProvider) -> None:
    omni.map_models("qwen-code", {"*": "mock/qwen-direct"})
    connect(omni, home, "qwen-code")
    try:
        result = run_agent(home, [str(agent_bin / "qwen"), "-p", PROMPT])
    finally:
        omni.map_models("qwen-code", {})
    assert result.returncode == 0, result.stderr[-3000:] + result.stdout[-2000:]
    # The mock echoes the first text part, which Qwen Code fills with its own reminders.
    assert result.stdout.startswith("mock reply from qwen-direct: "), result.stdout
    assert {r["body"]["model"] for r in mock.requests_to("/v1/chat/completions")} == {"qwen-direct"}
    check_attribution(omni, "qwen-code", "mock/qwen-direct")


def test_opencode_direct(omni: OmniRouteProcess, home: Path, agent_bin: Path, mock: MockProvider) -> None:
    omni.map_models("open-code", {"*": "mock/opencode-direct"})
    connect(omni, home, "opencode")
    try:
        result = run_agent(home, [str(agent_bin / "opencode"), "run", PROMPT])
    finally:
        omni.map_models("open-code", {})
    assert result.returncode == 0, result.stderr[-3000:] + result.stdout[-2000:]
    assert result.stdout.startswith("mock reply from opencode-direct: "), result.stdout
    assert {r["body"]["model"] for r in mock.requests_to("/v1/chat/completions")} == {"opencode-direct"}
    check_attribution(omni, "open-code", "mock/opencode-direct")
