"""`log_level` (OMNIROUTE_LOG_LEVEL): one of the logging module's level names, in any case."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from omniroute.config import Settings


def test_any_case_is_one_level(tmp_path: Path) -> None:
    assert Settings(home=tmp_path, log_level="DEBUG").log_level == "debug"
    assert Settings(home=tmp_path).log_level == "info"


def test_an_unknown_level_is_refused_with_the_ones_there_are(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(home=tmp_path, log_level="loud")
    assert "'debug', 'info', 'warning', 'error' or 'critical'" in str(refused.value)
