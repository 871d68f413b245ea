"""Shared setup of the shared-state tests (behaviours, Redis, events): a real redis-server
per test module, a flushed link to it per test, and the targets the tests route between.

A test module imports ``redis_server_fixture`` / ``link_fixture`` to get the ``redis_server``
and ``link`` fixtures.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from omniroute.engine.targets import Target
from omniroute.shared.link import RedisLink
from tests.support.servers import RedisServer

A = Target("conn-a", "openai", "gpt-4o")
B = Target("conn-b", "anthropic", "claude-sonnet-4")
C = Target("conn-c", "gemini", "gemini-2.5-flash")
T0 = 1_700_000_000.0


@pytest.fixture(scope="module", name="redis_server")
def redis_server_fixture() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture(name="link")
def link_fixture(redis_server: RedisServer) -> Iterator[RedisLink]:
    link = RedisLink(redis_server.url)
    link.client.flushdb()
    yield link
    link.close()
