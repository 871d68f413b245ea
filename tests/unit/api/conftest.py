"""An app built as `omniroute run` builds it, on a fresh home, with no server around it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI

from omniroute.api.app import create_app
from omniroute.config import Settings
from omniroute.runtime import Runtime


@pytest.fixture()
def app(tmp_path: Path) -> Iterator[FastAPI]:
    settings = Settings(home=tmp_path / "home", host="127.0.0.1", api_port=0, proxy_port=0, bridge_port=0)
    runtime = Runtime.open(settings)
    yield create_app(runtime.services)
    asyncio.run(runtime.stop())
