"""An OmniRoute whose HOME is a throwaway directory: the agents' settings files it writes (the
`/api/cli-tools` routes, `omniroute connect`) land there, never in the real home. Test modules
import the fixtures by name (``home``, ``omni``)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.harness import OmniRouteProcess
from tests.support.mock_provider import MockProvider


@pytest.fixture(scope="module", name="home")
def home_fixture() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="agents-home-") as tmp:
        yield Path(tmp)


@pytest.fixture(scope="module", name="omni")
def omni_fixture(home: Path, mock_provider: MockProvider) -> Iterator[OmniRouteProcess]:
    """The mock provider as connection ``mock`` (OpenAI format) and ``mockgem`` (Gemini format)."""
    process = OmniRouteProcess(proxy=False, bridge=False, env={"HOME": str(home)}).start()
    process.add_provider("openai", "mock", f"{mock_provider.url}/v1", api_key="sk-test-provider-key-0001")
    process.add_provider("gemini", "mockgem", mock_provider.url, api_key="sk-test-provider-key-0002")
    yield process
    process.close()
