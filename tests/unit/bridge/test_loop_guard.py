"""The passthrough loop guard: which (address, port) pairs are one of our own proxy listeners."""

from __future__ import annotations

import pytest

from omniroute.bridge.upstream import UpstreamChooser
from omniroute.bridge.upstream_dns import UpstreamResolver, listener_accepts, same_address

LAN = "192.168.7.20"


def _chooser(host: str = "127.0.0.1") -> UpstreamChooser:
    # The API's port (20128) is not passed: it answers, never proxies again.
    return UpstreamChooser(UpstreamResolver(["127.0.0.1"]), bind_host=host, proxy_ports=(8080, 8443),
                           own_addresses={LAN, "fe80::1"})


@pytest.mark.parametrize(
    ("bind", "ip", "expected"),
    [
        ("127.0.0.1", "127.0.0.1", True),
        ("127.0.0.1", "::ffff:127.0.0.1", True),
        ("127.0.0.1", "127.0.0.2", False),  # another loopback address: another socket
        ("127.0.0.1", LAN, False),
        ("0.0.0.0", LAN, True),
        ("::", "127.0.0.5", True),
        ("::", "[fe80::1%eth0]", True),
        ("0.0.0.0", "8.8.8.8", False),
        ("localhost", "::1", True),  # a name may stand for any local address
        ("127.0.0.1", "not-an-ip", False),
    ],
)
def test_listener_accepts(bind: str, ip: str, expected: bool) -> None:
    assert listener_accepts(bind, ip, {LAN, "fe80::1"}) is expected


def test_same_address() -> None:
    assert same_address("::ffff:127.0.0.1", "127.0.0.1")
    assert same_address("[::1]", "::1")
    assert not same_address("127.0.0.1", "127.0.0.2")
    assert not same_address("example.com", "example.com")


@pytest.mark.parametrize(
    ("host", "ip", "port", "arrived_at", "expected"),
    [
        ("127.0.0.1", "127.0.0.1", 8080, None, True),  # HTTP_PROXY listener
        ("127.0.0.1", "127.0.0.1", 8443, None, True),  # DNS-mode listener
        ("127.0.0.1", "127.0.0.1", 20128, None, False),  # the API answers, never proxies again
        ("127.0.0.1", "127.0.0.2", 8080, None, False),
        ("127.0.0.1", "127.0.0.1", 443, None, False),
        ("0.0.0.0", LAN, 8443, None, True),
        # DNS mode: 443 at the address the agent arrived on is us, whatever the listener's port.
        ("127.0.0.1", "127.0.0.1", 443, "127.0.0.1", True),
        ("127.0.0.1", "127.0.0.1", 443, "::ffff:127.0.0.1", True),
        ("127.0.0.1", "127.0.0.3", 443, "127.0.0.1", False),  # a real upstream on loopback
        ("127.0.0.1", "127.0.0.1", 20128, "127.0.0.1", False),  # routed calls go to the API
    ],
)
def test_loops_back(host: str, ip: str, port: int, arrived_at: str | None, expected: bool) -> None:
    assert _chooser(host).loops_back(ip, port, arrived_at) is expected
