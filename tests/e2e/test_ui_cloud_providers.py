"""The routing page's provider form for a cloud type: only that type's settings are shown,
and a Bedrock connection saved from it passes its test against the signing stand-in."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.mock_provider import MockProvider
from tests.support.standin_bedrock import BedrockStandIn

from .ui_support import (
    Page,
    browser_fixture,  # noqa: F401 (a fixture, used by name)
    process_fixture,  # noqa: F401 (a fixture, used by name)
    ui_fixture,  # noqa: F401 (a fixture, used by name)
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def bedrock(mock_provider: MockProvider) -> Iterator[BedrockStandIn]:
    with BedrockStandIn(mock_provider.url, "AKIAUIFORMTEST000001", "ui-form-secret", region="ap-south-1") as standin:
        yield standin


def test_bedrock_connection_from_the_form(ui: Page, bedrock: BedrockStandIn) -> None:
    page = ui.open("routing")
    page.click("#provider-new")
    page.select_option("#provider-form select[name=provider]", "azure")
    assert page.locator("#provider-form [data-field=apiVersion]").is_visible()
    assert page.locator("#provider-form [data-field=region]").is_hidden()
    page.select_option("#provider-form select[name=provider]", "bedrock")
    assert page.locator("#provider-form [data-field=apiVersion]").is_hidden()
    assert "AWS credential chain" in page.inner_text("#provider-type-hint")

    page.fill("#provider-form input[name=name]", "bedrock-ui")
    page.fill("#provider-form input[name=url]", bedrock.url)
    page.fill("#provider-form input[name=region]", "ap-south-1")
    page.fill("#provider-form input[name=accessKeyId]", "AKIAUIFORMTEST000001")
    page.fill("#provider-form input[name=apiKey]", "ui-form-secret")
    page.click("#provider-form button[type=submit]")
    row = page.locator("#providers tr[data-connection=bedrock-ui]")
    row.wait_for()
    row.locator("button", has_text="Test").click()
    row.locator(".test-cell .badge.ok").wait_for()
    assert bedrock.verified >= 1 and not bedrock.rejected
    assert not ui.errors
