"""Under `CI=true` a skipped test (or a module skipped as a whole) fails the run; elsewhere a
skip stays a skip, and an expected failure is never counted as a skip."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.harness import REPO_ROOT

TESTS = '''
import pytest

def test_needs_chromium():
    pytest.skip("Debian's chromium is not installed")

@pytest.mark.xfail(reason="known")
def test_known_bug():
    assert False

def test_runs():
    pass
'''
MODULE_SKIPPED = 'import pytest\npytest.skip("no redis-server", allow_module_level=True)\n'


def _run(folder: Path, ci: str | None) -> subprocess.CompletedProcess[str]:
    (folder / "conftest.py").write_text(
        "from tests.conftest import pytest_make_collect_report, pytest_runtest_makereport  # noqa: F401\n")
    (folder / "test_one.py").write_text(TESTS)
    (folder / "test_two.py").write_text(MODULE_SKIPPED)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PYTHONPATH"] = str(REPO_ROOT)
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist", "-q", "-rA",
         "--rootdir", str(folder), "-c", os.devnull, "--continue-on-collection-errors", str(folder)],
        cwd=folder, env=env, capture_output=True, text=True, timeout=120, check=False,
    )


def test_skips_fail_under_ci(tmp_path: Path) -> None:
    done = _run(tmp_path, "true")
    assert done.returncode == 1, done.stdout
    out = done.stdout
    assert "FAILED test_one.py::test_needs_chromium - skipped under CI=true" in out
    assert "Debian's chromium is not installed" in out
    assert "ERROR test_two.py - skipped under CI=true" in out and "no redis-server" in out
    assert "1 failed, 1 passed, 1 xfailed" in out and "1 error" in out


@pytest.mark.parametrize("ci", [None, "false"])
def test_skips_stay_skips_elsewhere(tmp_path: Path, ci: str | None) -> None:
    done = _run(tmp_path, ci)
    assert done.returncode == 0, done.stdout
    assert "1 passed, 2 skipped, 1 xfailed" in done.stdout, done.stdout
