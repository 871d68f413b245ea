"""The mock provider's Anthropic Messages API through the official SDK and real sockets."""

from __future__ import annotations

import anthropic
import httpx

from tests.support.mock_provider import MockProvider

from .mock_sdk_clients import (
    claude_fixture,  # noqa: F401 (a fixture, used by name)
)

# --------------------------------------------------------------------------- Anthropic


def test_anthropic_message(claude: anthropic.Anthropic) -> None:
    msg = claude.messages.create(model="claude-mock", max_tokens=64, system="sys prompt",
                                 messages=[{"role": "user", "content": "hello claude"}])
    assert msg.content[0].text == "mock reply from claude-mock: hello claude"
    assert msg.stop_reason == "end_turn"
    assert (msg.usage.input_tokens, msg.usage.output_tokens) == (4, 6)


def test_anthropic_stream_helper(claude: anthropic.Anthropic, mock: MockProvider) -> None:
    with claude.messages.stream(model="claude-mock", max_tokens=64, messages=[
            {"role": "user", "content": [{"type": "text", "text": "stream this please"}]}]) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    assert text == "mock reply from claude-mock: stream this please"
    assert final.usage.output_tokens == 7 and final.usage.input_tokens == 3
    raw = httpx.post(f"{mock.url}/v1/messages", json={
        "model": "c", "stream": True, "max_tokens": 5,
        "messages": [{"role": "user", "content": "x"}]}).text
    names = [line[7:] for line in raw.splitlines() if line.startswith("event: ")]
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert names[-4:] == ["content_block_delta", "content_block_stop", "message_delta",
                          "message_stop"]


def test_anthropic_thinking_and_tool_use_streamed(claude: anthropic.Anthropic) -> None:
    with claude.messages.stream(
            model="claude-mock", max_tokens=2048,
            thinking={"type": "enabled", "budget_tokens": 1024},
            tools=[{"name": "search", "input_schema": {"type": "object"}}],
            messages=[{"role": "user", "content": "use the tool"}]) as s:
        kinds = [e.type for e in s]
        final = s.get_final_message()
    assert [b.type for b in final.content] == ["thinking", "tool_use"]
    assert final.content[0].thinking == "mock thinking from claude-mock"
    assert final.content[0].signature
    assert final.content[1].input == {"query": "use the tool"}
    assert final.stop_reason == "tool_use"
    assert "signature" in kinds and "input_json" in kinds
    assert final.usage.output_tokens == 3 + 4  # arguments words + thinking words


def test_anthropic_beta_query_and_count_tokens(claude: anthropic.Anthropic,
                                               mock: MockProvider) -> None:
    # Claude Code posts to /v1/messages?beta=true (this SDK's beta client no longer does).
    r = httpx.post(f"{mock.url}/v1/messages?beta=true", json={
        "model": "claude-mock", "max_tokens": 10,
        "messages": [{"role": "user", "content": "beta hi"}]})
    assert r.json()["content"][0]["text"] == "mock reply from claude-mock: beta hi"
    assert mock.requests[-1]["query"] == {"beta": "true"}
    count = claude.messages.count_tokens(model="claude-mock", system="a b", messages=[
        {"role": "user", "content": "one two three"}])
    assert count.input_tokens == 5


