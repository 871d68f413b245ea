"""The pure parts of the routing settings: body shaping per wire format, payload rules, the IP
filter's decision, rate-limit windows and budget periods."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from omniroute.engine.budgets import period_end, period_start
from omniroute.engine.ip_filter import IpFilter, IpFilterConfig, TempBan
from omniroute.engine.payload_rules import PayloadRules, protocol_name
from omniroute.engine.rate_limits import InMemoryWindowCounter, RateLimited, RateLimiter, RateRule
from omniroute.engine.request_shaping import (
    Shaping,
    SystemPrompt,
    ThinkingBudget,
    inject_system_prompt,
    set_thinking,
    strip_thinking,
)

PROMPT = "house rules"


@pytest.mark.parametrize(("fmt", "body", "expected"), [
    ("openai-chat", {"messages": [{"role": "user", "content": "x"}]},
     {"messages": [{"role": "system", "content": PROMPT}, {"role": "user", "content": "x"}]}),
    ("ollama", {"messages": []}, {"messages": [{"role": "system", "content": PROMPT}]}),
    ("openai-responses", {"instructions": "own"}, {"instructions": f"{PROMPT}\n\nown"}),
    ("anthropic", {"system": [{"type": "text", "text": "own"}]},
     {"system": [{"type": "text", "text": PROMPT}, {"type": "text", "text": "own"}]}),
    ("bedrock-anthropic", {}, {"system": PROMPT}),
    ("bedrock", {"system": [{"text": "own"}]}, {"system": [{"text": PROMPT}, {"text": "own"}]}),
    ("gemini", {"system_instruction": {"parts": [{"text": "own"}]}},
     {"system_instruction": {"parts": [{"text": PROMPT}, {"text": "own"}]}}),
    ("gemini-cloudcode", {"model": "m", "request": {}},
     {"model": "m", "request": {"systemInstruction": {"parts": [{"text": PROMPT}]}}}),
])
def test_system_prompt_goes_where_each_format_reads_it(fmt: str, body: dict, expected: dict) -> None:
    inject_system_prompt(fmt, body, PROMPT)
    assert body == expected


@pytest.mark.parametrize(("fmt", "budget", "expected"), [
    ("openai-chat", 30000, {"reasoning_effort": "high"}),
    ("openai-chat", 0, {}),
    ("openai-responses", 500, {"reasoning": {"effort": "low", "summary": "auto"}}),
    ("anthropic", 100, {"thinking": {"type": "enabled", "budget_tokens": 1024}, "max_tokens": 1024 + 50}),
    ("anthropic", 0, {"thinking": {"type": "disabled"}, "max_tokens": 50}),
    ("ollama", 8000, {"think": "medium"}),
    ("gemini-cloudcode", 0, {"request": {"generationConfig": {"thinkingConfig": {"thinkingBudget": 0}}}}),
])
def test_thinking_budget_in_each_formats_terms(fmt: str, budget: int, expected: dict) -> None:
    body: dict = {"reasoning": {"summary": "auto"}} if fmt == "openai-responses" else {}
    if fmt.startswith("anthropic"):
        body["max_tokens"] = 50
    if fmt == "gemini-cloudcode":
        body["request"] = {"generationConfig": {"thinkingConfig": {"thinkingLevel": "high"}}}
    set_thinking(fmt, body, budget)
    assert body == expected


def test_auto_mode_strips_what_the_client_asked_for() -> None:
    body = {"generationConfig": {"thinkingConfig": {"thinkingBudget": 5}, "temperature": 1}}
    strip_thinking("gemini", body)
    assert body == {"generationConfig": {"temperature": 1}}
    responses = {"reasoning": {"effort": "high"}}
    strip_thinking("openai-responses", responses)
    assert responses == {}


def test_shaping_copies_and_leaves_the_input_alone() -> None:
    body = {"messages": [{"role": "user", "content": "x"}]}
    shaped = Shaping(SystemPrompt(True, PROMPT), ThinkingBudget("adaptive", effort_level="low")).apply(
        "openai-chat", "m", body)
    assert body == {"messages": [{"role": "user", "content": "x"}]}
    assert shaped["reasoning_effort"] == "low" and shaped["messages"][0]["role"] == "system"
    assert Shaping().apply("openai-chat", "m", body) is body  # nothing set: no copy at all


def test_payload_rules_order_paths_and_matching() -> None:
    rules = PayloadRules.from_config({
        "default": [{"models": [{"name": "gpt-*"}], "params": {"a.b": 1, "keep": "default"}}],
        "defaultRaw": [{"models": [{"name": "*"}], "params": {"raw": '{"x": [1]}', "text": "not json"}}],
        "override": [{"models": [{"name": "gpt-4o", "protocol": "openai"}], "params": {"keep": "override"}}],
        "filter": [{"models": [{"name": "*", "protocol": "claude"}], "params": ["a.b", "missing.path"]}],
    })
    assert rules.apply("openai-chat", "gpt-4o", {"keep": "client"}) == {
        "keep": "override", "a": {"b": 1}, "raw": {"x": [1]}, "text": "not json"}
    assert rules.apply("anthropic", "gpt-4o", {"a": {"b": 2, "c": 3}, "keep": "client"}) == {
        "a": {"c": 3}, "keep": "client", "raw": {"x": [1]}, "text": "not json"}
    assert rules.apply("gemini", "claude", {"a": "scalar"}) == {"a": "scalar", "raw": {"x": [1]}, "text": "not json"}
    assert protocol_name("Claude") == "anthropic"
    with pytest.raises(ValueError, match="unknown protocol"):
        protocol_name("pigeon")


def test_ip_filter_modes_networks_and_bans() -> None:
    now = [1000.0]
    ip_filter = IpFilter(clock=lambda: now[0])
    assert ip_filter.refusal("203.0.113.9") is None  # off
    ip_filter.configure(IpFilterConfig(enabled=True, blacklist=("203.0.113.0/24",)))
    assert "blacklist" in (ip_filter.refusal("203.0.113.9") or "")
    assert ip_filter.refusal("::ffff:203.0.113.9") is not None  # the dual-stack spelling too
    assert ip_filter.refusal("198.51.100.1") is None
    ip_filter.configure(IpFilterConfig(enabled=True, mode="whitelist", whitelist=("::1", "10.0.0.0/8")))
    assert ip_filter.refusal("10.1.2.3") is None and ip_filter.refusal("::1") is None
    assert "whitelist" in (ip_filter.refusal("127.0.0.1") or "")
    ip_filter.configure(IpFilterConfig(temp_bans=(TempBan("10.1.2.3", until=1060.0, reason="abuse"),)))
    assert "temporarily banned (abuse)" in (ip_filter.refusal("10.1.2.3") or "")
    now[0] = 1061.0
    assert ip_filter.refusal("10.1.2.3") is None  # expired


def test_rate_limiter_windows_keys_and_models() -> None:
    limiter = RateLimiter(InMemoryWindowCounter())
    limiter.configure(True, (RateRule(limit=1, window_s=60, model="gpt-*"),))
    limiter.admit("k1", "gpt-4o", 120.0)
    with pytest.raises(RateLimited) as refused:
        limiter.admit("k1", "gpt-4o", 150.0)
    assert refused.value.status == 429 and refused.value.headers == {"retry-after": "30"}
    limiter.admit("k2", "gpt-4o", 150.0)  # another key
    limiter.admit("k1", "gpt-4o-mini", 150.0)  # another model
    limiter.admit("k1", "claude", 150.0)  # no rule
    assert {(e["apiKeyId"], e["model"], e["used"]) for e in limiter.status(179.0)} == {
        ("k1", "gpt-4o", 2), ("k1", "gpt-4o-mini", 1), ("k2", "gpt-4o", 1)}
    limiter.admit("k1", "gpt-4o", 180.0)  # the next window
    assert [(e["apiKeyId"], e["used"]) for e in limiter.status(181.0)] == [("k1", 1)]


def test_budget_periods_start_at_the_reset_time() -> None:
    now = datetime(2026, 3, 4, 1, 30, tzinfo=UTC)  # a Wednesday
    assert period_start("daily", now, "02:00") == datetime(2026, 3, 3, 2, 0, tzinfo=UTC)
    assert period_start("weekly", now) == datetime(2026, 3, 2, tzinfo=UTC)
    assert period_start("monthly", now) == datetime(2026, 3, 1, tzinfo=UTC)
    assert period_start("monthly", datetime(2026, 3, 1, 1, 0, tzinfo=UTC), "02:00") == datetime(2026, 2, 1, 2, 0, tzinfo=UTC)
    assert period_end("monthly", datetime(2026, 1, 31, tzinfo=UTC).replace(day=1)) == datetime(2026, 2, 1, tzinfo=UTC)
