"""Another machine on the LAN, made by the test run: a network namespace joined to this one by a
veth pair.

The namespace has its own stack: the far end of the pair (``peer_address``) and ``lo``, and no
other route, so whatever runs in it can reach nothing but this machine's end of the pair
(``host_address``). A listener of this machine on a wildcard address sees such a client with a
peer that is not one of its own addresses, exactly as a connection from another machine.

Client code runs in the namespace through ``LanHost.run``: one dedicated thread that joined it
with ``setns`` (which switches only the calling thread). Sockets must be created and used inside
the function given to ``run``. Needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN); ``lan_host``
skips with the reason otherwise.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import socket
import subprocess
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

import pytest

P = ParamSpec("P")
T = TypeVar("T")

_POOL = ipaddress.ip_network("10.213.0.0/16")  # carved into /30 links, one per test process
_LINK = 30


class NamespaceUnavailable(Exception):
    """This machine cannot make a network namespace here (the message says why)."""


def _ip(*args: str, check: bool = True) -> str:
    done = subprocess.run(["ip", *args], check=False, capture_output=True, text=True, timeout=30)
    if check and done.returncode != 0:
        raise NamespaceUnavailable(f"`ip {' '.join(args)}` failed: {done.stderr.strip() or done.returncode}")
    return done.stdout


def _taken_networks() -> list[ipaddress.IPv4Network]:
    """IPv4 networks this machine already routes or holds an address in (the default route aside)."""
    taken = []
    for route in json.loads(_ip("-j", "-4", "route", "show", "table", "all") or "[]"):
        if route.get("dst", "default") != "default":
            taken.append(ipaddress.ip_network(route["dst"], strict=False))
    for link in json.loads(_ip("-j", "-4", "addr") or "[]"):
        for info in link.get("addr_info", []):
            taken.append(ipaddress.ip_network(f"{info['local']}/{info['prefixlen']}", strict=False))
    return [net for net in taken if isinstance(net, ipaddress.IPv4Network)]


def pick_link(seed: int, taken: list[ipaddress.IPv4Network]) -> ipaddress.IPv4Network:
    """A /30 of 10.213.0.0/16 that overlaps nothing in ``taken``, starting from ``seed`` (the
    pid, so that concurrent test processes pick different links)."""
    links = list(_POOL.subnets(new_prefix=_LINK))
    for step in range(len(links)):
        link = links[(seed + step) % len(links)]
        if not any(link.overlaps(net) for net in taken):
            return link
    raise NamespaceUnavailable(f"every /{_LINK} of {_POOL} is in use on this machine")


def _join(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.setns(fd, os.CLONE_NEWNET)
    finally:
        os.close(fd)


def _interfaces() -> set[str]:
    return {name for _, name in socket.if_nameindex()}


@dataclass(frozen=True)
class LanHost:
    name: str
    host_address: str  # this machine's end of the link: what a client on the LAN dials
    peer_address: str  # the other machine's own address
    _thread: ThreadPoolExecutor

    def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn(*args, **kwargs)`` on the other machine; its result, or its exception re-raised."""
        return self._thread.submit(fn, *args, **kwargs).result()


@contextmanager
def lan_host() -> Iterator[LanHost]:
    """Another machine on a /30 link to this one, for as long as the block runs; everything is
    removed afterwards, whatever happened. Skips when the machine cannot make one."""
    if not hasattr(os, "setns") or shutil.which("ip") is None:
        pytest.skip("a LAN client needs a network namespace: os.setns (Python 3.12, Linux) and iproute2's `ip`")
    pid = os.getpid()
    name, host_end, far_end = f"omr-lan-{pid}", f"omrh{pid}", f"omrn{pid}"
    with ExitStack() as cleanup:
        try:
            link = pick_link(pid, _taken_networks())
            host_address, peer_address = (str(a) for a in link.hosts())
            # Left by a killed run whose pid this process now has: nobody else uses that name.
            _ip("link", "del", host_end, check=False)
            _ip("netns", "del", name, check=False)
            _ip("netns", "add", name)
            cleanup.callback(_ip, "netns", "del", name, check=False)
            _ip("link", "add", host_end, "type", "veth", "peer", "name", far_end, "netns", name)
            # Deleting the host end takes the pair down at once (the namespace goes when its
            # last user does); it may already be gone with the namespace.
            cleanup.callback(_ip, "link", "del", host_end, check=False)
            _ip("addr", "add", f"{host_address}/{_LINK}", "dev", host_end)
            _ip("link", "set", host_end, "up")
            _ip("-n", name, "addr", "add", f"{peer_address}/{_LINK}", "dev", far_end)
            _ip("-n", name, "link", "set", far_end, "up")
            _ip("-n", name, "link", "set", "lo", "up")
        except NamespaceUnavailable as exc:
            pytest.skip(f"cannot make a network namespace for a LAN client here: {exc}")
        thread = ThreadPoolExecutor(1, thread_name_prefix=name, initializer=_join, initargs=(f"/run/netns/{name}",))
        cleanup.callback(thread.shutdown, wait=True, cancel_futures=True)  # leaves the namespace first
        host = LanHost(name, host_address, peer_address, thread)
        seen = host.run(_interfaces)
        assert far_end in seen and host_end not in seen, f"the LAN thread is not in {name}: it sees {seen}"
        yield host
