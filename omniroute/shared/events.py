"""Events between instances: configuration changes and inspector live events.

One interface (``EventBus``), two implementations:

* ``InMemoryEventBus`` — the single-instance default. Buses that share one ``InMemoryHub``
  behave like instances of one deployment, which is how the tests run both implementations
  through the same checks.
* ``RedisEventBus`` (``redis_events``, imported only with ``REDIS_URL``) — Redis pub/sub (redis.asyncio) on channels ``<namespace>:<channel>``
  (``omniroute:config``, ``omniroute:inspector``). A handler sees only messages published
  by *other* instances; delivery is best effort (pub/sub keeps nothing for a subscriber that
  is away), so after an outage the ``on_reconnect`` handlers run: anything cached from the
  database must be reloaded because invalidations may have been missed.

On top of the bus: ``ConfigNotifier`` (an instance that commits a configuration change calls
``changed(kind)``; every other instance's ``on_change`` callbacks run within milliseconds)
and ``InspectorEventBridge`` (rows captured here go to the other instances' rings and live
sockets, and theirs come here).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol

from omniroute.inspector.model import InterceptedRequest
from omniroute.inspector.ring import Ring

log = logging.getLogger("omniroute.shared")

Message = dict[str, Any]
Handler = Callable[[Message], None]


class EventBus(Protocol):
    instance_id: str

    def publish(self, channel: str, message: Message) -> None:
        """Send to the other instances; never blocks (call it from the event loop)."""
        ...

    def subscribe(self, channel: str, handler: Handler) -> None:
        """``handler(message)`` runs on the event loop for other instances' messages."""
        ...

    def on_reconnect(self, handler: Callable[[], None]) -> None:
        """Runs after an outage, when messages may have been missed."""
        ...

    async def start(self) -> None: ...
    async def aclose(self) -> None: ...


class Handlers:
    def __init__(self) -> None:
        self.by_channel: dict[str, list[Handler]] = {}
        self.reconnect: list[Callable[[], None]] = []

    def dispatch(self, channel: str, message: Message) -> None:
        for handler in list(self.by_channel.get(channel, ())):
            try:
                handler(message)
            except Exception:  # one bad handler must not starve the others
                log.exception("event handler for %r failed", channel)


class InMemoryHub:
    """What several in-memory buses share: they see each other as instances."""

    def __init__(self) -> None:
        self.buses: list[InMemoryEventBus] = []


class InMemoryEventBus:
    def __init__(self, hub: InMemoryHub | None = None) -> None:
        self.instance_id = uuid.uuid4().hex[:12]
        self._hub = hub or InMemoryHub()
        self._handlers = Handlers()
        self._loop: asyncio.AbstractEventLoop | None = None

    def publish(self, channel: str, message: Message) -> None:
        wire = json.dumps(message)  # same constraint as Redis: JSON only, and no aliasing
        for bus in self._hub.buses:
            if bus is not self and bus._loop is not None:
                bus._loop.call_soon_threadsafe(bus._handlers.dispatch, channel, json.loads(wire))

    def subscribe(self, channel: str, handler: Handler) -> None:
        self._handlers.by_channel.setdefault(channel, []).append(handler)

    def on_reconnect(self, handler: Callable[[], None]) -> None:
        self._handlers.reconnect.append(handler)  # an in-process hub never disconnects

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._hub.buses.append(self)

    async def aclose(self) -> None:
        if self in self._hub.buses:
            self._hub.buses.remove(self)
        self._loop = None


class ConfigNotifier:
    """"The configuration changed": providers, combos, aliases, mappings, keys, settings.

    Call ``changed(kind)`` after committing; each other instance runs its ``on_change``
    callbacks (e.g. reload the registry) as soon as the message arrives. After a bus outage
    the callbacks run with kind ``"*"``: reload everything."""

    CHANNEL = "config"

    def __init__(self, bus: EventBus) -> None:
        self.bus = bus
        self._callbacks: list[Callable[[str], None]] = []
        bus.subscribe(self.CHANNEL, self._on_message)
        bus.on_reconnect(lambda: self._fire("*"))

    def changed(self, kind: str) -> None:
        self.bus.publish(self.CHANNEL, {"kind": kind})

    def on_change(self, callback: Callable[[str], None]) -> None:
        self._callbacks.append(callback)

    def _on_message(self, message: Message) -> None:
        self._fire(str(message.get("kind") or "*"))

    def _fire(self, kind: str) -> None:
        for callback in list(self._callbacks):
            try:
                callback(kind)
            except Exception:
                log.exception("config change callback failed for %r", kind)


class InspectorEventBridge:
    """Rows captured by this instance go to the others (``new``/``update``), and rows they
    capture are upserted into this instance's ring, so its list and its live socket show
    them. ``clear`` stays local: clearing one UI does not wipe another instance's buffer.
    Rows are sent in their public form (``to_dict()``); bodies are already masked and capped
    by capture, and the HAR of a recording session comes from the shared database."""

    CHANNEL = "inspector"

    def __init__(self, bus: EventBus, ring: Ring, *, remember: int = 10_000) -> None:
        self.bus, self.ring = bus, ring
        self._remote_ids: OrderedDict[str, None] = OrderedDict()
        self._remember = remember
        self._queue: asyncio.Queue[dict[str, Any]] | None = None
        self._task: asyncio.Task[None] | None = None
        bus.subscribe(self.CHANNEL, self._on_remote)

    async def start(self) -> None:
        self._queue = self.ring.subscribe()
        self._task = asyncio.create_task(self._forward(), name="omniroute-inspector-bridge")

    async def _forward(self) -> None:
        assert self._queue is not None
        while True:
            event = await self._queue.get()
            kind, data = event.get("type"), event.get("data")
            if kind not in ("new", "update") or not isinstance(data, dict):
                continue  # snapshot/resync are for this process; clear stays local
            if data.get("id") in self._remote_ids:
                continue  # came from another instance: do not echo it back
            self.bus.publish(self.CHANNEL, {"type": kind, "data": data})

    def _on_remote(self, message: Message) -> None:
        data = message.get("data")
        if message.get("type") not in ("new", "update") or not isinstance(data, dict):
            return
        try:
            row = InterceptedRequest.from_dict(data)
        except (KeyError, TypeError, ValueError):
            log.debug("ignoring a malformed inspector event from another instance")
            return
        self._remote_ids[row.id] = None
        self._remote_ids.move_to_end(row.id)
        while len(self._remote_ids) > self._remember:
            self._remote_ids.popitem(last=False)
        self.ring.add(row)  # add() upserts: an update of a row we never saw inserts it

    async def aclose(self) -> None:
        if self._queue is not None:
            self.ring.unsubscribe(self._queue)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
