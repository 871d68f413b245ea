"""Shared state of one mock provider app: recorded requests, fault rules, delays."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

from starlette.requests import HTTPConnection

from tests.support.mock_faults import (
    Fault,
    FaultStore,
    MatchKind,
    fault_from_model,
    parse_fault_header,
)
from tests.support.mock_formats import Ids

JSON = dict[str, Any]
FAULT_HEADER = "x-mock-fault"
EVENT_DELAY_HEADER = "x-mock-event-delay-ms"
NO_FAULT = Fault()


class MockState:
    """Everything the app shares with ``MockProvider`` (which reads it from another thread)."""

    def __init__(self, default_delay_ms: float, default_event_delay_ms: float,
                 models: Sequence[str], max_requests: int) -> None:
        self.default_delay_ms = default_delay_ms
        self.default_event_delay_ms = default_event_delay_ms
        self.models = tuple(models)
        self.max_requests = max_requests
        self.requests: list[JSON] = []
        self.faults = FaultStore()
        self.ids = Ids()
        self._lock = threading.Lock()
        self._seq = 0

    def record(self, conn: HTTPConnection, kind: str, body: Any, raw: bytes, model: str | None,
               fault: Fault) -> JSON:
        headers: dict[str, str] = {}
        for key, value in conn.headers.items():
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        entry: JSON = {
            "kind": kind, "method": conn.scope.get("method", "GET"), "path": conn.url.path,
            "query": dict(conn.query_params), "headers": headers, "body": body,
            "body_text": None if body is not None or not raw else raw.decode("utf-8", "replace"),
            "model": model, "fault": fault.to_dict() or None, "time": time.time(),
        }
        if kind == "websocket":
            entry["frames"] = []
        with self._lock:
            self._seq += 1
            entry["id"] = self._seq
            self.requests.append(entry)
            if len(self.requests) > self.max_requests:  # long benchmarks must not grow forever
                del self.requests[: len(self.requests) - self.max_requests]
        return entry

    def clear_requests(self) -> None:
        with self._lock:
            self.requests.clear()

    def resolve_fault(self, conn: HTTPConnection, model: str | None, kind: MatchKind) -> Fault:
        """Header beats model shortcut beats control-API rule. Raises FaultError on a bad header."""
        fault = NO_FAULT
        header = conn.headers.get(FAULT_HEADER)
        if header:
            fault = parse_fault_header(header)
        event_delay = conn.headers.get(EVENT_DELAY_HEADER)
        if event_delay:
            fault = fault.over(Fault.from_mapping({"event_delay_ms": event_delay}))
        fault = fault.over(fault_from_model(model))
        method = conn.scope.get("method", "GET")
        return fault.over(self.faults.take(conn.url.path, model, method, kind))

    def first_byte_delay(self, fault: Fault) -> float:
        return (self.default_delay_ms + (fault.delay_ms or 0.0)) / 1000.0

    def event_delay(self, fault: Fault) -> float:
        ms = fault.event_delay_ms
        return (self.default_event_delay_ms if ms is None else ms) / 1000.0
