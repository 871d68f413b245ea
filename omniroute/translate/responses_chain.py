"""``previous_response_id`` on one Responses WebSocket, kept by us.

On its WebSocket Codex sends each request after the first with ``previous_response_id`` and
only the new input items, as OpenAI keeps the conversation of a socket. A provider of another
format (or our own answer to the warm-up) keeps nothing, so the socket keeps it: the last
response's input and output items, and a request that names that response gets them put back
in front of its own input. A request naming any other response is left as it is.
"""

from __future__ import annotations

import json
from typing import Any


class Chain:
    __slots__ = ("_id", "_items", "_output", "_pending")

    def __init__(self) -> None:
        self._id: str | None = None
        self._items: list[Any] = []  # the whole input of the last response, then its output
        self._output: list[Any] = []
        self._pending: list[Any] = []

    def expand(self, body: dict[str, Any]) -> dict[str, Any]:
        """``body`` with the conversation it continues, when it continues the last response."""
        inp = body.get("input")
        items = [{"type": "message", "role": "user", "content": inp}] if isinstance(inp, str) else list(inp or [])
        if self._id is not None and body.get("previous_response_id") == self._id:
            body = {k: v for k, v in body.items() if k != "previous_response_id"}
            items = self._items + items
            body["input"] = items
        self._pending, self._output = items, []
        return body

    def event(self, data: str) -> None:
        """One event sent back for the current request (the text of its JSON)."""
        head = data[:64].replace(" ", "")
        if '"type":"response.output_item.done"' in head:
            item = json.loads(data).get("item")
            if isinstance(item, dict):
                self._output.append(item)
        elif '"type":"response.completed"' in head or '"type":"response.incomplete"' in head:
            rid = (json.loads(data).get("response") or {}).get("id")
            if isinstance(rid, str) and rid:
                self._id, self._items = rid, self._pending + self._output
