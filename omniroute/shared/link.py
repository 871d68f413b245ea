"""One Redis connection per process for the hot-path stores, and what happens when Redis goes.

The stores call ``link.call(remote, local)``: ``remote`` runs against Redis while it is up;
on a connection error or timeout the link is marked down (one warning in the log, not one
per request) and ``local`` answers instead, for this call and every later one, without
touching the network. A background thread pings Redis every ``probe_interval_s``; when it
answers, the recovery hooks run (stores push what they changed locally) and sharing resumes
(one info line).

Timeouts are short on purpose (default 250 ms): these calls run on the event loop, so a
Redis that hangs must cost one slow request, not a stalled process. redis-py's own retries
are turned off for the same reason; the probe thread is the retry.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from typing import TypeVar

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

log = logging.getLogger("omniroute.shared")

T = TypeVar("T")
# What "Redis is unreachable" looks like; anything else (a script error) is a bug and raises.
OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    redis.ConnectionError,
    redis.TimeoutError,
    OSError,
)


def safe_redis_url(url: str) -> str:
    """The URL with any password hidden, for logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):  # not parseable: say nothing about its content
        return "redis://<unparseable url>"


class RedisHealth:
    """Outage reporting shared by everything that talks to one Redis in this process (the
    state link, the event bus): the outage is announced once (warning) when the first of them
    loses Redis and its end once when the last of them has it back."""

    def __init__(self, url: str) -> None:
        self.safe_url = safe_redis_url(url)
        self._lock = threading.Lock()
        self._down: set[str] = set()
        self.outages = 0

    @property
    def up(self) -> bool:
        return not self._down

    def down(self, component: str, exc: BaseException) -> None:
        with self._lock:
            first = not self._down
            self._down.add(component)
            if first:
                self.outages += 1
        if first:
            log.warning(
                "Redis at %s is unreachable (%s: %s); serving from local in-memory state "
                "(breakers, cooldowns, counters and live events are per instance until it "
                "returns)",
                self.safe_url, type(exc).__name__, exc,
            )

    def recovered(self, component: str) -> None:
        with self._lock:
            was_down = bool(self._down)
            self._down.discard(component)
            last = was_down and not self._down
        if last:
            log.info("Redis at %s is reachable again; shared state resumed", self.safe_url)


class RedisLink:
    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 0.25,
        probe_interval_s: float = 1.0,
        health: RedisHealth | None = None,
    ) -> None:
        self.url = url
        self.health = health or RedisHealth(url)
        self.instance_id = uuid.uuid4().hex[:12]
        self.probe_interval_s = probe_interval_s
        self.client: redis.Redis = redis.Redis.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry=Retry(NoBackoff(), 0),
            decode_responses=True,
            client_name=f"omniroute-{self.instance_id}",
        )
        self._recovery_hooks: list[Callable[[redis.Redis], None]] = []
        self._stop = threading.Event()
        self._probe_lock = threading.Lock()
        self._probe: threading.Thread | None = None
        self._closed = False
        self._up = True  # optimistic: the first failed call announces the outage
        # Held by local fallbacks and by the probe's final push + flip, so no write made
        # during the outage is left unpushed when sharing resumes.
        self._switch = threading.Lock()

    @property
    def up(self) -> bool:
        return self._up

    def on_recovery(self, hook: Callable[[redis.Redis], None]) -> None:
        """Run ``hook(client)`` in the probe thread once Redis is back, before sharing resumes
        (stores push their outage-time writes). A hook that fails keeps the link down; hooks
        run while local fallbacks are held off, so they may read the stores' local state."""
        self._recovery_hooks.append(hook)

    def call(self, remote: Callable[[redis.Redis], T], local: Callable[[], T]) -> T:
        if not self._up:
            with self._switch:  # the probe flips to "up" only between local calls
                if not self._up:
                    return local()
        try:
            return remote(self.client)
        except OUTAGE_ERRORS as exc:
            self.mark_down(exc)
            return local()

    def mark_down(self, exc: BaseException) -> None:
        self._up = False
        self.health.down("state", exc)
        self._ensure_probe()

    def check(self) -> bool:
        """Ping now (at start-up): False, with the outage warning, if Redis does not answer."""
        try:
            self.client.ping()
            return True
        except OUTAGE_ERRORS as exc:
            self.mark_down(exc)
            return False

    def _ensure_probe(self) -> None:
        with self._probe_lock:
            if self._closed or (self._probe is not None and self._probe.is_alive()):
                return
            self._probe = threading.Thread(
                target=self._probe_loop, name="omniroute-redis-probe", daemon=True
            )
            self._probe.start()

    def _probe_loop(self) -> None:
        while not self._stop.wait(self.probe_interval_s):
            try:
                self.client.ping()
                # Under the switch lock: local fallbacks wait (milliseconds, once) while the
                # hooks push, so no outage-time write can slip in between push and flip.
                with self._switch:
                    for hook in self._recovery_hooks:
                        hook(self.client)
                    self._up = True
            except OUTAGE_ERRORS:
                continue
            except Exception:  # a bug in a hook must not kill the probe silently
                log.exception("Redis recovery hook failed; retrying")
                continue
            self.health.recovered("state")
            return

    def close(self) -> None:
        self._closed = True
        self._stop.set()
        probe = self._probe
        if probe is not None:
            probe.join(timeout=5)
        self.client.close()
