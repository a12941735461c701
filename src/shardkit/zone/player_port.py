"""What a player's client does on a zone port: enter with a ticket, move, fight, talk, leave."""

from __future__ import annotations

import asyncio

from shardkit.wire.peers import Ok
from shardkit.wire.rpc import Identity, RpcConnection, RpcError, rpc
from shardkit.wire.tickets import TicketRedeemer
from shardkit.zone.chat import ZoneChat
from shardkit.zone.notifications import WORLD
from shardkit.zone.roster import Player, Roster, player_of, sessions
from shardkit.zone.schemas import (
    Attack,
    ChatLine,
    ClaimPosition,
    Entered,
    Input,
    Say,
    WhisperTo,
    ZoneLogin,
)


def _playing(conn: RpcConnection) -> Player:
    player = player_of(conn)
    if player is None:
        raise RpcError("not_in_zone", "this connection has left the zone")
    return player


class PlayerPort:
    """A zone port's player methods. Movement is the player's intent; the zone decides where
    it is (``claim_position`` is checked, never taken), and fights by its own rules."""

    def __init__(self, zone: str, redeemer: TicketRedeemer, roster: Roster,
                 chat: ZoneChat) -> None:
        self.zone = zone
        self.redeemer = redeemer
        self.roster = roster
        self.sim = roster.sim
        self.chat_ = chat

    @rpc("zone_login", ZoneLogin, public=True)
    async def zone_login(self, conn: RpcConnection, p: ZoneLogin) -> Entered:
        """Enter the zone with the single-use ticket the world server issued."""
        if conn.identity is not None:
            raise RpcError("already_authenticated", "this connection is already in the zone")
        session = sessions.of(conn)
        if session.entering:
            raise RpcError("busy", "already entering the zone")
        ticket = self.redeemer.redeem(p.ticket, self.zone)
        session.entering = True
        try:
            entered = await self.roster.admit(conn, ticket.account_id, ticket.character)
        finally:
            session.entering = False
        conn.identity = Identity("player", ticket.account_name, ticket.account_id)
        # right after this answer (which is written in the same step), not at the next tick
        asyncio.get_running_loop().call_soon(self._first_sync, conn, entered.entity_id)
        return entered

    def _first_sync(self, conn: RpcConnection, eid: int) -> None:
        """Send a player who just entered its view now (the engine sends nothing if a tick
        has sent it already)."""
        if conn.closed.is_set():
            return
        payload = self.roster.engine.first_sync(eid)
        if payload is not None:
            conn.send_encoded(payload)

    @rpc("input", Input)
    def input(self, conn: RpcConnection, p: Input) -> None:
        """Set the direction to walk in (a notification; the zone moves you each tick)."""
        player = player_of(conn)
        if player is not None:
            self.sim.set_input(player.eid, p.dx, p.dy)

    @rpc("claim_position", ClaimPosition)
    def claim_position(self, conn: RpcConnection, p: ClaimPosition) -> None:
        """Say where you believe you are; too far from the zone's idea gets you `corrected`."""
        player = player_of(conn)
        if player is not None:  # each impossible one counts; one `corrected` per tick says it
            self.sim.claim_position(player.eid, p.x, p.y)

    @rpc("attack", Attack)
    def attack(self, conn: RpcConnection, p: Attack) -> None:
        """Attack an entity (a notification); the result comes as events, or `attack_refused`."""
        player = player_of(conn)
        if player is not None and player.attack_tick != self.sim.tick:  # one per tick
            player.attack_tick = self.sim.tick
            self.sim.attack(player.eid, p.target)

    @rpc("say", Say)
    def say(self, conn: RpcConnection, p: Say) -> None:
        """Say something the players near you hear (within the zone's say radius)."""
        player = player_of(conn)
        if player is not None:
            self.chat_.say(player, p.text)

    @rpc("chat", ChatLine)
    async def chat(self, conn: RpcConnection, p: ChatLine) -> Ok:
        """Say something on a channel: `say` (nearby), `zone` or `world`."""
        player = _playing(conn)
        if p.channel == WORLD:
            await self.chat_.world_chat(player, p.text)
        else:
            self.chat_.chat(player, p.channel, p.text)
        return Ok()

    @rpc("whisper", WhisperTo)
    async def whisper(self, conn: RpcConnection, p: WhisperTo) -> Ok:
        """Say something to one character, wherever in the world it plays."""
        await self.chat_.whisper(_playing(conn), p.to, p.text)
        return Ok()

    @rpc("logout")
    async def logout(self, conn: RpcConnection) -> Ok:
        """Leave the zone; answered after the character is saved."""
        player = player_of(conn)
        if player is None:
            return Ok()
        saved = await self.roster.leave(player)
        close_later = asyncio.get_running_loop().call_soon
        close_later(conn.close, "logged out")
        return Ok(saved)
