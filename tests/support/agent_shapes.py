"""Model calls shaped as real agents send them, through OmniRoute's HTTP_PROXY listener: what
the inspector groups into conversations (Claude Code's session in ``metadata.user_id``, Codex's
in the ``session_id`` header)."""

from __future__ import annotations

import uuid

import httpx

from tests.support.harness import OmniRouteProcess
from tests.support.inspector_support import proxied_http

CLAUDE_SYSTEM = "You are Claude Code, Anthropic's official CLI for Claude."


def claude_code_call(proc: OmniRouteProcess, session: str, text: str) -> httpx.Response:
    """As Claude Code sends it: /v1/messages?beta=true, streamed, its session in metadata.user_id."""
    body = {
        "model": "claude-sonnet-4-5-20250929", "max_tokens": 32000, "stream": True,
        "system": [{"type": "text", "text": CLAUDE_SYSTEM, "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": text}]}],
        "metadata": {"user_id": f"user_{'ab' * 32}_account_{uuid.uuid4()}_session_{session}"},
    }
    headers = {"x-api-key": "sk-ant-agent-own-0001", "anthropic-version": "2023-06-01",
               "anthropic-beta": "claude-code-20250219", "user-agent": "claude-cli/2.0.14 (external, cli)"}
    with proxied_http(proc) as client:
        return client.post("https://api.anthropic.com/v1/messages?beta=true", json=body, headers=headers)


def codex_call(proc: OmniRouteProcess, session: str, text: str) -> httpx.Response:
    """As Codex sends it: the Responses API on chatgpt.com, its session in the session_id header."""
    body = {"model": "gpt-5-codex", "instructions": "You are Codex, a coding agent.", "stream": True,
            "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}],
            "store": False, "prompt_cache_key": session}
    headers = {"authorization": "Bearer codex-own-token-0001", "session_id": session, "conversation_id": session,
               "originator": "codex_cli_rs", "user-agent": "codex_cli_rs/0.46.0 (Linux; x86_64)",
               "openai-beta": "responses=experimental"}
    with proxied_http(proc) as client:
        return client.post("https://chatgpt.com/backend-api/codex/responses", json=body, headers=headers)
