"""Pure matching of an agent's requested model against its mapping rules.

A rule's source is an exact model name, a glob (``claude-*``, ``gpt-4?``, ``o[13]-*``) or the
``*`` catch-all. Precedence: exact beats glob beats ``*``; among globs the longer pattern
wins (it says more about the model), then the one listed first. Matching ignores case: agents
are inconsistent about it (``GPT-4o`` vs ``gpt-4o``) and no provider has two models that differ
only by case.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from fnmatch import fnmatchcase
from typing import Any

CATCH_ALL = "*"
_GLOB_CHARS = frozenset("*?[")
MAX_PATTERN_LENGTH = 256


class PatternKind(StrEnum):
    EXACT = "exact"
    GLOB = "glob"
    CATCH_ALL = "catch-all"


@dataclass(frozen=True)
class MappingRule:
    source: str
    target: str

    @property
    def kind(self) -> PatternKind:
        return pattern_kind(self.source)


def pattern_kind(pattern: str) -> PatternKind:
    if pattern == CATCH_ALL:
        return PatternKind.CATCH_ALL
    if _GLOB_CHARS & set(pattern):
        return PatternKind.GLOB
    return PatternKind.EXACT


def _check_text(value: str, what: str) -> str:
    if not isinstance(value, str):
        # ValueError like every other bad rule: callers turn it into the API's 400.
        raise ValueError(f"{what} must be a string, got {type(value).__name__}")  # noqa: TRY004
    if not value:
        raise ValueError(f"{what} is empty")
    if len(value) > MAX_PATTERN_LENGTH:
        raise ValueError(f"{what} is longer than {MAX_PATTERN_LENGTH} characters")
    for ch in value:
        if ch.isspace():
            raise ValueError(f"{what} {value!r} contains whitespace; model names never do")
        if ord(ch) < 0x20 or ord(ch) == 0x7F:
            raise ValueError(f"{what} {value!r} contains a control character")
    return value


def validate_pattern(pattern: str) -> str:
    """Return ``pattern`` if usable as a mapping source, else raise ValueError saying why."""
    _check_text(pattern, "pattern")
    # fnmatch silently treats an unclosed '[' as a literal, which would make "gpt-[4" match
    # nothing the user meant; reject it instead.
    i = 0
    while i < len(pattern):
        if pattern[i] == "[":
            j = i + 1
            if j < len(pattern) and pattern[j] == "!":
                j += 1
            if j < len(pattern) and pattern[j] == "]":
                j += 1  # a leading ']' is a literal member of the set
            close = pattern.find("]", j)
            if close == -1:
                raise ValueError(
                    f"pattern {pattern!r} has an unclosed '[' at position {i}; "
                    "close the character set with ']'"
                )
            i = close + 1
        else:
            i += 1
    return pattern


def validate_target(target: str) -> str:
    """A target is anything the engine resolves (``connection/model``, alias, combo)."""
    return _check_text(target, "target")


def validate_rules(rules: Iterable[Mapping[str, Any] | MappingRule]) -> list[MappingRule]:
    """Validate a PUT body's ``[{source, target}]``; duplicate sources are an error."""
    out: list[MappingRule] = []
    seen: set[str] = set()
    for item in rules:
        rule = _as_rule(item)
        validate_pattern(rule.source)
        validate_target(rule.target)
        key = rule.source.casefold()
        if key in seen:
            raise ValueError(f"source {rule.source!r} appears more than once")
        seen.add(key)
        out.append(rule)
    return out


def _as_rule(item: Mapping[str, Any] | MappingRule | tuple[str, str]) -> MappingRule:
    if isinstance(item, MappingRule):
        return item
    if isinstance(item, tuple):
        return MappingRule(item[0], item[1])
    source = item.get("source", item.get("source_model"))
    target = item.get("target", item.get("target_model"))
    return MappingRule(str(source or ""), str(target or ""))


def match_rule(
    rules: Iterable[Mapping[str, Any] | MappingRule | tuple[str, str]], model: str | None
) -> MappingRule | None:
    """The rule that applies to ``model``, or None when the call stays unmapped.

    Rules that fail validation are skipped rather than raised: a bad row stored by an older
    version must not break every call of that agent.
    """
    if not model:
        return None
    wanted = model.casefold()
    best: tuple[int, int, int] | None = None  # (kind rank, -length, order)
    chosen: MappingRule | None = None
    for order, item in enumerate(rules):
        rule = _as_rule(item)
        try:
            validate_pattern(rule.source)
        except ValueError:
            continue
        kind = rule.kind
        source = rule.source.casefold()
        if kind is PatternKind.EXACT:
            if source != wanted:
                continue
            key = (0, 0, order)
        elif kind is PatternKind.GLOB:
            if not fnmatchcase(wanted, source):
                continue
            key = (1, -len(source), order)
        else:
            key = (2, 0, order)
        if best is None or key < best:
            best, chosen = key, rule
    return chosen


def resolve_mapping(
    rules: Iterable[Mapping[str, Any] | MappingRule | tuple[str, str]], model: str | None
) -> str | None:
    """The target for ``model``, or None when no rule applies."""
    rule = match_rule(rules, model)
    return rule.target if rule else None
