"""Rate-limit windows in Redis, so a limit holds across every instance behind one balancer.

One string per key and window, ``<ns>:ratelimit:<key>:<window end>``: INCR counts a call (one
atomic round trip with its EXPIREAT, so windows clean themselves up). While Redis is away the
link answers from an in-memory counter: limits then hold per instance until it returns.
"""

from __future__ import annotations

import math

import redis

from omniroute.engine.rate_limits import Count, InMemoryWindowCounter, window_end
from omniroute.shared.link import RedisLink


class RedisWindowCounter:
    def __init__(self, link: RedisLink, *, namespace: str = "omniroute") -> None:
        self.link = link
        self._prefix = f"{namespace}:ratelimit:"
        self.local = InMemoryWindowCounter()

    def hit(self, key: str, window_s: int, now: float) -> Count:
        end = window_end(now, window_s)

        def remote(r: redis.Redis) -> Count:
            name = f"{self._prefix}{key}:{int(end)}"
            pipe = r.pipeline(transaction=True)
            pipe.incr(name)
            pipe.expireat(name, math.ceil(end) + 1)
            used, _ = pipe.execute()
            return Count(key, int(used), end)

        return self.link.call(remote, lambda: self.local.hit(key, window_s, now))

    def counts(self, now: float) -> list[Count]:
        def remote(r: redis.Redis) -> list[Count]:
            names = list(r.scan_iter(match=self._prefix + "*", count=500))
            values = r.mget(names) if names else []
            out = []
            for name, value in zip(names, values, strict=True):
                key, _, end = name[len(self._prefix):].rpartition(":")
                if value is not None and end.isdigit() and int(end) > now:
                    out.append(Count(key, int(value), float(end)))
            return out

        return self.link.call(remote, lambda: self.local.counts(now))
