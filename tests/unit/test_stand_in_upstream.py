"""The TLS stand-in for agents' real hosts keeps its 127.0.0.N:443 from the moment it is made:
parallel test workers (and two stand-ins in one test) never race each other to an address."""

from __future__ import annotations

import ssl

import httpx

from tests.support.fake_upstream import TLSUpstream


def test_two_stand_ins_made_before_either_starts_each_serve_their_own_address() -> None:
    first, second = TLSUpstream(), TLSUpstream()
    assert first.host != second.host
    with first, second:
        for upstream in (first, second):
            reply = httpx.get(f"https://{upstream.host}/_mock/health", timeout=10,
                              verify=ssl.create_default_context(cafile=upstream.ca_file))
            assert reply.status_code == 200


def test_a_stand_in_never_started_gives_its_address_back() -> None:
    unused = TLSUpstream()
    host = unused.host
    unused.stop()
    with TLSUpstream() as again:
        assert again.host == host
