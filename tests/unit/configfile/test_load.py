"""Reading a config file: every problem at once, each with the file, line and key; the JSON
Schema shipped with the package is the one the pydantic model generates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from omniroute.configfile import ConfigFileError, load, schema_path
from omniroute.configfile.schema import json_schema

ISSUE_EXAMPLE = """\
providers:
  - {name: work, provider: openai, url: "https://api.openai.com/v1", apiKey: "env:OPENAI_API_KEY"}
aliases: {fast: work/gpt-4o-mini}
combos:
  - {name: coder, model: gpt-4o, strategy: priority, nodes: [{connection: work, priority: 1}]}
agents:
  claude-code: {mappings: [{source: "*", target: fast}]}
"""


def problems(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> list[str]:
    path = tmp_path / "omniroute.yaml"
    path.write_text(text)
    with pytest.raises(ConfigFileError) as caught:
        load(path, env or {})
    return [line.removeprefix(f"{path}:") for line in caught.value.lines()]


def test_the_documented_example_loads_with_its_key_from_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "omniroute.yaml"
    path.write_text(ISSUE_EXAMPLE)
    loaded = load(path, {"OPENAI_API_KEY": "sk-from-env"})
    assert loaded.api_keys == {"work": "sk-from-env"}
    assert loaded.config.combos[0].nodes[0].connection == "work"
    assert loaded.config.agents["claude-code"].mappings[0].target == "fast"


def test_json_is_accepted_too(tmp_path: Path) -> None:
    path = tmp_path / "omniroute.json"
    path.write_text(json.dumps({"aliases": {"fast": "work/gpt-4o-mini"}}))
    assert load(path, {}).config.aliases == {"fast": "work/gpt-4o-mini"}


def test_every_problem_is_one_line_with_its_line_and_key(tmp_path: Path) -> None:
    text = """\
providers:
  - name: work
    provider: openai
    url: "https://user:pw@api.openai.com/v1"
    apiKey: sk-inline-secret
  - {name: other, provider: nosuch, apiKey: "env:MISSING_KEY"}
combos:
  - {name: coder, model: gpt-4o, strategy: fastest-ever, nodes: []}
aliases: {coder: work/gpt-4o}
agents:
  claude-code: {mappings: [{source: "*", target: a}, {source: "*", target: b}]}
bypass: ["*"]
unknown_section: 1
"""
    lines = problems(tmp_path, text)
    assert lines[2].startswith("6: providers[1].provider: unknown provider type; supported: ")
    assert "openai" in lines[2] and "anthropic" in lines[2]
    assert lines[4].startswith("8: combos[0].strategy: ") and "fastest-ever" in lines[4]
    assert lines[:2] + lines[3:4] + lines[5:] == [
        "4: providers[0].url: must not carry credentials (user:password@); put the key in apiKey",
        "5: providers[0].apiKey: must be an environment variable reference like 'env:OPENAI_API_KEY' "
        "(secrets stay out of a file kept under version control)",
        "6: providers[1].apiKey: environment variable MISSING_KEY is not set",
        "9: aliases.coder: 'coder' is also a combo name; combos resolve first, so the alias would never be used",
        "11: agents.claude-code.mappings: source '*' appears more than once",
        "12: bypass[0]: bypass pattern '*' would bypass every host",
        "13: unknown_section: Extra inputs are not permitted",
    ]


def test_yaml_syntax_and_shape_errors_name_the_line(tmp_path: Path) -> None:
    assert problems(tmp_path, "aliases:\n  fast: [unclosed\n") == [
        "3: (file): not valid YAML: expected ',' or ']', but got '<stream end>'"]
    assert problems(tmp_path, "aliases: {a: x}\naliases: {b: y}\n")[0].startswith("2: (file): not valid YAML")
    assert problems(tmp_path, "- just\n- a list\n") == [
        "1: (file): the file must be a mapping of sections (providers, aliases, combos, ...)"]


def test_duplicate_names_are_reported_where_they_repeat(tmp_path: Path) -> None:
    text = "providers:\n  - {name: a, provider: openai}\n  - {name: a, provider: anthropic}\n"
    assert problems(tmp_path, text) == ["3: providers[1].name: 'a' appears more than once in providers"]


def test_an_unreadable_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigFileError) as caught:
        load(tmp_path / "absent.yaml", {})
    assert caught.value.lines() == [f"{tmp_path / 'absent.yaml'}:1: (file): cannot read the file: "
                                    "No such file or directory"]


def test_the_published_json_schema_is_the_models() -> None:
    # An API model changed? Regenerate: python -m omniroute.configfile
    assert json.loads(schema_path().read_text()) == json_schema(), "regenerate the schema file"
