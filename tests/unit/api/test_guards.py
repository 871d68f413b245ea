"""Who counts as "this machine" for the loopback-only routes and the management bootstrap."""

from __future__ import annotations

import pytest

from omniroute.addresses import is_loopback


@pytest.mark.parametrize("peer", ["127.0.0.1", "127.8.9.10", "::1", "localhost", "::ffff:127.0.0.1", "::1%lo"])
def test_loopback_peers(peer: str) -> None:
    assert is_loopback(peer)


@pytest.mark.parametrize("peer", [None, "", "192.0.2.10", "::ffff:192.0.2.10", "2001:db8::1", "0.0.0.0", "::",
                                  "localhost.evil.example", "127.0.0.1.evil.example"])
def test_everything_else_is_another_machine(peer: str | None) -> None:
    assert not is_loopback(peer)
