"""Strategy counters and resilience records in Redis, for several instances behind one balancer.

Both implement the engine's sync Protocols (``StrategyStateStore``, ``ResilienceStore``), so
``order_targets`` and ``ResilienceState`` run unchanged on top of them.

Trade-off (read before wiring): every operation is a direct, synchronous round trip on the
event loop — no read cache. That keeps the semantics of the in-memory stores exactly (a
breaker opened through instance A is open on B at the next read, round-robin alternates
across instances because the cursor is one INCR) at a cost of one loopback/LAN round trip
per operation: ~3 for ``ResilienceState.available``, 0-2 for ``order_targets`` (1 for
round-robin, least-used, p2c), 1-4 per recorded outcome. On loopback that is tens of microseconds each, small next to an upstream
model call; over a slow network it blocks the loop for that long. A pub/sub-invalidated
read cache would remove the reads from the hot path, but then a read-modify-write
(``ResilienceState`` mutates a record and assigns it back) works on a possibly stale record
and concurrent failures on two instances can be lost; that can come later if profiling
shows the round trips matter. Records are last-writer-wins per key across instances (so
two instances may, rarely, both take a half-open breaker's single probe slot).

Times: records hold the ``now`` the engine passed in. Across machines that must be the wall
clock (``time.time()``); ``RedisResilienceStore(clock=...)`` must be the same clock, since
it turns ``until`` values into Redis TTLs.

Redis away: ``RedisLink`` answers from local state. The resilience maps keep the last value
seen for every key, so cooldowns and open breakers survive the outage; writes made during it
are pushed back (last-writer-wins) when Redis returns. Strategy counters fall back to an
``InMemoryStrategyState``; usage increments and in-flight decrements owed to Redis are
applied on recovery, latency samples and last-good picks from the outage stay local.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

import redis

from omniroute.engine.resilience_model import (
    BreakerRecord,
    BreakerState,
    ConnectionRecord,
    LockoutRecord,
)
from omniroute.engine.strategies import InMemoryStrategyState, TargetStats
from omniroute.engine.targets import Target, TargetKey
from omniroute.shared.link import RedisLink
from omniroute.shared.record_map import RedisRecordMap, decode_target_key, encode_target_key

DAY_S = 86_400.0


# --- strategy counters -----------------------------------------------------------------------

# In-flight down (never below 0), latency EWMA, last-good set or cleared: one atomic call.
_FINISH = """
local field, combo = ARGV[1], ARGV[2]
if ARGV[6] == '1' and tonumber(redis.call('HGET', KEYS[1], field) or '0') > 0 then
  redis.call('HINCRBY', KEYS[1], field, -1)
end
if ARGV[3] == '1' then
  if ARGV[4] ~= '' then
    local x = tonumber(ARGV[4])
    local prev = redis.call('HGET', KEYS[2], field)
    if prev then x = tonumber(prev) + tonumber(ARGV[5]) * (x - tonumber(prev)) end
    redis.call('HSET', KEYS[2], field, string.format('%.17g', x))
  end
  redis.call('HSET', KEYS[3], combo, field)
elseif redis.call('HGET', KEYS[3], combo) == field then
  redis.call('HDEL', KEYS[3], combo)
