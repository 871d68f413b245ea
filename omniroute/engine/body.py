"""A model call's request body: one JSON object, or a clear 400 saying what is wrong.

Shared by the API routes (after reading the body within its size limit) and the AgentBridge's
in-process answers (mitmproxy has the body already).
"""

from __future__ import annotations

import json
from typing import Any

from omniroute.engine.errors import BadRequest


def parse_json_object(raw: bytes | None) -> dict[str, Any]:
    if not raw or not raw.strip():
        raise BadRequest("request body is empty; send a JSON object")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}") from None
    except RecursionError:  # the C decoder's depth guard: ~1,000 nested arrays/objects
        raise BadRequest("request body nests arrays or objects too deeply") from None
    if not isinstance(data, dict):
        raise BadRequest(f"request body must be a JSON object, got {type(data).__name__}")
    return data
