"""The bounded in-memory buffer of captured rows, with filters and a live-event fan-out.

An ``OrderedDict`` keyed by id gives O(1) insert, update and get, eviction of the oldest row and
newest-first iteration; memory is bounded by ``capacity`` rows. Live events go to subscriber
queues with ``put_nowait`` only: capture never awaits. A subscriber whose queue is full loses
its queued events and receives ``{"type": "resync"}`` (then the event that overflowed): it
must fetch a fresh snapshot, and treat later ``new``/``update`` events as upserts.
Live *listeners* (the inspector's WebSocket clients) are capped in number, and one that
overflows again before it has caught up is dropped (its queue ends with ``CLOSED``): a slow or
idle viewer costs the proxy one ``put_nowait`` per event at most, never more.
Call the mutating methods from the event loop's thread (mitmproxy hooks and ASGI handlers
share one loop).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from omniroute.inspector.model import InterceptedRequest

Event = dict[str, Any]
RESYNC: Event = {"type": "resync"}
CLOSED: Event = {"type": "closed"}  # the last item of a dropped listener's queue


class TooManyListeners(Exception):
    """The live-listener cap is reached."""


class LiveEvent(dict[str, Any]):
    """An event that keeps its JSON text: encoded once, however many listeners send it."""

    __slots__ = ("_text",)

    def text(self) -> str:
        try:
            return self._text
        except AttributeError:
            self._text: str = json.dumps(self)
            return self._text


def event_text(event: Event) -> str:
    return event.text() if isinstance(event, LiveEvent) else json.dumps(event)


@dataclass(slots=True)
class RingFilter:
    """Filters of the ``requests`` API; all given ones must match."""

    profile: str | None = None  # llm | custom | all
    host: str | None = None  # exact, or a glob like *.openai.com
    agent: str | None = None
    status: str | None = None  # 2xx..5xx | error | in-flight | an exact code "429"
    source: str | None = None
    session_id: str | None = None
    q: str | None = None  # case-insensitive text over host, path, models, bodies, annotation
    predicate: Callable[[InterceptedRequest], bool] | None = None  # e.g. a flow filter
    _q: re.Pattern[str] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self._q = re.compile(re.escape(self.q), re.IGNORECASE) if self.q else None

    def matches(self, row: InterceptedRequest) -> bool:
        if self.profile == "llm" and row.detected_kind != "llm":
            return False
        if self.profile == "custom" and row.source != "custom-host":
            return False
        if self.host:
            host = row.host.lower()
            pat = self.host.lower()
            if host != pat and not ("*" in pat and fnmatchcase(host, pat)):
                return False
        if self.agent and row.agent != self.agent:
            return False
        if self.source and row.source != self.source:
            return False
        if self.session_id and row.session_id != self.session_id:
            return False
        if self.status and not _status_matches(row, self.status):
            return False
        if self._q is not None and not any(
                self._q.search(v) for v in (row.host, row.path, row.source_model,
                                            row.mapped_model, row.request_body,
                                            row.response_body, row.annotation, row.note,
                                            row.error) if v):
            return False
        return self.predicate is None or bool(self.predicate(row))


def _status_matches(row: InterceptedRequest, status: str) -> bool:
    if status.isdigit():
        return row.status == int(status)
    return row.status_class == status


@dataclass(slots=True)
class Page:
    items: list[InterceptedRequest]
    total: int
    next_cursor: str | None


class _Subscriber:
    __slots__ = ("dropped", "lagging", "listener", "queue")

    def __init__(self, maxsize: int, listener: bool) -> None:
        self.queue: asyncio.Queue[Event] = asyncio.Queue(maxsize)
        self.dropped = 0
        self.listener = listener
        self.lagging = False  # overflowed, and has not emptied its queue since

    def offer(self, event: Event) -> bool:
        """Queue ``event``; False when this listener is too slow to keep (it got CLOSED)."""
        if self.lagging and self.queue.empty():
            self.lagging = False
        try:
            self.queue.put_nowait(event)
            return True
        except asyncio.QueueFull:
            pass
        # Too slow: drop what is queued (the client resyncs from a snapshot anyway).
        self._drain()
        if self.listener and self.lagging:
            self.queue.put_nowait(CLOSED)
            return False
        self.lagging = True
        self.queue.put_nowait(RESYNC)
        self.queue.put_nowait(event)
        return True

    def _drain(self) -> None:
        while not self.queue.empty():
            self.queue.get_nowait()
            self.dropped += 1


class Ring:
    def __init__(self, capacity: int = 1000, subscriber_queue: int = 256, max_listeners: int = 32) -> None:
        if capacity < 1 or subscriber_queue < 2 or max_listeners < 1:
            raise ValueError("capacity and max_listeners must be >= 1 and subscriber_queue >= 2")
        self.capacity = capacity
        self.subscriber_queue = subscriber_queue
        self.max_listeners = max_listeners
        self._rows: OrderedDict[str, tuple[int, InterceptedRequest]] = OrderedDict()
        self._seq = 0
        self._subs: dict[asyncio.Queue[Event], _Subscriber] = {}

    # ---- rows ----
    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[InterceptedRequest]:
        """Newest first."""
        return (row for _, row in reversed(self._rows.values()))

    def __contains__(self, row_id: object) -> bool:
        return row_id in self._rows

    def get(self, row_id: str) -> InterceptedRequest | None:
        entry = self._rows.get(row_id)
        return entry[1] if entry else None

    def add(self, row: InterceptedRequest) -> None:
        """Insert a new row (an existing id is updated instead); evicts the oldest."""
        if row.id in self._rows:
            self.update(row)
            return
        self._seq += 1
        self._rows[row.id] = (self._seq, row)
        if len(self._rows) > self.capacity:
            self._rows.popitem(last=False)
        self._publish("new", row)

    def update(self, row: InterceptedRequest | str, **changes: Any) -> InterceptedRequest | None:
        """Replace a row (same id) or set fields on it; None if it was evicted or unknown."""
        row_id = row if isinstance(row, str) else row.id
        entry = self._rows.get(row_id)
        if entry is None:
            return None
        current = entry[1] if isinstance(row, str) else row
        for key, value in changes.items():
            setattr(current, key, value)
        self._rows[row_id] = (entry[0], current)
        self._publish("update", current)
        return current

    def clear(self) -> None:
        self._rows.clear()
        self._broadcast({"type": "clear"})

    def query(self, filt: RingFilter | None = None, limit: int = 100, offset: int = 0,
              cursor: str | None = None) -> Page:
        """Newest-first page. ``cursor`` (from a previous page) continues after that page;
        ``total`` counts all matching rows."""
        after = int(cursor) if cursor and cursor.isdigit() else None
        items: list[InterceptedRequest] = []
        total = skipped = 0
        last_seq, more = None, False
        for seq, row in reversed(self._rows.values()):
            if filt is not None and not filt.matches(row):
                continue
            total += 1
            if after is not None and seq >= after:
                continue
            if skipped < offset:
                skipped += 1
                continue
            if len(items) < limit:
                items.append(row)
                last_seq = seq
            else:
                more = True
        return Page(items, total, str(last_seq) if more else None)

    # ---- live events ----
    def subscribe(self, *, listener: bool = False) -> asyncio.Queue[Event]:
        """A queue that first holds a snapshot event, then new/update/clear (and resync).

        ``listener``: a live viewer, counted against ``max_listeners`` (``TooManyListeners``
        past it) and dropped when too slow; in-process subscribers are neither."""
        if listener and self.listeners >= self.max_listeners:
            raise TooManyListeners(f"{self.max_listeners} live listeners is the limit (OMNIROUTE_INSPECTOR_MAX_LISTENERS)")
        sub = _Subscriber(self.subscriber_queue, listener)
        sub.queue.put_nowait({"type": "snapshot", "data": [r.to_dict() for r in self]})
        self._subs[sub.queue] = sub
        return sub.queue

    def unsubscribe(self, queue: asyncio.Queue[Event]) -> None:
        self._subs.pop(queue, None)

    @property
    def listeners(self) -> int:
        return sum(1 for sub in self._subs.values() if sub.listener)

    @property
    def watched(self) -> bool:
        """Whether anyone subscribed to live events."""
        return bool(self._subs)

    def dropped(self, queue: asyncio.Queue[Event]) -> int:
        sub = self._subs.get(queue)
        return sub.dropped if sub else 0

    def _publish(self, kind: str, row: InterceptedRequest) -> None:
        if self._subs:
            self._broadcast({"type": kind, "data": row.to_dict()})

    def _broadcast(self, event: Event) -> None:
        live = LiveEvent(event)
        for queue, sub in list(self._subs.items()):
            if not sub.offer(live):
                del self._subs[queue]
