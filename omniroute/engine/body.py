"""A model call's request body: one JSON object, or a clear 400 saying what is wrong.

Shared by the API routes (after reading the body within its size limit) and the AgentBridge's
in-process answers (mitmproxy has the body already). Management bodies, which FastAPI parses,
get the same depth limit from `omniroute.api.guard_pass.limited_receive` through `DepthScanner`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from omniroute.engine.errors import BadRequest

# Deeper bodies are refused before parsing: the C decoder takes ~10,000 levels, but what we
# do with a body afterwards (translation, masking, re-encoding) recurses in Python, and no
# model API body nests past a few dozen.
MAX_JSON_DEPTH = 500
TOO_DEEP = f"request body nests arrays or objects more than {MAX_JSON_DEPTH} levels deep"
_STRUCTURE = re.compile(rb'[\[\]{}"\\]')


class DepthScanner:
    """The nesting depth of JSON text fed in chunks, strings skipped; `feed` is False once it
    has passed ``limit``. For bodies FastAPI parses itself (management routes), checked as
    they arrive; only brackets, quotes and backslashes are looked at (one regex)."""

    __slots__ = ("_depth", "_in_string", "_limit", "_offset", "_skip")

    def __init__(self, limit: int = MAX_JSON_DEPTH) -> None:
        self._limit = limit
        self._depth = 0
        self._in_string = False
        self._offset = 0  # of the current chunk in the whole text
        self._skip = -1  # the offset of a character escaped by a backslash

    def feed(self, chunk: bytes) -> bool:
        depth, in_string, skip, base = self._depth, self._in_string, self._skip, self._offset
        if depth > self._limit:
            return False
        for match in _STRUCTURE.finditer(chunk):
            at = base + match.start()
            if at == skip:
                continue
            char = match.group()
            if in_string:
                if char == b"\\":
                    skip = at + 1
                elif char == b'"':
                    in_string = False
            elif char == b'"':
                in_string = True
            elif char in b"[{":
                depth += 1
                if depth > self._limit:
                    break
            elif char in b"]}":
                depth -= 1
        self._depth, self._in_string, self._skip = depth, in_string, skip
        self._offset = base + len(chunk)
        return depth <= self._limit


def nests_too_deep(data: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """For a parsed body: an explicit stack (no recursion), containers only."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        for child in node.values() if isinstance(node, dict) else node:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
    return False


def parse_json_object(raw: bytes | None) -> dict[str, Any]:
    if not raw or not raw.strip():
        raise BadRequest("request body is empty; send a JSON object")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}") from None
    except RecursionError:  # the C decoder's own depth guard
        raise BadRequest(TOO_DEEP) from None
    if not isinstance(data, dict):
        raise BadRequest(f"request body must be a JSON object, got {type(data).__name__}")
    # Fewer brackets than the limit cannot nest past it: most bodies skip the walk.
    if raw.count(b"[") + raw.count(b"{") > MAX_JSON_DEPTH and nests_too_deep(data):
        raise BadRequest(TOO_DEEP)
    return data
