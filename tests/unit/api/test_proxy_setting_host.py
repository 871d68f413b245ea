"""The upstream proxy's host is checked when saved or tested: a value no URL can hold is a 422,
not a 500 when the proxy URL is built (schemathesis found `31bb:4`)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from omniroute.api.settings_models import ProxyConfigIn
from omniroute.engine.runtime_settings import proxy_url


@pytest.mark.parametrize("host", ["31bb:4", "proxy corp", "a/b", "[::1", "1:2:3:4:5:6:7:8:9"])
def test_hosts_no_url_can_hold_are_refused(host: str) -> None:
    with pytest.raises(ValidationError):
        ProxyConfigIn(host=host, port=8080)


@pytest.mark.parametrize(("host", "url"), [
    ("proxy.corp", "http://proxy.corp:8080"), ("10.0.0.5", "http://10.0.0.5:8080"),
    ("::1", "http://[::1]:8080"), ("[fe80::1]", "http://[fe80::1]:8080"),
])
def test_names_and_addresses_make_a_proxy_url(host: str, url: str) -> None:
    assert proxy_url(ProxyConfigIn(host=host, port=8080).model_dump(exclude_none=True)) == url
