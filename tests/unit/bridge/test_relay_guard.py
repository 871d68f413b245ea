"""The pure decisions behind the proxy's refusals: what is this machine, what may be decrypted,
what a listener beyond loopback may not expose. The listeners themselves are proven in
``integration/test_lan_listener.py`` and ``integration/test_bypass_proxy_mode.py``."""

from __future__ import annotations

from pathlib import Path

import pytest

from omniroute.bridge.decrypt_policy import tunnel_undecrypted
from omniroute.bridge.relay_guard import is_local_client, names_this_machine, refusal
from omniroute.config import Settings
from omniroute.exposure import exposure_problem

OWN = {"192.0.2.2", "fd00::2"}


@pytest.mark.parametrize("host", [
    "127.0.0.1", "127.1.2.3", "::1", "[::1]", "::ffff:127.0.0.1", "[::ffff:7f00:1]", "0.0.0.0", "::",
    "0.1.2.3", "localhost", "LOCALHOST.", "api.localhost", "2130706433", "0x7f.1", "0177.0.0.1", "127.1",
    "192.0.2.2", "[fd00::2]", "::ffff:192.0.2.2",
])
def test_every_spelling_of_this_machine(host: str) -> None:
    assert names_this_machine(host, OWN)
    assert refusal(host, 20128, OWN) is not None


@pytest.mark.parametrize("host", ["example.com", "8.8.8.8", "192.0.2.3", "1e100.net", "localhost.example", "::2"])
def test_other_machines(host: str) -> None:
    assert not names_this_machine(host, OWN) and refusal(host, 443, OWN) is None


def test_local_clients_are_loopback_peers() -> None:
    assert is_local_client(("127.0.0.1", 5000)) and is_local_client(("::ffff:127.0.0.1", 5000, 0, 0))
    assert not is_local_client(("192.0.2.2", 5000)) and not is_local_client(None)


def _tunnels(sni: str | None, connect: str | None, dns_mode: bool = False, on: bool = True,
             no_route: bool = False) -> bool:
    return tunnel_undecrypted(
        sni=sni, connect_host=connect, dns_mode=dns_mode, intercept_on=on,
        bypassed=lambda host: host.endswith("paypal.com"), ours=lambda host: host.startswith("api."),
        no_route=no_route,
    )


def test_dns_mode_decrypts_a_host_with_no_route_to_say_why_unless_bypassed() -> None:
    assert _tunnels("www.example.com", None, dns_mode=True, no_route=True) is False
    assert _tunnels("www.paypal.com", None, dns_mode=True, no_route=True) is True
    assert _tunnels("www.example.com", None, dns_mode=True, on=False, no_route=True) is True


@pytest.mark.parametrize(("sni", "connect", "dns_mode", "on", "tunnelled"), [
    ("api.anthropic.com", "api.anthropic.com", False, True, False),
    ("API.Anthropic.com.", "api.anthropic.com", False, True, False),  # one host, two spellings
    ("api.anthropic.com", "127.0.0.9", False, True, False),  # CONNECT by IP: decided by the SNI
    ("api.anthropic.com", "www.paypal.com", False, True, True),  # the mismatch
    ("api.anthropic.com", "intranet.example.net", False, True, True),
    (None, "www.paypal.com", False, True, True),
    (None, "203.0.113.9", False, True, True),  # no name at all
    ("www.paypal.com", "127.0.0.9", False, True, True),
    ("api.anthropic.com", "api.anthropic.com", False, False, True),  # interception off
    ("api.anthropic.com", None, True, True, False),
    ("www.example.com", None, True, True, True),  # DNS mode: not an agent host
])
def test_decryption_needs_every_name_to_agree(
    sni: str | None, connect: str | None, dns_mode: bool, on: bool, tunnelled: bool
) -> None:
    assert _tunnels(sni, connect, dns_mode, on) is tunnelled


def _settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(home=tmp_path, api_port=1, proxy_port=2, bridge_port=0, **values)  # type: ignore[arg-type]


def test_a_wide_bind_needs_closed_or_explicitly_open_listeners(tmp_path: Path) -> None:
    assert exposure_problem(_settings(tmp_path, host="127.0.0.1")) is None
    assert "--proxy-auth" in (exposure_problem(_settings(tmp_path, host="0.0.0.0")) or "")
    assert "REQUIRE_API_KEY" in (exposure_problem(_settings(tmp_path, host="0.0.0.0", proxy_auth="u:p")) or "")
    assert exposure_problem(_settings(tmp_path, host="0.0.0.0"), proxy_auth="u:p") is not None
    assert exposure_problem(_settings(tmp_path, host="::", proxy_auth="u:p", require_api_key=True)) is None
    assert exposure_problem(_settings(tmp_path, host="0.0.0.0", allow_open_proxy=True, allow_open_v1=True)) is None
    bridge = Settings(home=tmp_path, host="0.0.0.0", proxy_port=0, bridge_port=3, require_api_key=True)
    assert "DNS-mode" in (exposure_problem(bridge) or "")
