"""Following a portal to another WorldServer: its world port, the transfer ticket, the zone.

A zone that moves our character to a zone of another WorldServer sends ``transfer`` (where
to go and a ticket); a WorldServer asked to put in play a character whose zone another
WorldServer runs answers ``enter_game`` with such a ticket (``ZoneEntry.transfer``). Either
way the client dials that WorldServer, redeems the ticket with ``transfer_login`` (a world
login and ``enter_game`` in one), makes it its world connection, and enters the zone.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from shardkit.client.follow import WorldFollower
from shardkit.wire.rpc import Router, RpcConnection
from shardkit.world.api import WorldPlayerApi
from shardkit.zone.schemas import Entered


class Traveller(Protocol):
    """What this needs of a GameClient."""

    world: RpcConnection | None
    world_name: str
    follower: WorldFollower

    async def enter_zone(self, host: str, port: int, ticket: bytes) -> Entered: ...


async def arrive(client: Traveller, dial: Callable[[str, int, Router], Awaitable[RpcConnection]],
                 router: Router, host: str, port: int, ticket: bytes) -> Entered:
    """Log in to the WorldServer at host:port with a transfer ticket and enter its zone."""
    world = await dial(host, port, router)
    try:
        arrival = await WorldPlayerApi(world).transfer_login(ticket)
    except BaseException:
        world.close("transfer refused")
        raise
    old, client.world = client.world, world  # first: the old one's close is no world lost
    if old is not None:
        old.close("moved to another WorldServer")
    client.follower.watch(world)  # followed through reboots and crashes like the first one
    client.world_name = arrival.welcome.world
    entry = arrival.entry
    return await client.enter_zone(entry.host, entry.port, entry.ticket)
