"""How mitmproxy's options become OmniRoute's Settings (omniroute.addons.options)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from mitmproxy import exceptions

from omniroute.addons.options import listener_ports, modes_with_bridge, settings_from
from omniroute.listeners import bridge_mode, serves


@pytest.mark.parametrize(("modes", "listen_port", "ports"), [
    (["regular"], None, (8080, 0)),  # mitmdump's default
    (["regular"], 26080, (26080, 0)),  # --listen-port
    (["regular@9000"], 26080, (9000, 0)),  # a port in the mode wins
    (["regular@9000", bridge_mode(8443)], None, (9000, 8443)),  # what `omniroute run` sets
    (["socks5", bridge_mode(8443)], None, (0, 8443)),  # no HTTP_PROXY listener
    ([], None, (0, 0)),
])
def test_listener_ports(modes: list[str], listen_port: int | None, ports: tuple[int, int]) -> None:
    assert listener_ports(modes, listen_port) == ports


def test_the_bridge_mode_is_added_once_and_only_when_asked() -> None:
    assert modes_with_bridge(["regular"], None) == ["regular"]
    assert modes_with_bridge(["regular"], 0) == ["regular"]
    assert modes_with_bridge(["regular"], 8443) == ["regular", bridge_mode(8443)]
    assert modes_with_bridge(["regular", bridge_mode(443)], 8443) == ["regular", bridge_mode(443)]


@pytest.mark.parametrize(("name", "spec", "expected"), [
    ("http-proxy", "regular", True),
    ("http-proxy", "regular@8080", True),
    ("http-proxy", "socks5", False),
    ("http-proxy", bridge_mode(443), False),
    ("agent-bridge", bridge_mode(443), True),
    ("agent-bridge", "reverse:https://example.com@443", False),
])
def test_which_mode_serves_which_listener(name: str, spec: str, expected: bool) -> None:
    assert serves(name, spec) is expected


def _options(**values: object) -> SimpleNamespace:
    base: dict[str, object] = {
        "omniroute_home": None, "omniroute_host": None, "omniroute_api_port": None,
        "omniroute_bridge_port": None, "omniroute_config": None, "omniroute_demo": False,
        "omniroute_allow_open_proxy": False,
        "omniroute_allow_open_v1": False, "mode": ["regular"], "listen_port": None, "proxyauth": None,
    }
    return SimpleNamespace(**{**base, **values})


def test_settings_follow_the_options(tmp_path: Path) -> None:
    settings = settings_from(_options(omniroute_home=str(tmp_path), omniroute_api_port=0, listen_port=26080,
                                      omniroute_bridge_port=8443, omniroute_demo=True, proxyauth="u:p"))
    assert (settings.home, settings.api_port, settings.proxy_port, settings.bridge_port, settings.demo) == (
        tmp_path, 0, 26080, 8443, True)
    assert settings.proxy_auth == "u:p"  # mitmproxy's proxyauth is what guards its listener


def test_an_unusable_value_is_an_options_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(exceptions.OptionsError, match="api_port"):
        settings_from(_options(omniroute_home=str(tmp_path), omniroute_api_port=70000))
