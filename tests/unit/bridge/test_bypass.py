from __future__ import annotations

import pytest

from omniroute.bridge.bypass import (
    DEFAULT_BYPASS,
    BypassMatcher,
    combined_patterns,
    should_bypass,
    validate_bypass_pattern,
)


@pytest.mark.parametrize(
    "host",
    [
        "okta.com", "acme.okta.com", "ACME.OKTA.COM.", "tenant.auth0.com",
        "login.microsoftonline.com", "accounts.google.com", "login.live.com",
        "appleid.apple.com", "irs.gov", "www.irs.gov", "www.gov.uk", "secure.chase.com",
        "online.hsbc.co.uk", "my.bank.example", "acme.bank", "accounts.google.com:443", "acme.okta.com.:443",
    ],
)
def test_defaults_bypass(host: str) -> None:
    assert should_bypass(host)


@pytest.mark.parametrize(
    "host",
    [
        "api.anthropic.com", "api.openai.com", "google.com", "notokta.com", "okta.com.evil.example",
        "governance.example.com", "chase.com.example", "",
    ],
)
def test_defaults_do_not_bypass(host: str) -> None:
    assert not should_bypass(host)


def test_user_patterns_suffix_and_glob() -> None:
    patterns = list(DEFAULT_BYPASS) + ["Corp.Example.", "*.internal", "db-??.example.net"]
    matcher = BypassMatcher(patterns)
    assert matcher("corp.example") and matcher("git.corp.example")
    assert matcher("svc.internal") and matcher("a.b.internal")
    assert matcher("db-01.example.net") and not matcher("db-001.example.net")
    assert not matcher("example")
    assert should_bypass("git.corp.example.", patterns)
    assert not should_bypass("okta.com", ["corp.example"])  # explicit list replaces defaults


def test_combined_rows_mark_source_and_dedupe() -> None:
    rows = combined_patterns(["okta.com", "*.bank.*", "Vault.Corp.Example."])
    assert rows[: len(DEFAULT_BYPASS)] == [(p, "default") for p in DEFAULT_BYPASS]
    assert rows[len(DEFAULT_BYPASS) :] == [("vault.corp.example", "user")]


@pytest.mark.parametrize("pattern", ["", "*", "*.*", "a b.com", "x[.com"])
def test_invalid_user_patterns(pattern: str) -> None:
    with pytest.raises(ValueError):
        validate_bypass_pattern(pattern)
