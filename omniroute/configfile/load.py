"""Read and validate a config file, every problem at once, each with its line and key.

Nothing here touches the database: `apply` does the checks that need it (a combo naming a
connection the API created, say) and reports them the same way.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from omniroute.bridge.catalog import AgentCatalog
from omniroute.configfile.schema import ENV_REF, ConfigFile

Loc = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Problem:
    line: int
    key: str  # e.g. providers[0].url
    message: str

    def render(self, path: Path) -> str:
        return f"{path}:{self.line}: {self.key or '(file)'}: {self.message}"


class ConfigFileError(Exception):
    """A file that cannot be applied; nothing was changed. One line per problem."""

    def __init__(self, path: Path, problems: Sequence[Problem]) -> None:
        self.path = path
        self.problems = list(problems)
        super().__init__("\n".join(self.lines()))

    def lines(self) -> list[str]:
        return [problem.render(self.path) for problem in self.problems]


def key_name(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def line_of(doc: Any, loc: Loc) -> int:
    """1-based line of the deepest part of ``loc`` present in the parsed document."""
    node, line = doc, 1
    for part in loc:
        if isinstance(node, CommentedMap) and part in node:
            line = node.lc.key(part)[0] + 1
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
            line = node.lc.item(part)[0] + 1
        else:
            break
        node = node[part]
    return line


@dataclass(frozen=True)
class LoadedConfig:
    path: Path
    config: ConfigFile
    doc: Any = field(repr=False)
    api_keys: Mapping[str, str] = field(default_factory=dict, repr=False)  # connection → key

    def problem(self, loc: Loc, message: str) -> Problem:
        return Problem(line_of(self.doc, loc), key_name(loc), message)


def _parse(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ConfigFileError(path, [Problem(1, "", f"cannot read the file: {reason}")]) from None
    try:
        doc = YAML(typ="rt", pure=True).load(text)  # JSON is YAML too
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        what = " ".join(str(exc.problem or exc.context or "invalid YAML").split())
        raise ConfigFileError(path, [Problem(line, "", f"not valid YAML: {what}")]) from None
    except YAMLError as exc:
        raise ConfigFileError(path, [Problem(1, "", f"not valid YAML: {exc}")]) from None
    if doc is None:
        return CommentedMap()
    if not isinstance(doc, CommentedMap):
        raise ConfigFileError(path, [Problem(1, "", "the file must be a mapping of sections "
                                             "(providers, aliases, combos, ...)")])
    return doc


def _message(error: Mapping[str, Any]) -> str:
    text = str(error.get("msg", "invalid"))
    return text.removeprefix("Value error, ")


def _plain(node: Any) -> Any:
    """ruamel's commented containers as plain dicts and lists, for pydantic."""
    if isinstance(node, Mapping):
        return {str(k) if not isinstance(k, str) else k: _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def _entries(raw: Mapping[str, Any], section: str) -> list[tuple[int, Mapping[str, Any]]]:
    items = raw.get(section)
    if not isinstance(items, list):
        return []
    return [(index, item) for index, item in enumerate(items) if isinstance(item, Mapping)]


def _duplicates(raw: Mapping[str, Any], problem: Callable[[Loc, str], Problem]) -> list[Problem]:
    problems = []
    for section, attr in (("providers", "name"), ("combos", "name"), ("fallbacks", "model"),
                          ("apiKeys", "keyHash")):
        seen: set[Any] = set()
        for index, entry in _entries(raw, section):
            value = entry.get(attr)
            if value is not None and value in seen:
                problems.append(problem((section, index, attr), f"{value!r} appears more than once in {section}"))
            seen.add(value)
    combos = {entry.get("name") for _, entry in _entries(raw, "combos")}
    aliases = raw.get("aliases")
    for alias in aliases if isinstance(aliases, Mapping) else ():
        if alias in combos:
            problems.append(problem(("aliases", alias), f"{alias!r} is also a combo name; combos resolve "
                                    "first, so the alias would never be used"))
    return problems


def _agents(raw: Mapping[str, Any], problem: Callable[[Loc, str], Problem]) -> list[Problem]:
    agents = raw.get("agents")
    catalog = AgentCatalog()
    known = ", ".join(sorted(spec.id for spec in catalog))
    problems = []
    for agent, entry in (agents.items() if isinstance(agents, Mapping) else ()):
        defines = isinstance(entry, Mapping) and entry.get("wireFormat") is not None
        if agent in catalog and defines:
            problems.append(problem(("agents", agent), f"{agent!r} is a built-in agent's id; "
                                    "give your own agent another id"))
        elif agent not in catalog and not defines:
            problems.append(problem(("agents", agent), f"unknown agent {agent!r}; known: {known} "
                                    "(or define your own with wireFormat and hosts / userAgents)"))
    return problems


def _api_keys(raw: Mapping[str, Any], env: Mapping[str, str],
              problem: Callable[[Loc, str], Problem]) -> tuple[dict[str, str], list[Problem]]:
    """Each provider's key from the environment variable its `env:NAME` reference names."""
    keys, problems = {}, []
    for index, entry in _entries(raw, "providers"):
        match = ENV_REF.match(str(entry.get("apiKey") or ""))
        if match is None:
            continue  # absent, or not a reference: the schema says so
        value = env.get(match.group(1))
        if value:
            keys[str(entry.get("name"))] = value
        else:
            problems.append(problem(("providers", index, "apiKey"),
                                    f"environment variable {match.group(1)} is not set"))
    return keys, problems


def load(path: Path, env: Mapping[str, str] | None = None) -> LoadedConfig:
    """The validated file, keys read from the environment; ConfigFileError lists every problem."""
    doc = _parse(path)
    raw = _plain(doc)

    def problem(loc: Loc, message: str) -> Problem:
        return Problem(line_of(doc, loc), key_name(loc), message)

    problems: list[Problem] = []
    config = None
    try:
        config = ConfigFile.model_validate(raw)
    except ValidationError as exc:
        problems += [problem(tuple(err["loc"]), _message(err)) for err in exc.errors()]
    keys, missing = _api_keys(raw, os.environ if env is None else env, problem)
    problems += missing + _duplicates(raw, problem) + _agents(raw, problem)
    if problems or config is None:
        unique = {(p.line, p.key, p.message): p for p in problems}  # the schema may say it too
        raise ConfigFileError(path, sorted(unique.values(), key=lambda p: p.line))
    return LoadedConfig(path, config, doc, keys)
