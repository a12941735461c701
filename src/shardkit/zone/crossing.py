"""Portals to a zone of another WorldServer: the character leaves saved, the client is sent on.

The player is taken out of the zone (no save of it can start here afterwards) and its state,
placed at the portal's target, goes to the daemon in one call (``transfer_character``): the
daemon saves it, moving the account's claim to the target WorldServer with the commit, and
has the target admit it. The player is told where to go (``transfer``) and its connection
closes. If the call fails, the same state is saved where the player stood, based on the same
version: refused as stale if the transfer's save did commit (the character is then at the
target, and the player is told so with ``portal``), kept otherwise (it stays here). Either way
exactly one version of the character, with its gold and items, is the stored one.
"""

from __future__ import annotations

import logging

import msgspec

from shardkit.characters.schemas import CharacterState
from shardkit.config.settings import WorldSettings
from shardkit.daemon.transfer_calls import TransferCalls, TransferCharacter, TransferTicket
from shardkit.runtime.peerlog import quote
from shardkit.runtime.tasks import background
from shardkit.wire.link import ServiceLink
from shardkit.wire.peers import notify
from shardkit.wire.rpc import RpcError
from shardkit.world.api import WorldZoneApi
from shardkit.zone.events import PortalEntered
from shardkit.zone.notifications import Kicked, Portal, Transfer
from shardkit.zone.roster import Player, Roster

log = logging.getLogger("shardkit.zone")

HERE, THERE = "here", "there"


class Crossings:
    """Moves players through portals to zones that other WorldServers of the world run."""

    def __init__(self, roster: Roster, world_link: ServiceLink, world: WorldSettings) -> None:
        self.roster = roster
        self.link = world_link
        self.world = WorldZoneApi(world_link)
        here = next((spec.number for spec in world.clusters if roster.zone in spec.zones), None)
        self.cluster_of = {z: spec.number for spec in world.clusters for z in spec.zones
                           if spec.number != here}

    def take(self, player: Player, event: PortalEntered) -> bool:
        """Start moving the player if the portal's zone is another WorldServer's; else False."""
        cluster = self.cluster_of.get(event.target_zone)
        if cluster is None:
            return False
        background(self.cross(player, event, cluster))
        return True

    async def cross(self, player: Player, event: PortalEntered, cluster: int) -> None:
        roster = self.roster
        async with roster.admissions.turn(player.account_id):
            if roster.players.get(player.eid) is not player:
                return
            async with player.save_lock:  # a periodic save under way finishes first
                here = roster.detach(player)
            if here is None:
                return
            log.info("%s took portal %s to %s on WorldServer %d", quote(player.name),
                     quote(event.portal), event.target_zone, cluster)
            there = msgspec.structs.replace(here, zone=event.target_zone, x=event.x, y=event.y)
            name = player.conn.identity.name if player.conn.identity else ""
            async with player.save_lock:
                ticket = await self._transfer(there, cluster, name)
                stayed = None if ticket is not None else await self._save_here(here)
        if ticket is not None:
            notify(player.conn, Transfer(event.portal, event.target_zone, event.x, event.y,
                                         ticket.host, ticket.port, ticket.ticket))
        elif stayed == HERE:
            notify(player.conn, Kicked(f"could not cross to {event.target_zone} now; you are"
                                       " saved where you stood: enter the game again"))
        elif stayed == THERE:  # entering the game again takes it to the target's WorldServer
            notify(player.conn, Portal(event.portal, event.target_zone, event.x, event.y, True))
        else:
            notify(player.conn, Kicked("your character could not be saved; enter the game"
                                       " again"))
        player.conn.close("crossed to another WorldServer")

    async def _transfer(self, state: CharacterState, cluster: int,
                        account_name: str) -> TransferTicket | None:
        try:
            return await TransferCalls.transfer_character.enter(
                self.link, *msgspec.structs.astuple(TransferCharacter(state, cluster,
                                                                      account_name)))
        except (RpcError, OSError) as exc:
            log.warning("transfer of %s to %s failed: %s", quote(state.name), state.zone,
                        quote(exc))
            return None

    async def _save_here(self, state: CharacterState) -> str:
        """Save the character where it stood: HERE, or THERE if that was refused as stale (the
        transfer's save committed), or "" if the save's fate is unknown."""
        try:
            result = await self.world.save_character(state, True)
        except RpcError as exc:
            log.error("saving %s after a failed transfer failed: %s", quote(state.name),
                      quote(exc))
            return ""
        if not result.ok:
            log.info("%s is saved at the portal's target (version %d): it enters there",
                     quote(state.name), result.version)
            return THERE
        return HERE
