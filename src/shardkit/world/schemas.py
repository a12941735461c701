"""Messages of a WorldServer's port (2006 + cluster): players' login and game entry, its zones.

The character and guild calls it relays are declared in characters/calls.py.
"""

from __future__ import annotations

import msgspec


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


class ZoneReady(msgspec.Struct, array_like=True):
    zone: str
    port: int


class ZonePopulation(msgspec.Struct, array_like=True):
    zone: str
    players: int