end
return 1
"""


# Owed in-flight decrements after an outage: never below 0 (a restarted Redis starts at 0).
_DECR_FLOOR = """
local v = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
local d = math.min(v, tonumber(ARGV[2]))
if d > 0 then redis.call('HINCRBY', KEYS[1], ARGV[1], -d) end
return d
"""


class RedisStrategyState:
    """``StrategyStateStore`` in Redis: cursor = INCR, usage/in-flight = HINCRBY, latency EWMA
    and last-good in one Lua call, the strict-random bag as a JSON string."""

    def __init__(
        self, link: RedisLink, *, namespace: str = "omniroute", latency_alpha: float = 0.3
    ) -> None:
        self.link = link
        self.latency_alpha = latency_alpha
        self._ns = f"{namespace}:strategy"
        self._usage, self._busy = f"{self._ns}:usage", f"{self._ns}:inflight"
        self._latency, self._good = f"{self._ns}:latency", f"{self._ns}:lastgood"
        self.local = InMemoryStrategyState(latency_alpha)  # answers while Redis is away
        # In-flight attempts this instance counted in Redis, so their end goes there too.
        self._remote_busy: Counter[str] = Counter()
        self._owed_usage: Counter[str] = Counter()  # +1s made during an outage
        self._owed_busy: Counter[str] = Counter()  # -1s for attempts started in Redis
        self._finish = link.client.register_script(_FINISH)
        self._decr_floor = link.client.register_script(_DECR_FLOOR)
        link.on_recovery(self._push_owed)

    def advance_cursor(self, combo: str) -> int:
        return self.link.call(
            lambda r: int(r.incr(f"{self._ns}:cursor:{combo}")) - 1,
            lambda: self.local.advance_cursor(combo),
        )

    def stats(self, keys: Sequence[TargetKey]) -> list[TargetStats]:
        fields = [encode_target_key(k) for k in keys]

        def remote(r: redis.Redis) -> list[TargetStats]:
            pipe = r.pipeline(transaction=False)
            pipe.hmget(self._usage, fields)
            pipe.hmget(self._busy, fields)
            pipe.hmget(self._latency, fields)
            usage, busy, latency = pipe.execute()
            return [
                (int(u or 0), int(b or 0), None if lat is None else float(lat))
                for u, b, lat in zip(usage, busy, latency, strict=True)
            ]

        return self.link.call(remote, lambda: self.local.stats(keys))

    def last_good(self, combo: str) -> TargetKey | None:
        def remote(r: redis.Redis) -> TargetKey | None:
            value = r.hget(self._good, combo)
            return None if value is None else decode_target_key(value)

        return self.link.call(remote, lambda: self.local.last_good(combo))

    def get_bag(self, combo: str) -> list[TargetKey] | None:
        def remote(r: redis.Redis) -> list[TargetKey] | None:
            value = r.get(f"{self._ns}:bag:{combo}")
            return None if value is None else [(c, m) for c, m in json.loads(value)]

        return self.link.call(remote, lambda: self.local.get_bag(combo))

    def set_bag(self, combo: str, bag: list[TargetKey]) -> None:
        # Two instances drawing at once may both take the same lead; the bag stays a bag.
        self.local.set_bag(combo, bag)
        payload = json.dumps([list(k) for k in bag], separators=(",", ":"))
        self.link.call(
            lambda r: r.set(f"{self._ns}:bag:{combo}", payload, ex=int(DAY_S)), lambda: None
        )

    def on_start(self, combo: str, target: Target) -> None:
        field = encode_target_key(target.key)

        def remote(r: redis.Redis) -> None:
            pipe = r.pipeline(transaction=False)
            pipe.hincrby(self._usage, field, 1)
            pipe.hincrby(self._busy, field, 1)
            pipe.execute()
            self._remote_busy[field] += 1

        def local() -> None:
            self.local.on_start(combo, target)
            self._owed_usage[field] += 1

        self.link.call(remote, local)

    def on_finish(
        self, combo: str, target: Target, *, ok: bool, latency_ms: float | None = None
    ) -> None:
        field = encode_target_key(target.key)
        counted_remote = self._remote_busy[field] > 0
        if counted_remote:
            self._remote_busy[field] -= 1
        lat = "" if latency_ms is None else repr(float(latency_ms))
        args = [field, combo, "1" if ok else "0", lat, repr(self.latency_alpha)]

        def remote(r: redis.Redis) -> None:
            keys = [self._busy, self._latency, self._good]
            self._finish(keys=keys, args=[*args, "1" if counted_remote else "0"], client=r)
            if not counted_remote:  # started during an outage: its in-flight is local
                self._local_finish_busy(target.key)

        def local() -> None:
            busy_before = self.local.in_flight_counts.get(target.key, 0)
            self.local.on_finish(combo, target, ok=ok, latency_ms=latency_ms)
            if counted_remote:
                # The local counter never saw this start; the decrement is owed to Redis.
                self.local.in_flight_counts[target.key] = busy_before
                self._owed_busy[field] += 1

        self.link.call(remote, local)

    def _local_finish_busy(self, key: TargetKey) -> None:
        busy = self.local.in_flight_counts
        busy[key] = max(0, busy.get(key, 0) - 1)

    def _push_owed(self, r: redis.Redis) -> None:
        usage, owed_busy = dict(+self._owed_usage), dict(+self._owed_busy)
        if not usage and not owed_busy:
            return
        pipe = r.pipeline(transaction=False)
        for field, n in usage.items():
            pipe.hincrby(self._usage, field, n)
        for field, n in owed_busy.items():
            self._decr_floor(keys=[self._busy], args=[field, n], client=pipe)
        pipe.execute()
        self._owed_usage.clear()  # the link holds local writers off while hooks run
        self._owed_busy.clear()

    def reset(self, combo: str | None = None) -> None:
        """Forget per-combo state (cursor, bag, last good); ``None`` forgets everything."""
        self.local.reset(combo)

        def remote(r: redis.Redis) -> None:
            if combo is None:
                names = list(r.scan_iter(match=f"{self._ns}:*", count=500))
                if names:
                    r.delete(*names)
                return
            r.delete(f"{self._ns}:cursor:{combo}", f"{self._ns}:bag:{combo}")
            r.hdel(self._good, combo)

        self.link.call(remote, lambda: None)


# --- resilience records ----------------------------------------------------------------------

def _breaker_from(data: dict[str, Any]) -> BreakerRecord:
    return BreakerRecord(**{**data, "state": BreakerState(data["state"])})


class RedisResilienceStore:
    """``ResilienceStore`` in Redis: breakers, connection cooldowns and model lockouts.

    TTLs: lockouts expire ``grace_s`` after their ``until``; a connection record after its
    cooldown plus ``idle_ttl_s`` (auth-failed ones never: they need a reset or a success);
    breakers ``idle_ttl_s`` after their last change. Each write refreshes the TTL."""

    def __init__(
        self,
        link: RedisLink,
        *,
        namespace: str = "omniroute",
        idle_ttl_s: float = DAY_S,
        grace_s: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        ns = f"{namespace}:resilience"

        def after(until: float) -> float:
            return max(0.0, until - clock())

        self.breakers: RedisRecordMap[str, BreakerRecord] = RedisRecordMap(
            link, f"{ns}:breaker", encode_key=str, decode_key=str,
            to_json=asdict, from_json=_breaker_from, ttl_s=lambda _: idle_ttl_s,
        )
        self.connections: RedisRecordMap[str, ConnectionRecord] = RedisRecordMap(
            link, f"{ns}:connection", encode_key=str, decode_key=str,
            to_json=asdict, from_json=lambda d: ConnectionRecord(**d),
            ttl_s=lambda c: None if c.auth_failed else after(c.cooldown_until) + idle_ttl_s,
        )
        self.lockouts: RedisRecordMap[TargetKey, LockoutRecord] = RedisRecordMap(
            link, f"{ns}:lockout", encode_key=encode_target_key, decode_key=decode_target_key,
            to_json=asdict, from_json=lambda d: LockoutRecord(**d),
            ttl_s=lambda lock: after(lock.until) + grace_s,
        )
