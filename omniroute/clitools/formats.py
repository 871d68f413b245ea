"""Reading, merging and writing the settings formats agents use: JSON, TOML and dotenv.

Merges never rewrite what they do not own: JSON keeps key order and the file's indent (the
agents write their settings with 2 spaces, as ``JSON.stringify(x, null, 2)`` does), TOML goes
through tomlkit so comments and layout survive, dotenv is edited line by line. A file that does
not parse is refused with ``SettingsFileError`` and never written.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError

from omniroute.files import atomic_write

Path_ = tuple[str, ...]
Matcher = Callable[[Any], bool]
MISSING = object()


class SettingsFileError(Exception):
    """A settings file we may not touch: it does not parse, or its shape is not what we merge into."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}; the file was left untouched")
        self.path = path


# -- files ---------------------------------------------------------------------------------
def read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        raise SettingsFileError(path, "is not UTF-8 text") from None


def write_text(path: Path, text: str) -> None:
    """Atomic replace; a new file is private (it may hold a key), an existing one keeps its mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        mode = 0o600
    atomic_write(path, text.encode("utf-8"), mode)


def remove(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


# -- JSON ----------------------------------------------------------------------------------
def parse_json(path: Path, text: str | None) -> dict[str, Any]:
    if text is None or not text.strip():
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SettingsFileError(path, f"is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    if not isinstance(data, dict):
        raise SettingsFileError(path, "holds JSON that is not an object")
    return data


def dump_json(data: Mapping[str, Any], original: str | None) -> str:
    indent: int | str = 2
    if original:
        found = re.search(r"^([ \t]+)\S", original, re.MULTILINE)
        if found:
            indent = len(found.group(1)) if " " in found.group(1) else found.group(1)
    text = json.dumps(data, indent=indent, ensure_ascii=False)
    return text + "\n" if original is None or original.endswith("\n") else text


def get_path(doc: Mapping[str, Any], path: Path_) -> Any:
    node: Any = doc
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return MISSING
        node = node[part]
    return node


def has_path(doc: Mapping[str, Any], path: Path_) -> bool:
    return get_path(doc, path) is not MISSING


def set_path(file: Path, doc: dict[str, Any], path: Path_, value: Any) -> None:
    node = doc
    for depth, part in enumerate(path[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise SettingsFileError(file, f"'{'.'.join(path[: depth + 1])}' is not an object")
        node = child
    node[path[-1]] = value


def restore_path(doc: dict[str, Any], path: Path_, before: Mapping[str, Any]) -> None:
    """Put ``path`` back as it was in ``before``: its old value, or gone (with the parents we made)."""
    old = get_path(before, path)
    if old is not MISSING:
        parent = get_path(doc, path[:-1]) if len(path) > 1 else doc
        if isinstance(parent, dict):
            parent[path[-1]] = old
        return
    for depth in range(len(path), 0, -1):
        parent = get_path(doc, path[: depth - 1]) if depth > 1 else doc
        if not isinstance(parent, dict) or path[depth - 1] not in parent:
            return
        if depth < len(path) and (parent[path[depth - 1]] or has_path(before, path[:depth])):
            return  # a parent that still holds something, or that existed before us, stays
        del parent[path[depth - 1]]


def list_at(file: Path, doc: dict[str, Any], path: Path_) -> list[Any]:
    found = get_path(doc, path)
    if found is MISSING:
        set_path(file, doc, path, [])
        found = get_path(doc, path)
    if not isinstance(found, list):
        raise SettingsFileError(file, f"'{'.'.join(path)}' is not a list")
    return found


def put_entry(file: Path, doc: dict[str, Any], path: Path_, ours: Matcher, entry: Any) -> None:
    items = list_at(file, doc, path)
    items[:] = [item for item in items if not ours(item)] + [entry]


def drop_entries(doc: dict[str, Any], path: Path_, ours: Matcher, before: Mapping[str, Any]) -> None:
    items = get_path(doc, path)
    if not isinstance(items, list):
        return
    items[:] = [item for item in items if not ours(item)]
    if not items and not has_path(before, path):
        restore_path(doc, path, before)


# -- TOML ----------------------------------------------------------------------------------
def parse_toml(path: Path, text: str | None) -> tomlkit.TOMLDocument:
    try:
        return tomlkit.parse(text or "")
    except TOMLKitError as exc:
        raise SettingsFileError(path, f"is not valid TOML ({exc})") from None


# -- dotenv --------------------------------------------------------------------------------
_ENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")


def parse_env(text: str | None) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in (text or "").splitlines():
        found = _ENV_LINE.match(line)
        if found and not line.lstrip().startswith("#"):
            raw = found.group(2)
            if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'":
                raw = raw[1:-1]
            values[found.group(1)] = raw
    return values


def edit_env(text: str | None, changes: Mapping[str, str | None]) -> str:
    """Set (or, for None, remove) variables; every other line stays byte for byte."""
    lines = (text or "").splitlines(keepends=True)
    pending = dict(changes)
    out: list[str] = []
    for line in lines:
        found = _ENV_LINE.match(line)
        name = found.group(1) if found and not line.lstrip().startswith("#") else None
        if name is None or name not in changes:
            out.append(line)
            continue
        value = pending.pop(name, None)
        if value is not None:
            out.append(f"{name}={_env_quote(value)}\n")
    if pending and out and not out[-1].endswith("\n"):
        out[-1] += "\n"
    out += [f"{name}={_env_quote(value)}\n" for name, value in pending.items() if value is not None]
    return "".join(out)


def _env_quote(value: str) -> str:
    return value if re.fullmatch(r"[A-Za-z0-9_./:@+-]*", value) else json.dumps(value)
