"""Every host two built-in agents share: each agent is told apart by its User-Agent, and a call
that names no agent goes to the host's stated default owner.

The shared hosts are enumerated from the catalog itself, so an agent added on someone else's
host fails here until its User-Agent identifies it and the host's default owner is stated.
"""

from __future__ import annotations

from collections import defaultdict

import pytest

from omniroute.bridge.catalog import AgentCatalog, AgentSpec

# User-Agents the real clients send (or a documented shape of them), one per agent.
REAL_USER_AGENTS = {
    "claude-code": "claude-cli/2.1.332 (external, cli)",
    "codex": "codex_cli_rs/0.169.0 (Debian 12.0.0; x86_64) xterm-256color",
    "copilot": "GitHubCopilotChat/0.31.0",
    "antigravity": "antigravity/1.11.3 darwin/arm64",
    "kiro": "aws-sdk-js/1.0.7 ua/2.1 os/linux lang/js md/nodejs#22 api/codewhispererstreaming KiroIDE-0.2.13-abc",
    "zed": "Zed/0.205.4 (macos; aarch64)",
    "open-code": "opencode/1.18.33 ai-sdk/provider-utils/3.0.9 runtime/bun/1.3.0",
    "gemini-cli": "GeminiCLI/0.61.0/gemini-2.5-pro (linux; x64; terminal)",
    "qwen-code": "QwenCode/0.24.4 (linux; x64)",
    "cursor": "connect-es/1.6.1 Cursor/1.7.0",
    "trae": "TraeAI/1.0",
}

# Who a call on a shared host belongs to when its User-Agent names no agent.
DEFAULT_OWNER = {
    "api.anthropic.com": "claude-code",
    "api.openai.com": "codex",
    "openrouter.ai": "open-code",
    "cloudcode-pa.googleapis.com": "antigravity",
}


def _shared_hosts(catalog: AgentCatalog) -> dict[str, list[AgentSpec]]:
    owners: dict[str, list[AgentSpec]] = defaultdict(list)
    for agent in catalog:
        for host in agent.exact_hosts:
            owners[host].append(agent)
    return {host: agents for host, agents in owners.items() if len(agents) > 1}


CATALOG = AgentCatalog()
SHARED = _shared_hosts(CATALOG)
PAIRS = [(host, agent.id) for host, agents in SHARED.items() for agent in agents]


def test_every_shared_host_has_a_stated_default_owner() -> None:
    assert set(SHARED) == set(DEFAULT_OWNER)
    for host, owner in DEFAULT_OWNER.items():
        assert owner in {a.id for a in SHARED[host]}, host


@pytest.mark.parametrize("host", sorted(DEFAULT_OWNER))
@pytest.mark.parametrize("user_agent", [None, "", "node-fetch/1.0", "python-httpx/0.28.1", "curl/8.5.0"])
def test_a_call_naming_no_agent_goes_to_the_default_owner(host: str, user_agent: str | None) -> None:
    match = CATALOG.identify(host, "/", user_agent)
    assert match is not None and (match.agent.id, match.matched_by) == (DEFAULT_OWNER[host], "host")


@pytest.mark.parametrize(("host", "agent_id"), PAIRS, ids=[f"{h}:{a}" for h, a in PAIRS])
def test_each_agent_on_a_shared_host_is_told_apart_by_its_user_agent(host: str, agent_id: str) -> None:
    agent = CATALOG.get(agent_id)
    assert agent.user_agents, f"{agent_id} shares {host} but has no User-Agent token to be told apart"
    samples = [REAL_USER_AGENTS[agent_id], *(f"{token}/9.9.9" for token in agent.user_agents)]
    for user_agent in samples:
        match = CATALOG.identify(host, "/", user_agent)
        assert match is not None and match.agent.id == agent_id, (host, user_agent)
        assert match.matched_by == "host+user-agent"


def test_no_user_agent_names_two_agents() -> None:
    for agent_id, user_agent in REAL_USER_AGENTS.items():
        named = [a.id for a in CATALOG if a.ua_matches(user_agent)]
        assert named == [agent_id], user_agent
    for agent in CATALOG:
        for token in agent.user_agents:
            named = [a.id for a in CATALOG if a.ua_matches(f"{token}/9.9.9")]
            assert named == [agent.id], token


@pytest.mark.parametrize(("host", "path", "agent_id", "fmt"), [
    ("api.openai.com", "/v1/chat/completions", "qwen-code", "openai-chat"),
    ("api.openai.com", "/v1/responses", "qwen-code", "openai-responses"),
    ("openrouter.ai", "/api/v1/chat/completions", "qwen-code", "openai-chat"),
    ("dashscope.aliyuncs.com", "/compatible-mode/v1/chat/completions", "qwen-code", "openai-chat"),
    ("api.anthropic.com", "/v1/messages", "qwen-code", "anthropic"),
    ("generativelanguage.googleapis.com", "/v1beta/models/qwen3:generateContent", "qwen-code", "gemini"),
    ("generativelanguage.googleapis.com", "/v1beta/models/gemini-2.5-pro:streamGenerateContent", "gemini-cli", "gemini"),
    ("generativelanguage.googleapis.com", "/v1/models/gemini-2.5-pro:generateContent", "gemini-cli", "gemini"),
    ("cloudcode-pa.googleapis.com", "/v1internal:streamGenerateContent", "gemini-cli", "gemini-cloudcode"),
])  # fmt: skip
def test_qwen_code_and_gemini_cli_model_calls_on_every_host(host: str, path: str, agent_id: str, fmt: str) -> None:
    match = CATALOG.identify(host, path, REAL_USER_AGENTS[agent_id])
    assert match is not None and match.agent.id == agent_id
    assert CATALOG.is_model_call(match.agent, "POST", path) == fmt


@pytest.mark.parametrize("path", ["/v1internal:loadCodeAssist", "/v1internal:onboardUser",
                                  "/v1internal:countTokens", "/v1beta/models/gemini-2.5-pro:countTokens",
                                  "/v1beta/models"])
def test_gemini_cli_set_up_and_token_calls_are_not_model_calls(path: str) -> None:
    agent = CATALOG.get("gemini-cli")
    assert CATALOG.is_model_call(agent, "POST", path) is None
