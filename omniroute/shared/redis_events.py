"""``RedisEventBus``: the ``EventBus`` of several instances, on Redis pub/sub (see ``events``).

Its own module so a single instance (no ``REDIS_URL``) never imports redis at start-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Callable

import redis.asyncio as aioredis
from redis.backoff import NoBackoff
from redis.retry import Retry

from omniroute.shared.events import Handler, Handlers, Message
from omniroute.shared.link import OUTAGE_ERRORS, RedisHealth

log = logging.getLogger("omniroute.shared")


class RedisEventBus:
    def __init__(
        self,
        url: str,
        *,
        namespace: str = "omniroute",
        health: RedisHealth | None = None,
        reconnect_interval_s: float = 1.0,
        timeout_s: float = 1.0,
        instance_id: str | None = None,
    ) -> None:
        self.instance_id = instance_id or uuid.uuid4().hex[:12]
        self.health = health or RedisHealth(url)
        self._ns = namespace
        self._interval = reconnect_interval_s
        self._client = aioredis.Redis.from_url(
            url,
            socket_connect_timeout=timeout_s,
            socket_timeout=timeout_s,
            retry=Retry(NoBackoff(), 0),
            decode_responses=True,
        )
        self._handlers = Handlers()
        self._outbox: asyncio.Queue[tuple[str, str]] = asyncio.Queue(10_000)
        self._tasks: list[asyncio.Task[None]] = []
        self._up = False
        self._ever_up = False
        self._failed = False
        self.connected = asyncio.Event()  # set while subscribed (tests wait on it)

    def publish(self, channel: str, message: Message) -> None:
        if not self._up:
            return  # nobody can hear it; the reconnect handlers cover what was missed
        payload = json.dumps({"src": self.instance_id, "data": message})
        try:
            self._outbox.put_nowait((f"{self._ns}:{channel}", payload))
        except asyncio.QueueFull:
            log.debug("event outbox full; dropping a %s event", channel)

    def subscribe(self, channel: str, handler: Handler) -> None:
        self._handlers.by_channel.setdefault(channel, []).append(handler)

    def on_reconnect(self, handler: Callable[[], None]) -> None:
        self._handlers.reconnect.append(handler)

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._subscriber(), name="omniroute-events-sub"),
            asyncio.create_task(self._publisher(), name="omniroute-events-pub"),
        ]

    async def wait_connected(self, timeout: float = 5.0) -> bool:
        try:
            await asyncio.wait_for(self.connected.wait(), timeout)
            return True
        except TimeoutError:
            return False

    async def _publisher(self) -> None:
        while True:
            channel, payload = await self._outbox.get()
            try:
                await self._client.publish(channel, payload)
            except OUTAGE_ERRORS as exc:
                self._went_down(exc)  # the subscriber loop notices too and reconnects

    async def _subscriber(self) -> None:
        prefix = f"{self._ns}:"
        while True:
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.psubscribe(f"{prefix}*")
                self._came_up()
                while self._up:
                    msg = await pubsub.get_message(timeout=0.5)  # < socket_timeout
                    if msg is None or msg.get("type") != "pmessage":
                        continue
                    self._deliver(msg["channel"][len(prefix) :], msg["data"])
            except OUTAGE_ERRORS as exc:
                self._went_down(exc)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
            await asyncio.sleep(self._interval)

    def _deliver(self, channel: str, raw: str) -> None:
        try:
            envelope = json.loads(raw)
        except ValueError:
            return
        if envelope.get("src") == self.instance_id:
            return
        self._handlers.dispatch(channel, envelope.get("data") or {})

    def _came_up(self) -> None:
        # After any failed attempt, messages may have been missed (even before the first
        # success: another instance may have changed the configuration meanwhile).
        recovering = not self._up and (self._ever_up or self._failed)
        self._up = self._ever_up = True
        self.connected.set()
        self.health.recovered("events")
        if recovering:
            for handler in list(self._handlers.reconnect):
                try:
                    handler()
                except Exception:
                    log.exception("event reconnect handler failed")

    def _went_down(self, exc: BaseException) -> None:
        if self._up or not self._ever_up:
            self.health.down("events", exc)
        self._up = False
        self._failed = True
        self.connected.clear()

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        await self._client.aclose()
