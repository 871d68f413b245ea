"""What the user's routing settings change in every upstream request body: the global system
prompt, the thinking budget and the payload rules.

Applied by the attempt to the body in the *upstream's* wire format (after translation), so
each setting is written the way that provider reads it: a system prompt is an OpenAI system
message, Responses ``instructions``, Anthropic ``system``, Gemini ``systemInstruction``; a
thinking budget is OpenAI ``reasoning_effort``, Responses ``reasoning.effort``, Anthropic
``thinking.budget_tokens``, Gemini ``generationConfig.thinkingConfig.thinkingBudget``, Ollama
``think``, Bedrock Converse ``additionalModelRequestFields.thinking`` for Anthropic's Claude
models. Requests with no place for a budget are left as they are (docs/API.md lists them): Kiro's
(its request has no such field), Bedrock Converse to other model families (each names it its own
way, when at all), and the non-chat formats. Order: system prompt, thinking, payload rules (the
most specific, per model, last). Pure functions; bodies are copied, never changed in place.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from omniroute.engine.payload_rules import PayloadRules
from omniroute.translate.formats import WireFormat

# Thinking modes (the OmniRoute API specification's thinking-budget settings).
PASSTHROUGH, AUTO, CUSTOM, ADAPTIVE = "passthrough", "auto", "custom", "adaptive"
# The specification's examples name these too: "manual" is a fixed budget, "disabled" no thinking.
MANUAL, DISABLED = "manual", "disabled"
THINKING_MODES = (PASSTHROUGH, AUTO, CUSTOM, ADAPTIVE, MANUAL, DISABLED)
EFFORT_BUDGETS = {"none": 0, "low": 1024, "medium": 10240, "high": 24576}
MAX_BUDGET = 131072
ANTHROPIC_MIN_BUDGET = 1024  # the Messages API refuses a smaller budget_tokens


@dataclass(frozen=True, slots=True)
class ThinkingBudget:
    mode: str = PASSTHROUGH
    custom_budget: int = 10240
    effort_level: str = "medium"

    def budget_for(self, body: dict[str, Any]) -> int | None:
        """Tokens to allow (0: thinking off), or None when the mode changes nothing."""
        if self.mode in (CUSTOM, MANUAL):
            return self.custom_budget
        if self.mode == DISABLED:
            return 0
        if self.mode == ADAPTIVE:
            return min(MAX_BUDGET, round(EFFORT_BUDGETS.get(self.effort_level, 10240) * _complexity(body)))
        return None


@dataclass(frozen=True, slots=True)
class SystemPrompt:
    enabled: bool = False
    prompt: str = ""

    @property
    def active(self) -> bool:
        return self.enabled and bool(self.prompt.strip())


@dataclass(frozen=True, slots=True)
class Shaping:
    """The three settings together; `apply` is what the attempt calls on every body."""

    system_prompt: SystemPrompt = field(default_factory=SystemPrompt)
    thinking: ThinkingBudget = field(default_factory=ThinkingBudget)
    payload_rules: PayloadRules = field(default_factory=PayloadRules)

    @property
    def idle(self) -> bool:
        return not self.system_prompt.active and self.thinking.mode == PASSTHROUGH and self.payload_rules.empty

    def apply(self, wire_format: str, model: str, body: dict[str, Any]) -> dict[str, Any]:
        if self.idle:
            return body
        body = copy.deepcopy(body)
        if self.system_prompt.active:
            inject_system_prompt(wire_format, body, self.system_prompt.prompt)
        if self.thinking.mode == AUTO:
            strip_thinking(wire_format, body)
        elif (budget := self.thinking.budget_for(body)) is not None:
            set_thinking(wire_format, body, budget, model)
        return self.payload_rules.apply(wire_format, model, body)


NO_SHAPING = Shaping()


def _gemini_request(wire_format: str, body: dict[str, Any]) -> dict[str, Any] | None:
    """The Gemini request inside the body: the body itself, or Cloud Code's ``request``."""
    if wire_format == WireFormat.GEMINI:
        return body
    if wire_format == WireFormat.GEMINI_CLOUDCODE:
        inner = body.get("request")
        if not isinstance(inner, dict):
            inner = body["request"] = {}
        return inner
    return None


