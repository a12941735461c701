"""Messages of the daemon's port 7000 for WorldServers (relayed calls: characters/calls.py)."""

from __future__ import annotations

import msgspec


class RegisterCluster(msgspec.Struct, array_like=True):
    number: int
    host: str
    port: int
    content_version: str = ""  # must equal the character server's


class ClusterRegistered(msgspec.Struct):
    ok: bool
    world: str


class Population(msgspec.Struct, array_like=True):
    number: int
    players: int


class SpendTicket(msgspec.Struct, array_like=True):
    """A world ticket a WorldServer admits a player with, to be spent once across the world."""

    nonce: bytes
    destination: str  # the WorldServer the ticket names: the caller's own name
    expires_at: float  # unix time; the daemon remembers the nonce until then
