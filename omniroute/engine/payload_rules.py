"""Payload rules: edits a user asks for on the body sent upstream, per model and wire format
(the OmniRoute API specification's ``PayloadRulesConfig``).

Each rule names the models it applies to (``name`` is a glob on the upstream model, ``*``
for all; ``protocol``, when given, is the upstream's wire format) and its params, keyed by
dot paths (``generationConfig.thinkingConfig.thinkingBudget``):

* ``default``: set where the body has no value yet (the client's own value wins);
* ``defaultRaw``: the same, the value being JSON text (``"{\\"type\\": \\"enabled\\"}"``);
* ``override``: set whatever the body has;
* ``filter``: remove (params is a list of paths).

They run in that order on the body after translation, so a rule speaks the upstream's format
whatever the client spoke. Pure: `apply` returns a new body, the input is left as it was.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from omniroute.translate.formats import WireFormat

# Protocol names other tools use for our wire formats (CLIProxyAPI-style rules say "claude").
PROTOCOL_ALIASES: dict[str, str] = {
    "openai": WireFormat.OPENAI_CHAT,
    "chat": WireFormat.OPENAI_CHAT,
    "openai-response": WireFormat.OPENAI_RESPONSES,
    "responses": WireFormat.OPENAI_RESPONSES,
    "codex": WireFormat.OPENAI_RESPONSES,
    "claude": WireFormat.ANTHROPIC,
    "gemini-cli": WireFormat.GEMINI_CLOUDCODE,
    "antigravity": WireFormat.GEMINI_CLOUDCODE,
}
SECTIONS = ("default", "defaultRaw", "override", "filter")


def protocol_name(value: str) -> str:
    """Our wire-format name for ``value``; ValueError naming the accepted ones."""
    lowered = value.strip().lower()
    if lowered in PROTOCOL_ALIASES:
        return PROTOCOL_ALIASES[lowered]
    try:
        return WireFormat(lowered).value
    except ValueError:
        names = sorted({*(f.value for f in WireFormat), *PROTOCOL_ALIASES})
        raise ValueError(f"unknown protocol {value!r}; use one of {', '.join(names)}") from None


@dataclass(frozen=True, slots=True)
class ModelSpec:
    name: str
    protocol: str | None = None

    def matches(self, model: str, wire_format: str) -> bool:
        if self.protocol is not None and protocol_name(self.protocol) != wire_format:
            return False
        return fnmatchcase(model, self.name)


@dataclass(frozen=True, slots=True)
class Rule:
    models: tuple[ModelSpec, ...]
    params: dict[str, Any] | tuple[str, ...]

    def matches(self, model: str, wire_format: str) -> bool:
        return any(spec.matches(model, wire_format) for spec in self.models)


@dataclass(frozen=True, slots=True)
class PayloadRules:
    default: tuple[Rule, ...] = ()
    default_raw: tuple[Rule, ...] = ()
    override: tuple[Rule, ...] = ()
    filter: tuple[Rule, ...] = ()
    empty: bool = field(init=False, default=True)

    def __post_init__(self) -> None:
        object.__setattr__(self, "empty", not (self.default or self.default_raw or self.override or self.filter))

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> PayloadRules:
        """From the API document (already validated: each rule has models and params)."""

        def rules(section: str) -> tuple[Rule, ...]:
            out = []
            for rule in config.get(section) or ():
                specs = tuple(ModelSpec(m["name"], m.get("protocol")) for m in rule["models"])
                params = rule["params"]
                out.append(Rule(specs, tuple(params) if isinstance(params, list) else dict(params)))
            return tuple(out)

        return cls(rules("default"), rules("defaultRaw"), rules("override"), rules("filter"))

    def apply(self, wire_format: str, model: str, body: dict[str, Any]) -> dict[str, Any]:
        if self.empty:
            return body
        out = copy.deepcopy(body)
        setters = ((self.default, False, True), (self.default_raw, True, True), (self.override, False, False))
        for rules, raw, only_if_missing in setters:
            for rule in rules:
                if rule.matches(model, wire_format):
                    for path, value in _items(rule):
                        _set(out, path, raw_value(value) if raw else value, only_if_missing=only_if_missing)
        for rule in self.filter:
            if rule.matches(model, wire_format):
                for path in rule.params:
                    _remove(out, str(path))
        return out


def raw_value(value: Any) -> Any:
    """A ``defaultRaw`` value: JSON text is parsed; anything else is taken as it is."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _items(rule: Rule) -> list[tuple[str, Any]]:
    assert isinstance(rule.params, dict)
    return [(str(k), copy.deepcopy(v)) for k, v in rule.params.items()]


def _set(body: dict[str, Any], path: str, value: Any, *, only_if_missing: bool) -> None:
    *parents, leaf = path.split(".")
    node: Any = body
    for key in parents:
        child = node.get(key)
        if not isinstance(child, dict):
            if child is not None and only_if_missing:
                return  # the client set something else there: a default never replaces it
            child = node[key] = {}
        node = child
    if only_if_missing and node.get(leaf) is not None:
        return
    node[leaf] = value


def _remove(body: dict[str, Any], path: str) -> None:
    *parents, leaf = path.split(".")
    node: Any = body
    for key in parents:
        node = node.get(key) if isinstance(node, dict) else None
        if node is None:
            return
    if isinstance(node, dict):
        node.pop(leaf, None)