def inject_system_prompt(wire_format: str, body: dict[str, Any], prompt: str) -> None:
    """Put ``prompt`` before the request's own system prompt (in place)."""
    if wire_format in (WireFormat.OPENAI_CHAT, WireFormat.OLLAMA):
        messages = body.get("messages")
        body["messages"] = [{"role": "system", "content": prompt}, *(messages if isinstance(messages, list) else [])]
    elif wire_format == WireFormat.OPENAI_RESPONSES:
        own = body.get("instructions")
        body["instructions"] = f"{prompt}\n\n{own}" if isinstance(own, str) and own else prompt
    elif wire_format in (WireFormat.ANTHROPIC, WireFormat.BEDROCK_ANTHROPIC):
        own = body.get("system")
        if isinstance(own, list):
            body["system"] = [{"type": "text", "text": prompt}, *own]
        else:
            body["system"] = f"{prompt}\n\n{own}" if isinstance(own, str) and own else prompt
    elif wire_format == WireFormat.BEDROCK:
        own = body.get("system")
        body["system"] = [{"text": prompt}, *(own if isinstance(own, list) else [])]
    elif (request := _gemini_request(wire_format, body)) is not None:
        key = "system_instruction" if "system_instruction" in request else "systemInstruction"
        own = request.get(key)
        parts = own.get("parts") if isinstance(own, dict) else None
        request[key] = {**(own if isinstance(own, dict) else {}),
                        "parts": [{"text": prompt}, *(parts if isinstance(parts, list) else [])]}


def effort_of(budget: int) -> str:
    if budget <= EFFORT_BUDGETS["low"]:
        return "low"
    if budget <= EFFORT_BUDGETS["medium"]:
        return "medium"
    return "high"


def set_thinking(wire_format: str, body: dict[str, Any], budget: int, model: str = "") -> None:
    """Ask the upstream for ``budget`` thinking tokens (0: no thinking), in its own terms.
    ``model`` (the upstream's name) matters where the field depends on the model (Bedrock)."""
    if wire_format == WireFormat.OPENAI_CHAT:
        if budget > 0:
            body["reasoning_effort"] = effort_of(budget)
        else:
            body.pop("reasoning_effort", None)
    elif wire_format == WireFormat.OPENAI_RESPONSES:
        reasoning = body.get("reasoning")
        reasoning = dict(reasoning) if isinstance(reasoning, dict) else {}
        if budget > 0:
            body["reasoning"] = {**reasoning, "effort": effort_of(budget)}
        else:
            reasoning.pop("effort", None)
            body["reasoning"] = reasoning
            if not reasoning:
                body.pop("reasoning")
    elif wire_format in (WireFormat.ANTHROPIC, WireFormat.BEDROCK_ANTHROPIC):
        if budget <= 0:
            body["thinking"] = {"type": "disabled"}
            return
        budget = max(budget, ANTHROPIC_MIN_BUDGET)
        body["thinking"] = {"type": "enabled", "budget_tokens": budget}
        max_tokens = body.get("max_tokens")
        if not isinstance(max_tokens, int) or max_tokens <= budget:
            # The API requires max_tokens > budget_tokens; the answer keeps its own room.
            body["max_tokens"] = budget + (max_tokens if isinstance(max_tokens, int) and max_tokens > 0 else 4096)
    elif wire_format == WireFormat.OLLAMA:
        body["think"] = effort_of(budget) if budget > 0 else False
    elif wire_format == WireFormat.BEDROCK:
        if bedrock_claude(model):
            _bedrock_claude_thinking(body, budget)
    elif (request := _gemini_request(wire_format, body)) is not None:
        config = request.get("generationConfig")
        config = dict(config) if isinstance(config, dict) else {}
        thinking = config.get("thinkingConfig")
        thinking = dict(thinking) if isinstance(thinking, dict) else {}
        thinking.pop("thinkingLevel", None)  # one or the other: Gemini refuses both
        thinking["thinkingBudget"] = budget
        config["thinkingConfig"] = thinking
        request["generationConfig"] = config


