"""Shared fixtures: the mock provider and a real OmniRoute process on free ports; under
`CI=true`, a skipped test fails the run."""

from __future__ import annotations

import os
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


# -- CI: a green run means every test ran ----------------------------------------------------
# A browser, database or agent-CLI test skips on a developer's machine without Chromium,
# PostgreSQL or npm; in CI (`CI=true`, set by .ci/run and by CI services) that skip would hide
# a test that never ran, so it fails instead, with the skip's reason. xfail is not a skip.


def _ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def _fail_skip(report: pytest.CollectReport | pytest.TestReport) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, where every test must run: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    if _ci():
        _fail_skip(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Iterator[None]:
    outcome = yield
    if _ci():  # a module skipped as a whole (pytest.skip(allow_module_level=True), importorskip)
        _fail_skip(outcome.get_result())
