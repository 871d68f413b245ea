"""Shared setup of the Traffic Inspector API tests (capture, row actions, sessions): one OmniRoute
process per test module, routed to the mock provider.

Mapped calls (agent codex / claude-code, `*` mapping) go to https://api.openai.com and
https://api.anthropic.com through the proxy and are routed to the mock provider; unmapped calls go
through the proxy to the mock itself (plain HTTP on 127.0.0.1), or to a closed port (an error).

A test module imports ``proc_fixture`` / ``routed_fixture`` to get the ``proc`` and ``routed``
fixtures.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.harness import OmniRouteProcess
from tests.support.inspector_support import gsettings_env, setup_routing
from tests.support.mock_provider import MockProvider

START_TIMEOUT = 180.0  # a loaded CI machine can take a while to import mitmproxy and migrate


@pytest.fixture(scope="module", name="proc")
def proc_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OmniRouteProcess]:
    root = tmp_path_factory.mktemp("inspector")
    process = OmniRouteProcess(demo=True, env=gsettings_env(root)).start(timeout=START_TIMEOUT)
    try:
        yield process
    finally:
        process.close()


@pytest.fixture(name="routed")
def routed_fixture(proc: OmniRouteProcess, mock: MockProvider) -> OmniRouteProcess:
    setup_routing(proc, mock)
    return proc
