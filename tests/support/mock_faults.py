"""Fault injection for the mock provider: the fault value, its three sources, and the rule store.

A :class:`Fault` comes from (highest precedence first) the ``x-mock-fault`` request header
(plus ``x-mock-event-delay-ms``), a model-name shortcut (``fail-429``, ``slow-2000``,
``reset-3``, ``malformed-json``), or a rule added through ``POST /_mock/faults`` /
``MockProvider.add_fault``. Sources are merged field by field.
"""

from __future__ import annotations

import fnmatch
import itertools
import re
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal

MalformedKind = Literal["json", "sse"]
ResetMode = Literal["fin", "rst"]
# "http": a plain request; "ws": one response.create on a WebSocket; "ws_handshake": the upgrade.
MatchKind = Literal["http", "ws", "ws_handshake"]

_MALFORMED = ("json", "sse")
_RESET_MODES = ("fin", "rst")
_KINDS = ("http", "ws", "ws_handshake")


class FaultError(ValueError):
    """A fault spec that cannot be understood; the mock answers 400 rather than guess."""


@dataclass(frozen=True, slots=True)
class Fault:
    """What to do wrong. ``None`` means "not set", so faults from several sources can merge."""

    status: int | None = None  # answer with this error status, in the endpoint's error format
    retry_after: float | None = None  # Retry-After header (seconds) on the error
    delay_ms: float | None = None  # wait before the first byte (added to the server default)
    event_delay_ms: float | None = None  # wait between stream events
    reset_after: int | None = None  # close the TCP connection after this many stream events
    reset_mode: ResetMode | None = None  # "fin" (default): orderly close; "rst": TCP reset
    malformed: MalformedKind | None = None  # "json": broken payload; "sse": broken framing
    message: str | None = None  # error message to send with ``status``
    drip_ms: float | None = None  # send the body one byte at a time, this far apart
    drip_after: int | None = None  # stream events sent whole before the drip starts (default 0)
    pad_bytes: int | None = None  # make the reply this much bigger (a padding field / event)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Fault:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise FaultError(f"unknown fault field(s): {', '.join(sorted(unknown))}")
        try:
            fault = cls(
                status=_opt(int, data.get("status")),
                retry_after=_opt(float, data.get("retry_after")),
                delay_ms=_opt(float, data.get("delay_ms")),
                event_delay_ms=_opt(float, data.get("event_delay_ms")),
                reset_after=_opt(int, data.get("reset_after")),
                reset_mode=data.get("reset_mode"),
                malformed=data.get("malformed"),
                message=_opt(str, data.get("message")),
                drip_ms=_opt(float, data.get("drip_ms")),
                drip_after=_opt(int, data.get("drip_after")),
                pad_bytes=_opt(int, data.get("pad_bytes")),
            )
        except (TypeError, ValueError) as exc:
            raise FaultError(f"bad fault value: {exc}") from None
        fault.validate()
        return fault

    def validate(self) -> None:
        if self.status is not None and not 400 <= self.status <= 599:
            raise FaultError(f"fault status must be 400-599, got {self.status}")
        if self.malformed is not None and self.malformed not in _MALFORMED:
            raise FaultError(f"malformed must be one of {_MALFORMED}, got {self.malformed!r}")
        if self.reset_mode is not None and self.reset_mode not in _RESET_MODES:
            raise FaultError(f"reset_mode must be one of {_RESET_MODES}")
        for name in ("retry_after", "delay_ms", "event_delay_ms", "reset_after", "drip_ms",
                     "drip_after", "pad_bytes"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise FaultError(f"{name} must not be negative")

    def over(self, other: Fault | None) -> Fault:
        """This fault's set fields win; unset ones are taken from ``other``."""
        if other is None:
            return self
        changes = {f.name: getattr(other, f.name) for f in fields(self)
                   if getattr(self, f.name) is None}
        return replace(self, **changes)

    def is_empty(self) -> bool:
        return all(getattr(self, f.name) is None for f in fields(self))

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def _opt(kind: type, value: Any) -> Any:
    if value is None:
        return None
    if kind is int and isinstance(value, str):
        value = float(value)  # header values arrive as text; "2" and "2.0" both mean 2
    if kind is int and isinstance(value, float) and not value.is_integer():
        raise ValueError(f"expected an integer, got {value}")
    return kind(value)


def parse_fault_header(value: str) -> Fault:
    """Parse ``status=429;retry_after=2`` (``;`` or ``,`` separated ``key=value`` pairs)."""
    data: dict[str, str] = {}
    for item in re.split(r"[;,]", value):
        item = item.strip()
        if not item:
            continue
        key, sep, val = item.partition("=")
        if not sep:
            raise FaultError(f"x-mock-fault: expected key=value, got {item!r}")
        data[key.strip().replace("-", "_")] = val.strip()
    return Fault.from_mapping(data)


_SHORTCUTS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"fail-(\d{3})"), "status"),
    (re.compile(r"slow-(\d+)"), "delay_ms"),
    (re.compile(r"reset-(\d+)"), "reset_after"),
    (re.compile(r"malformed-(json|sse)"), "malformed"),
)


