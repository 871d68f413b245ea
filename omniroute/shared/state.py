"""One call for the runtime: the shared-state implementations for the settings at hand.

``open_shared_state(None)`` gives the single-instance defaults (in-memory stores, in-memory
event bus); ``open_shared_state("redis://…")`` gives the Redis ones, sharing one outage
reporter so a Redis outage is logged once per process. Same interfaces either way.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from omniroute.engine.rate_limits import InMemoryWindowCounter, WindowCounter
from omniroute.engine.resilience_model import InMemoryResilienceStore, ResilienceStore
from omniroute.engine.strategies import InMemoryStrategyState, StrategyStateStore
from omniroute.shared.events import ConfigNotifier, EventBus, InMemoryEventBus

if TYPE_CHECKING:
    from omniroute.shared.link import RedisLink


@dataclass
class SharedState:
    strategy: StrategyStateStore
    resilience: ResilienceStore
    bus: EventBus
    config: ConfigNotifier = field(init=False)
    link: RedisLink | None = None
    rate_counter: WindowCounter = field(default_factory=InMemoryWindowCounter)  # rate-limit windows

    def __post_init__(self) -> None:
        self.config = ConfigNotifier(self.bus)

    @property
    def shared(self) -> bool:
        return self.link is not None

    async def start(self) -> None:
        """Start the event bus (on the running loop) and say at once if Redis is away."""
        if self.link is not None:
            self.link.check()
        await self.bus.start()

    async def aclose(self) -> None:
        await self.bus.aclose()
        if self.link is not None:
            self.link.close()


def open_shared_state(
    redis_url: str | None, *, namespace: str = "omniroute", timeout_s: float = 0.25
) -> SharedState:
    """The stores for ``Settings.redis_url``. With Redis, the router must pass wall-clock
    ``now`` (``time.time()``) to the stores: records written by one machine are read by
    another, and monotonic clocks differ between machines."""
    if not redis_url:
        return SharedState(InMemoryStrategyState(), InMemoryResilienceStore(), InMemoryEventBus())
    # Imported here: a single instance never loads redis-py.
    from omniroute.shared.link import RedisHealth, RedisLink
    from omniroute.shared.redis_counters import RedisWindowCounter
    from omniroute.shared.redis_events import RedisEventBus
    from omniroute.shared.redis_state import RedisResilienceStore, RedisStrategyState

    health = RedisHealth(redis_url)
    link = RedisLink(redis_url, timeout_s=timeout_s, health=health)
    return SharedState(
        strategy=RedisStrategyState(link, namespace=namespace),
        resilience=RedisResilienceStore(link, namespace=namespace, clock=time.time),
        bus=RedisEventBus(
            redis_url, namespace=namespace, health=health, instance_id=link.instance_id
        ),
        link=link,
        rate_counter=RedisWindowCounter(link, namespace=namespace),
    )