def bedrock_claude(model: str) -> bool:
    """A Claude model on Bedrock: its id (``anthropic.claude-…``), an inference profile
    (``us.anthropic.claude-…``) or an ARN naming one."""
    return "claude" in model.rsplit("/", 1)[-1].lower()


def _bedrock_claude_thinking(body: dict[str, Any], budget: int) -> None:
    """Converse passes ``additionalModelRequestFields`` to the model as they are: Claude reads
    Anthropic's ``thinking``, with the Messages API's rules (see the Anthropic branch above)."""
    extra = body.get("additionalModelRequestFields")
    extra = dict(extra) if isinstance(extra, dict) else {}
    if budget <= 0:
        extra.pop("thinking", None)  # Claude does not think unless asked
    else:
        budget = max(budget, ANTHROPIC_MIN_BUDGET)
        extra["thinking"] = {"type": "enabled", "budget_tokens": budget}
        extra.pop("top_k", None)  # refused while thinking, as temperature and topP below
        config = body.get("inferenceConfig")
        config = {k: v for k, v in config.items() if k not in ("temperature", "topP")} if isinstance(config, dict) else {}
        most = config.get("maxTokens")
        if not isinstance(most, int) or most <= budget:
            config["maxTokens"] = budget + (most if isinstance(most, int) and most > 0 else 4096)
        body["inferenceConfig"] = config
    if extra:
        body["additionalModelRequestFields"] = extra
    else:
        body.pop("additionalModelRequestFields", None)


def strip_thinking(wire_format: str, body: dict[str, Any]) -> None:
    """Leave the thinking budget to the provider: remove what the client asked for."""
    if wire_format == WireFormat.OPENAI_CHAT:
        body.pop("reasoning_effort", None)
    elif wire_format == WireFormat.OPENAI_RESPONSES:
        reasoning = body.get("reasoning")
        if isinstance(reasoning, dict):
            rest = {k: v for k, v in reasoning.items() if k != "effort"}
            if rest:
                body["reasoning"] = rest
            else:
                body.pop("reasoning")
    elif wire_format in (WireFormat.ANTHROPIC, WireFormat.BEDROCK_ANTHROPIC):
        body.pop("thinking", None)
    elif wire_format == WireFormat.OLLAMA:
        body.pop("think", None)
    elif wire_format == WireFormat.BEDROCK:
        extra = body.get("additionalModelRequestFields")
        if isinstance(extra, dict) and "thinking" in extra:
            rest = {k: v for k, v in extra.items() if k != "thinking"}
            if rest:
                body["additionalModelRequestFields"] = rest
            else:
                body.pop("additionalModelRequestFields")
    elif (request := _gemini_request(wire_format, body)) is not None:
        config = request.get("generationConfig")
        if isinstance(config, dict):
            request["generationConfig"] = {k: v for k, v in config.items() if k != "thinkingConfig"}


def _complexity(body: dict[str, Any]) -> float:
    """The adaptive mode's factor: long conversations, many tools, a long last question."""
    messages = body.get("messages") or body.get("contents") or body.get("input")
    messages = messages if isinstance(messages, list) else []
    tools = body.get("tools")
    factor = 1.0
    if len(messages) > 10:
        factor += 0.5
    if isinstance(tools, list) and len(tools) > 3:
        factor += 0.5
    last = messages[-1] if messages else None
    if isinstance(last, dict) and len(str(last.get("content") or last.get("parts") or "")) > 2000:
        factor += 0.3
    return factor
