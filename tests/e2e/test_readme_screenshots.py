"""`scripts/screenshots` (tests/e2e/readme_screenshots.py) still takes every README screenshot:
a throwaway OmniRoute with the mock provider's traffic, one PNG per shot at the viewport's size."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from .readme_screenshots import SHOTS, VIEWPORT, main
from .ui_support import CHROMIUM  # noqa: F401 (importing it skips this module without Chromium)

pytestmark = pytest.mark.e2e


def test_every_readme_screenshot_is_taken(tmp_path: Path) -> None:
    assert main(["--out", str(tmp_path)]) == 0
    for shot in SHOTS:
        data = (tmp_path / shot.file).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", shot.file
        width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk
        assert (width, height) == (VIEWPORT["width"], VIEWPORT["height"]), shot.file