def fault_from_model(model: str | None) -> Fault | None:
    """Model-name shortcuts; only the last ``/`` segment counts, so ``mock/fail-429`` works."""
    if not model:
        return None
    name = model.rsplit("/", 1)[-1]
    for pattern, field_name in _SHORTCUTS:
        match = pattern.fullmatch(name)
        if match:
            try:
                return Fault.from_mapping({field_name: match.group(1)})
            except FaultError:
                return None  # e.g. fail-200: not a fault, just an odd model name
    return None


@dataclass(slots=True)
class FaultRule:
    """A fault plus what it matches; ``remaining`` counts down (None = applies forever)."""

    id: int
    fault: Fault
    path: str | None = None  # exact path, or an fnmatch pattern when it contains * ? [
    model: str | None = None
    method: str | None = None
    kind: MatchKind | None = None  # None matches "http" and "ws"; handshakes must opt in
    remaining: int | None = None
    hits: int = 0

    def matches(self, path: str, model: str | None, method: str, kind: MatchKind) -> bool:
        if self.kind is None:
            if kind == "ws_handshake":
                return False
        elif self.kind != kind:
            return False
        if self.method is not None and self.method.upper() != method.upper():
            return False
        if self.model is not None and self.model != model:
            return False
        if self.path is not None:
            if any(c in self.path for c in "*?["):
                return fnmatch.fnmatchcase(path, self.path)
            return self.path == path
        return True

    def to_dict(self) -> dict[str, Any]:
        match = {k: v for k, v in (("path", self.path), ("model", self.model),
                                   ("method", self.method), ("kind", self.kind)) if v}
        return {"id": self.id, **self.fault.to_dict(), "match": match,
                "count": self.remaining, "hits": self.hits}


class FaultStore:
    """Rules shared by the server thread and the test thread, hence the lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._ids = itertools.count(1)

    def add(self, fault: Fault, *, path: str | None = None, model: str | None = None,
            method: str | None = None, kind: MatchKind | None = None,
            count: int | None = None) -> FaultRule:
        if kind is not None and kind not in _KINDS:
            raise FaultError(f"match.kind must be one of {_KINDS}")
        if count is not None and count < 1:
            raise FaultError("count must be >= 1 or null")
        with self._lock:
            rule = FaultRule(next(self._ids), fault, path, model, method, kind, count)
            self._rules.append(rule)
            return rule

    def add_from_json(self, data: Mapping[str, Any]) -> FaultRule:
        """The ``POST /_mock/faults`` body: fault fields plus ``match`` and ``count``."""
        body = dict(data)
        match = body.pop("match", None) or {}
        count = body.pop("count", None)
        if not isinstance(match, dict):
            raise FaultError("match must be an object")
        unknown = set(match) - {"path", "model", "method", "kind"}
        if unknown:
            raise FaultError(f"unknown match field(s): {', '.join(sorted(unknown))}")
        try:
            count = None if count is None else int(count)
        except (TypeError, ValueError):
            raise FaultError("count must be an integer or null") from None
        return self.add(Fault.from_mapping(body), path=match.get("path"),
                        model=match.get("model"), method=match.get("method"),
                        kind=match.get("kind"), count=count)

    def take(self, path: str, model: str | None, method: str, kind: MatchKind) -> Fault | None:
        """First matching rule's fault; consumes one of its uses."""
        with self._lock:
            for rule in self._rules:
                if rule.matches(path, model, method, kind):
                    rule.hits += 1
                    if rule.remaining is not None:
                        rule.remaining -= 1
                        if rule.remaining <= 0:
                            self._rules.remove(rule)
                    return rule.fault
        return None

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return [rule.to_dict() for rule in self._rules]
