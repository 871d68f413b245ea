"""The thinking budget on Bedrock Converse: Claude models get Anthropic's ``thinking`` in
``additionalModelRequestFields`` (with the Messages API's rules); other model families, and
formats with no place for a budget (Kiro), are left as they came."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from omniroute.engine.payload_rules import PayloadRules
from omniroute.engine.request_shaping import Shaping, SystemPrompt, ThinkingBudget
from omniroute.translate import translate_request
from omniroute.translate.formats import WireFormat

CLAUDE = "anthropic.claude-sonnet-4-5-20250929-v1:0"


def _converse(**config: Any) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": [{"text": "hi"}]}], "inferenceConfig": config,
            "additionalModelRequestFields": {"top_k": 5}}


def _shape(mode: str, model: str, body: dict[str, Any], fmt: str = WireFormat.BEDROCK, budget: int = 2048) -> dict[str, Any]:
    return Shaping(SystemPrompt(), ThinkingBudget(mode, budget), PayloadRules()).apply(fmt, model, body)


@pytest.mark.parametrize("model", [CLAUDE, "us.anthropic.claude-3-7-sonnet-20250219-v1:0",
                                   "arn:aws:bedrock:eu-west-3::foundation-model/anthropic.claude-opus-4-1-v1:0"])
def test_a_custom_budget_reaches_claude_on_converse(model: str) -> None:
    body = _converse(maxTokens=100, temperature=0.3, topP=0.9)
    shaped = _shape("custom", model, body)
    assert shaped["additionalModelRequestFields"] == {"thinking": {"type": "enabled", "budget_tokens": 2048}}
    # Claude requires maxTokens above the budget and refuses sampling settings while thinking.
    assert shaped["inferenceConfig"] == {"maxTokens": 2148}
    assert body == _converse(maxTokens=100, temperature=0.3, topP=0.9)  # the caller's body is untouched


def test_disabled_and_auto_remove_claudes_thinking_on_converse() -> None:
    body = _converse(maxTokens=8000)
    body["additionalModelRequestFields"] = {"thinking": {"type": "enabled", "budget_tokens": 4000}}
    assert "additionalModelRequestFields" not in _shape("disabled", CLAUDE, copy.deepcopy(body))
    assert "additionalModelRequestFields" not in _shape("auto", CLAUDE, copy.deepcopy(body))


def test_the_translated_converse_request_carries_the_budget() -> None:
    openai_body = {"model": "bedrock/" + CLAUDE, "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}
    converse = translate_request(WireFormat.OPENAI_CHAT, WireFormat.BEDROCK, openai_body)
    shaped = _shape("custom", CLAUDE, converse, budget=3000)
    assert shaped["additionalModelRequestFields"]["thinking"] == {"type": "enabled", "budget_tokens": 3000}
    assert shaped["inferenceConfig"]["maxTokens"] == 3050


@pytest.mark.parametrize(("fmt", "model"), [(WireFormat.BEDROCK, "amazon.nova-pro-v1:0"),
                                            (WireFormat.BEDROCK, "meta.llama3-70b-instruct-v1:0"),
                                            (WireFormat.KIRO, "claude-sonnet-4")])
def test_formats_without_a_place_for_it_are_left_as_they_came(fmt: str, model: str) -> None:
    body = _converse(maxTokens=100, temperature=0.3) if fmt == WireFormat.BEDROCK else {"conversationState": {}}
    assert _shape("custom", model, copy.deepcopy(body), fmt) == body
