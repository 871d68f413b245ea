"""Shared fixtures: the mock provider and a real OmniRoute process on free ports."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.harness import OmniRouteProcess
from tests.support.mock_provider import MockProvider


@pytest.fixture(scope="session")
def mock_provider() -> Iterator[MockProvider]:
    with MockProvider() as mock:
        yield mock


@pytest.fixture()
def mock(mock_provider: MockProvider) -> Iterator[MockProvider]:
    """The session's mock provider with recordings and faults cleared for this test."""
    mock_provider.clear()
    mock_provider.clear_faults()
    yield mock_provider
    mock_provider.clear_faults()


@pytest.fixture(scope="module")
def omniroute() -> Iterator[OmniRouteProcess]:
    with OmniRouteProcess(demo=True) as process:
        yield process
