from __future__ import annotations

import pytest

from omniroute.bridge.mapping import (
    MappingRule,
    PatternKind,
    match_rule,
    pattern_kind,
    resolve_mapping,
    validate_pattern,
    validate_rules,
)

RULES = [
    MappingRule("*", "demo/catch-all"),
    MappingRule("claude-*", "demo/short-glob"),
    MappingRule("claude-sonnet-*", "demo/long-glob"),
    MappingRule("claude-sonnet-4-5", "demo/exact"),
    MappingRule("gpt-4?", "demo/gpt4x"),
    MappingRule("o[13]-*", "demo/o-series"),
]


@pytest.mark.parametrize(
    ("model", "target"),
    [
        ("claude-sonnet-4-5", "demo/exact"),  # exact beats every glob
        ("CLAUDE-SONNET-4-5", "demo/exact"),  # case-insensitive
        ("claude-sonnet-4", "demo/long-glob"),  # longer glob beats shorter
        ("claude-opus-4", "demo/short-glob"),
        ("gpt-4o", "demo/gpt4x"),
        ("gpt-4o-mini", "demo/catch-all"),  # '?' is exactly one character
        ("o1-preview", "demo/o-series"),
        ("o2-preview", "demo/catch-all"),
        ("anything-else", "demo/catch-all"),
    ],
)
def test_precedence(model: str, target: str) -> None:
    assert resolve_mapping(RULES, model) == target


def test_order_does_not_change_precedence() -> None:
    for rotation in range(len(RULES)):
        rules = RULES[rotation:] + RULES[:rotation]
        assert resolve_mapping(rules, "claude-sonnet-4-5") == "demo/exact"
        assert resolve_mapping(rules, "claude-sonnet-4") == "demo/long-glob"


def test_equal_length_globs_first_listed_wins() -> None:
    rules = [("gpt-*-x", "first"), ("gpt-x-*", "second")]
    assert resolve_mapping(rules, "gpt-x-x") == "first"


def test_no_rules_or_no_model_is_unmapped() -> None:
    assert resolve_mapping([], "gpt-4o") is None
    assert resolve_mapping([MappingRule("claude-*", "x")], "gpt-4o") is None
    assert resolve_mapping(RULES, None) is None
    assert resolve_mapping(RULES, "") is None


def test_accepts_db_rows_and_skips_invalid_stored_rules() -> None:
    rows = [
        {"source_model": "gpt-[4", "target_model": "broken"},
        {"source_model": "gpt-4o", "target_model": "demo/a"},
    ]
    assert resolve_mapping(rows, "gpt-4o") == "demo/a"
    assert resolve_mapping([{"source": "*", "target": "demo/b"}], "x") == "demo/b"
    rule = match_rule(rows, "gpt-4o")
    assert rule == MappingRule("gpt-4o", "demo/a") and rule.kind is PatternKind.EXACT


def test_pattern_kind() -> None:
    assert pattern_kind("*") is PatternKind.CATCH_ALL
    assert pattern_kind("gpt-*") is PatternKind.GLOB
    assert pattern_kind("o[13]") is PatternKind.GLOB
    assert pattern_kind("gpt-4o") is PatternKind.EXACT


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("", "empty"),
        (" gpt-4o", "whitespace"),
        ("gpt 4o", "whitespace"),
        ("gpt-4o\t", "whitespace"),
        ("gpt-\x014o", "control character"),
        ("gpt-\x7f", "control character"),
        ("gpt-[4", "unclosed '\\['"),
        ("o[!13-*", "unclosed '\\['"),
        ("x" * 300, "longer than"),
    ],
)
def test_validate_pattern_rejects(pattern: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_pattern(pattern)


@pytest.mark.parametrize("pattern", ["*", "gpt-4o", "claude-*", "o[13]-*", "[]]x", "[!a]b", "a]b"])
def test_validate_pattern_accepts(pattern: str) -> None:
    assert validate_pattern(pattern) == pattern


def test_validate_rules() -> None:
    rules = validate_rules([{"source": "gpt-4o", "target": "anthropic/claude-sonnet-4"}])
    assert rules == [MappingRule("gpt-4o", "anthropic/claude-sonnet-4")]
    with pytest.raises(ValueError, match="more than once"):
        validate_rules([{"source": "gpt-4o", "target": "a"}, {"source": "GPT-4o", "target": "b"}])
    with pytest.raises(ValueError, match="target is empty"):
        validate_rules([{"source": "gpt-4o", "target": ""}])
