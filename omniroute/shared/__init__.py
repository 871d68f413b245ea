"""Shared runtime state for several OmniRoute instances (issue 11).

Without ``REDIS_URL`` nothing here is used: the engine keeps its in-memory stores and the
in-memory event bus. With it, ``redis_state`` backs the strategy counters and resilience
records with Redis, and ``events`` carries configuration-change notifications and inspector
live events between instances. ``link.RedisLink`` owns the connection and the fallback to
local state while Redis is unreachable.
"""
