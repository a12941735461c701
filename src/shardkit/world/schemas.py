"""Messages of a WorldServer's port (2006 + cluster): players' login and game entry, its zones.

The character and guild calls it relays are declared in characters/calls.py.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

ZONE_TICK_BUCKETS_S = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5)
"""Bucket bounds (seconds) of a zone's tick-time histogram, as a zone reports it."""


class TicketLogin(msgspec.Struct, array_like=True):
    ticket: bytes


class CharacterName(msgspec.Struct, array_like=True):
    name: str


class Welcome(msgspec.Struct):
    world: str
    cluster: int
    account_id: int
    account_name: str


class ZoneEntry(msgspec.Struct):
    zone: str
    host: str
    port: int
    ticket: bytes
    transfer: bool = False  # a transfer ticket for another WorldServer's world port (host:port)


class TransferArrival(msgspec.Struct):
    """``transfer_login``'s answer: the world login's welcome and the zone to enter."""

    welcome: Welcome
    entry: ZoneEntry


class ZoneReady(msgspec.Struct, array_like=True):
    zone: str
    port: int


class ZonePopulation(msgspec.Struct, array_like=True):
    zone: str
    players: int


class ZoneTickStats(msgspec.Struct, array_like=True):
    """A zone's tick times since it started: cumulative counts per ``ZONE_TICK_BUCKETS_S`` bound,
    then the total (the +Inf bucket), and the sum of the tick times in seconds."""

    zone: str
    seconds: Annotated[float, msgspec.Meta(ge=0)]
    buckets: Annotated[list[Annotated[int, msgspec.Meta(ge=0)]],
                       msgspec.Meta(max_length=len(ZONE_TICK_BUCKETS_S) + 1)]


class ZoneStatus(msgspec.Struct):
    """One zone of a WorldServer as it sees it (the daemon's console shows it)."""

    zone: str
    state: str  # "up", or "down" while its supervisor restarts it
    port: int  # 0 while down
    players: int
    starts: int  # times its process was started (1 + restarts)
    uptime_s: float  # since it last reported ready; 0 while down
