"""``RedisRecordMap``: a ``MutableMapping`` view of records stored in Redis, with a local copy
that serves reads while Redis is away. ``RedisResilienceStore`` is three of them."""

from __future__ import annotations

import json
from collections.abc import Callable, ItemsView, Iterator, MutableMapping
from typing import Any, TypeVar

import redis

from omniroute.engine.targets import TargetKey
from omniroute.shared.link import RedisLink

K = TypeVar("K")
R = TypeVar("R")
_MISSING: Any = object()


def encode_target_key(key: TargetKey) -> str:
    return json.dumps(list(key), separators=(",", ":"))


def decode_target_key(text: str) -> TargetKey:
    conn, model = json.loads(text)
    return (conn, model)


class RedisRecordMap(MutableMapping[K, R]):
    """A ``MutableMapping`` whose values live in Redis, one string key per record (JSON).

    One key per record rather than one hash: per-record expiry (``PX``) needs it on the
    Redis 7.0 that Debian 12 ships (hash-field expiry arrived in 7.4). Expiry is only garbage
    collection — ``ResilienceState`` compares ``until`` with ``now`` itself — so TTLs carry a
    grace period. ``local`` holds the last value seen for each key and serves reads while
    Redis is away; keys written or deleted then are pushed on recovery."""

    def __init__(
        self,
        link: RedisLink,
        prefix: str,
        *,
        encode_key: Callable[[K], str],
        decode_key: Callable[[str], K],
        to_json: Callable[[R], dict[str, Any]],
        from_json: Callable[[dict[str, Any]], R],
        ttl_s: Callable[[R], float | None],
    ) -> None:
        self.link = link
        self._prefix = prefix + ":"
        self._encode_key, self._decode_key = encode_key, decode_key
        self._to_json, self._from_json, self._ttl_s = to_json, from_json, ttl_s
        self.local: dict[K, R] = {}
        self._dirty: set[K] = set()  # written during an outage
        self._gone: set[K] = set()  # deleted during an outage
        link.on_recovery(self._push_local)

    def _rkey(self, key: K) -> str:
        return self._prefix + self._encode_key(key)

    def _decode(self, raw: str | None) -> R | None:
        return None if raw is None else self._from_json(json.loads(raw))

    def _write(self, r: Any, key: K, record: R, *, only_if_missing: bool = False) -> None:
        ttl = self._ttl_s(record)
        payload = json.dumps(self._to_json(record), separators=(",", ":"))
        px = None if ttl is None else max(1, int(ttl * 1000))
        r.set(self._rkey(key), payload, px=px, nx=only_if_missing)

    # Mapping -----------------------------------------------------------------------------
    def __getitem__(self, key: K) -> R:
        record = self.get(key, _MISSING)
        if record is _MISSING:
            raise KeyError(key)
        return record  # type: ignore[no-any-return]

    def get(self, key: K, default: Any = None) -> Any:  # type: ignore[override]
        def remote(r: redis.Redis) -> R | None:
            record = self._decode(r.get(self._rkey(key)))
            if record is None:
                self.local.pop(key, None)
            else:
                self.local[key] = record
            return record

        record = self.link.call(remote, lambda: self.local.get(key))
        return default if record is None else record

    def __setitem__(self, key: K, record: R) -> None:
        self.local[key] = record

        def remote(r: redis.Redis) -> None:
            self._write(r, key, record)
            self._dirty.discard(key)
            self._gone.discard(key)

        def local() -> None:
            self._dirty.add(key)
            self._gone.discard(key)

        self.link.call(remote, local)

    def __delitem__(self, key: K) -> None:
        if self.pop(key, _MISSING) is _MISSING:
            raise KeyError(key)

    def pop(self, key: K, default: Any = _MISSING) -> Any:  # type: ignore[override]
        """One round trip (GETDEL) instead of Mapping's get + delete."""
        had = self.local.pop(key, None)

        def remote(r: redis.Redis) -> R | None:
            self._dirty.discard(key)
            self._gone.discard(key)
            return self._decode(r.getdel(self._rkey(key)))

        def local() -> R | None:
            self._dirty.discard(key)
            self._gone.add(key)
            return had

        record = self.link.call(remote, local)
        if record is None:
            if default is _MISSING:
                raise KeyError(key)
            return default
        return record

    def _snapshot(self) -> dict[K, R]:
        def remote(r: redis.Redis) -> dict[K, R]:
            names = list(r.scan_iter(match=self._prefix + "*", count=500))
            values = r.mget(names) if names else []
            out: dict[K, R] = {}
            for name, raw in zip(names, values, strict=True):
                record = self._decode(raw)  # None: expired between SCAN and MGET
                if record is not None:
                    out[self._decode_key(name[len(self._prefix) :])] = record
            self.local = dict(out)
            return out

        return self.link.call(remote, lambda: dict(self.local))

    def items(self) -> ItemsView[K, R]:  # type: ignore[override]
        """One SCAN + MGET, not a round trip per key."""
        return self._snapshot().items()

    def __iter__(self) -> Iterator[K]:
        return iter(self._snapshot())

    def __len__(self) -> int:
        return len(self._snapshot())

    # Recovery ----------------------------------------------------------------------------
    def _push_local(self, r: redis.Redis) -> None:
        """On recovery: outage-time writes and deletes win (last-writer-wins, as when up);
        every other key we know is only filled in where Redis lacks it (SET NX), so a Redis
        restarted empty gets the open breakers and cooldowns back, while a value another
        instance wrote during a network split is not overwritten with our older one."""
        dirty, gone = list(self._dirty), list(self._gone)
        known = [(k, v) for k, v in list(self.local.items()) if k not in self._dirty]
        if not dirty and not gone and not known:
            return
        pipe = r.pipeline(transaction=False)
        for key, record in known:
            self._write(pipe, key, record, only_if_missing=True)
        for key in dirty:
            record = self.local.get(key)
            if record is not None:
                self._write(pipe, key, record)
        if gone:
            pipe.delete(*(self._rkey(k) for k in gone))
        pipe.execute()
        self._dirty.difference_update(dirty)
        self._gone.difference_update(gone)
