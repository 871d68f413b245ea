"""The IP filter: which client addresses may call this OmniRoute at all (the OmniRoute API
specification's ``/api/settings/ip-filter``).

``blacklist`` mode refuses the listed addresses; ``whitelist`` mode refuses everyone else.
Entries are addresses or networks (``10.0.0.0/8``, ``::1``). Temporary bans refuse one
address until they expire, in either mode. The request guards ask `refusal` first, before any
other work; the decision is a pure function of this state, the address and the clock.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
MODES = ("blacklist", "whitelist")


def parse_entry(entry: str) -> Network:
    """An address or a network; ValueError with the entry named."""
    try:
        return ipaddress.ip_network(entry.strip(), strict=False)
    except ValueError:
        raise ValueError(f"{entry!r} is not an IP address or network (e.g. 203.0.113.7, 10.0.0.0/8)") from None


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)  # a dual-stack listener's ::ffff:a.b.c.d
    return mapped or address


@dataclass(frozen=True, slots=True)
class TempBan:
    ip: str
    until: float
    reason: str = "Manual ban"


@dataclass(frozen=True, slots=True)
class IpFilterConfig:
    enabled: bool = False
    mode: str = "blacklist"
    blacklist: tuple[str, ...] = ()
    whitelist: tuple[str, ...] = ()
    temp_bans: tuple[TempBan, ...] = ()

    def to_api(self, now: float) -> dict[str, Any]:
        return {
            "enabled": self.enabled, "mode": self.mode,
            "blacklist": list(self.blacklist), "whitelist": list(self.whitelist),
            "tempBans": [{"ip": b.ip, "reason": b.reason, "expiresAt": _iso(b.until),
                          "remainingMs": max(0, int((b.until - now) * 1000))}
                         for b in self.temp_bans if b.until > now],
        }

    def to_stored(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "mode": self.mode, "blacklist": list(self.blacklist),
                "whitelist": list(self.whitelist),
                "tempBans": [{"ip": b.ip, "until": b.until, "reason": b.reason} for b in self.temp_bans]}

    @classmethod
    def from_stored(cls, data: dict[str, Any]) -> IpFilterConfig:
        bans = tuple(TempBan(b["ip"], float(b["until"]), b.get("reason") or "Manual ban")
                     for b in data.get("tempBans") or ())
        return cls(bool(data.get("enabled")), data.get("mode") or "blacklist",
                   tuple(data.get("blacklist") or ()), tuple(data.get("whitelist") or ()), bans)


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def _networks(entries: Iterable[str]) -> tuple[Network, ...]:
    return tuple(parse_entry(e) for e in entries)


@dataclass(slots=True)
class IpFilter:
    """The filter in force; `configure` swaps it whole (read on every request, no lock needed)."""

    clock: Callable[[], float] = time.time
    config: IpFilterConfig = field(default_factory=IpFilterConfig)
    _black: tuple[Network, ...] = ()
    _white: tuple[Network, ...] = ()
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def configure(self, config: IpFilterConfig) -> None:
        black, white = _networks(config.blacklist), _networks(config.whitelist)
        with self._lock:
            self.config, self._black, self._white = config, black, white

    @property
    def active(self) -> bool:
        return self.config.enabled or bool(self.config.temp_bans)

    def refusal(self, host: str | None) -> str | None:
        """Why a caller at ``host`` is refused, or None when it may go on."""
        config = self.config
        if not (config.enabled or config.temp_bans) or not host:
            return None
        address = _address(host)
        if address is None:
            return None  # a Unix socket or an in-process caller: no address to judge
        now = self.clock()
        for ban in config.temp_bans:
            if ban.until > now and _address(ban.ip) == address:
                return f"address {address} is temporarily banned ({ban.reason}) until {_iso(ban.until)}"
        if not config.enabled:
            return None
        if config.mode == "whitelist":
            if not any(address in net for net in self._white if net.version == address.version):
                return f"address {address} is not on this OmniRoute's IP whitelist"
        elif any(address in net for net in self._black if net.version == address.version):
            return f"address {address} is on this OmniRoute's IP blacklist"
        return None
