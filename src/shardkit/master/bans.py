"""Bans in force, in memory for the login path: by account and by IP range, with expiry, reason."""

from __future__ import annotations

import ipaddress
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from shardkit.store.accounts import BanRecord

__all__ = ["ActiveBan", "BanList", "ban_message", "parse_duration", "parse_network"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_DURATION = re.compile(r"([0-9]+)([smhdw])")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
PERMANENT_WORDS = frozenset({"perm", "permanent", "forever"})


def parse_duration(text: str) -> float | None:
    """Seconds in ``30s``, ``15m``, ``2h``, ``7d`` or ``1w``; None if ``text`` is not a duration."""
    match = _DURATION.fullmatch(text.strip().lower())
    if not match or int(match.group(1)) == 0:
        return None
    return int(match.group(1)) * _UNIT_S[match.group(2)]


def parse_network(text: str) -> Network | None:
    """An address or CIDR range, or None.

    For example ``203.0.113.7``, ``203.0.113.0/24`` or ``2001:db8::/32``.
    """
    try:
        net = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None
    if isinstance(net, ipaddress.IPv6Network) and net.network_address.ipv4_mapped is not None:
        mapped = net.network_address.ipv4_mapped
        return ipaddress.IPv4Network((mapped, max(0, net.prefixlen - 96)), strict=False)
    return net


def _address(ip: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


@dataclass(frozen=True)
class ActiveBan:
    """One ban in force: on an account or a network, until ``expires_at`` (unix time) or forever."""

    id: int
    reason: str
    expires_at: float | None
    account_id: int | None = None
    account_name: str | None = None
    network: Network | None = None

    @classmethod
    def from_record(cls, record: BanRecord) -> ActiveBan:
        network = parse_network(record.ip_range) if record.ip_range else None
        expires = record.expires_at.timestamp() if record.expires_at else None
        return cls(
            record.id, record.reason, expires, record.account_id, record.account_name, network
        )

    @property
    def target(self) -> str:
        if self.network is not None:
            return str(self.network)
        return self.account_name or f"account #{self.account_id}"


def ban_message(ban: ActiveBan, now: float) -> str:
    """What the banned player reads: until when, and why."""
    reason = ban.reason or "no reason given"
    if ban.expires_at is None:
        return f"banned permanently: {reason}"
    until = datetime.fromtimestamp(ban.expires_at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    left = max(1, round(ban.expires_at - now))
    return f"banned until {until} ({left} s from now): {reason}"


class BanList:
    """The bans in force, by account and by network; expired ones simply stop matching."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._bans: dict[int, ActiveBan] = {}

    def replace(self, bans: Iterable[ActiveBan]) -> None:
        self._bans = {ban.id: ban for ban in bans}

    def add(self, ban: ActiveBan) -> None:
        self._bans[ban.id] = ban

    def lift(self, predicate: Callable[[ActiveBan], bool]) -> int:
        gone = [ban_id for ban_id, ban in self._bans.items() if predicate(ban)]
        for ban_id in gone:
            del self._bans[ban_id]
        return len(gone)

    def in_force(self) -> list[ActiveBan]:
        now = self._clock()
        self._bans = {i: b for i, b in self._bans.items() if not self._expired(b, now)}
        return sorted(self._bans.values(), key=lambda b: b.id)

    @staticmethod
    def _expired(ban: ActiveBan, now: float) -> bool:
        return ban.expires_at is not None and ban.expires_at <= now

    def for_account(self, account_id: int) -> ActiveBan | None:
        """The ban on this account that lasts longest, if any is in force."""
        return self._longest(b for b in self._bans.values() if b.account_id == account_id)

    def for_ip(self, ip: str) -> ActiveBan | None:
        """The ban on a network holding ``ip`` that lasts longest, if any is in force."""
        if not any(b.network is not None for b in self._bans.values()):
            return None  # the common case: no address bans, no parsing
        addr = _address(ip)
        if addr is None:
            return None
        return self._longest(
            b for b in self._bans.values()
            if b.network is not None and b.network.version == addr.version and addr in b.network
        )

    def _longest(self, bans: Iterable[ActiveBan]) -> ActiveBan | None:
        now = self._clock()
        live = [b for b in bans if not self._expired(b, now)]
        if not live:
            return None
        return max(live, key=lambda b: float("inf") if b.expires_at is None else b.expires_at)

    def message_for(self, ban: ActiveBan) -> str:
        return ban_message(ban, self._clock())
