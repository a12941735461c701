"""A zone's players: entering with a loaded character, leaving (or kicked) with a saved one.

Every player is one entity of the zone's engine and one connection; what the zone sends it
between ticks waits in its outbox and leaves with the tick's ``sync`` in one write.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import msgspec

from shardkit.characters.schemas import CharacterState
from shardkit.runtime.peerlog import quote
from shardkit.runtime.tasks import background
from shardkit.runtime.turns import KeyedTurns
from shardkit.wire.peers import SessionSlot, notify
from shardkit.wire.rpc import RpcConnection, RpcError
from shardkit.wire.throttle import TokenBucket
from shardkit.world.api import WorldZoneApi
from shardkit.zone.engine import ZoneEngine
from shardkit.zone.notifications import Kicked, Portal, Saved
from shardkit.zone.progress import is_new_here, item_counts, items_of, mute_of, saved_state
from shardkit.zone.save_retry import SaveRetries
from shardkit.zone.schemas import Entered, PortalSign

log = logging.getLogger("shardkit.zone")

OUTBOX_LIMIT = 256 * 1024
"""Bytes of notifications a player may have waiting for the next tick; more are dropped (a
client held back for being slow gets the latest state, never a growing backlog)."""


class Player:
    """A player in the zone: its entity, connection, loaded state, chat budget and outbox."""

    __slots__ = ("attack_tick", "chat", "conn", "dropped", "eid", "fd", "mute_reason",
                 "muted_until", "outbox", "outbox_bytes", "save_lock", "state", "transport")

    def __init__(self, eid: int, conn: RpcConnection, state: CharacterState,
                 chat: TokenBucket) -> None:
        self.eid = eid
        self.conn = conn
        self.state = state  # as loaded, then as last saved (its version is the save's base)
        self.chat = chat
        self.save_lock = asyncio.Lock()
        self.outbox: list[bytes] = []
        self.outbox_bytes = 0
        self.dropped = 0  # notifications dropped because the outbox was full
        self.muted_until, self.mute_reason = mute_of(state.data)
        self.attack_tick = -1  # the tick of its last attack: one per tick
        # looked up once for the ticker's writes (the fd is valid while the transport is open)
        self.transport = conn.writer.transport
        sock = self.transport.get_extra_info("socket")
        self.fd = -1 if sock is None else int(sock.fileno())

    @property
    def name(self) -> str:
        return self.state.name

    @property
    def account_id(self) -> int:
        return self.state.account_id

    @property
    def character_id(self) -> int:
        return self.state.id

    def queue(self, data: bytes) -> None:
        """Send ``data`` with the next tick's ``sync`` (dropped beyond ``OUTBOX_LIMIT``)."""
        if self.outbox_bytes + len(data) > OUTBOX_LIMIT:
            self.dropped += 1
            return
        self.outbox.append(data)
        self.outbox_bytes += len(data)

    def take_outbox(self) -> list[bytes]:
        outbox, self.outbox, self.outbox_bytes = self.outbox, [], 0
        return outbox


@dataclass
class ZoneSession:
    """A player's connection to the zone (``conn.session``): entering, then its Player."""

    entering: bool = False
    player: Player | None = None


sessions: SessionSlot[ZoneSession] = SessionSlot(ZoneSession)


def player_of(conn: RpcConnection) -> Player | None:
    session = sessions.get(conn)
    return session.player if session is not None else None


class Roster:
    """The players of one zone, by entity, account and name; their entries, saves and exits.

    One account has at most one player here: entries, leaves and kicks of one account take
    turns (``admissions``), so two tickets redeemed at once cannot both get in; the later one
    replaces the earlier, exactly as if they had come one after the other. ``world`` is the
    WorldServer's API (loads and saves go through it); ``clock`` is Unix time (mutes).
    """

    def __init__(self, zone: str, engine: ZoneEngine, *, chat_per_s: float, chat_burst: int,
                 world: WorldZoneApi, clock: Callable[[], float] = time.time,
                 on_population: Callable[[int], None] = lambda n: None) -> None:
        self.zone = zone
        self.engine = engine
        self.sim = engine.sim
        self.chat_per_s = chat_per_s
        self.chat_burst = chat_burst
        self.world = world
        self.clock = clock
        self.on_population = on_population
        self.on_enter: Callable[[Player], None] = lambda player: None  # once it is in
        self.players: dict[int, Player] = {}
        self.by_account: dict[int, Player] = {}
        self.by_name: dict[str, Player] = {}
        self.admissions = KeyedTurns()
        self.retries = SaveRetries(world.save_character)  # final saves that wait

    def __len__(self) -> int:
        return len(self.players)

    def named(self, name: str) -> Player | None:
        return self.by_name.get(name.casefold())

    def queue_all(self, data: bytes) -> None:
        for player in self.players.values():
            player.queue(data)

    # ------------------------------------------------------------- entering
    async def admit(self, conn: RpcConnection, account_id: int, character: str) -> Entered:
        """Put the account's character in play here, replacing (and saving) an older entry."""
        async with self.admissions.turn(account_id):
            if conn.closed.is_set():
                raise RpcError("closed", "the connection closed while waiting to enter")
            old = self.by_account.get(account_id)
            if old is not None:  # saved (it is told `saved`), then told why and closed
                await self.remove(old, final=False)
                notify(old.conn, Kicked("entered the game from elsewhere"))
                old.conn.close("replaced")
            await self.retries.settle(account_id)  # a waiting final save of the account goes first
            state = await self.world.load_character(account_id, character)
            return self._add(conn, state)  # closed meanwhile: it leaves (and is saved) at once

    def _add(self, conn: RpcConnection, state: CharacterState) -> Entered:
        new_here = is_new_here(state, self.zone)
        eid = self.engine.join(
            state.name, x=None if new_here else state.x, y=None if new_here else state.y,
            level=state.level, xp=state.experience, hp=state.health, gold=state.gold,
            items=items_of(state.inventory))
        player = Player(eid, conn, state, TokenBucket(self.chat_per_s, self.chat_burst))
        self.players[eid] = player
        self.by_account[state.account_id] = player
        self.by_name[state.name.casefold()] = player
        sessions.of(conn).player = player
        conn.on_close(lambda c: self._disconnected(player))
        self.on_population(len(self.players))
        self.on_enter(player)
        progress = self.sim.progress(eid)
        log.info("%s entered %s at (%.1f, %.1f)%s", quote(state.name), self.zone, progress.x,
                 progress.y, " (spawn area)" if new_here else "")
        slot = self.sim.table.slot_of[eid]
        return Entered(
            eid, self.zone, progress.x, progress.y, self.sim.tick_hz, self.sim.speed,
            level=progress.level, xp=progress.xp, hp=progress.hp,
            max_hp=int(self.sim.table.max_hp[slot]), gold=progress.gold,
            items=item_counts(progress.items), view_radius=self.sim.view_radius,
            say_radius=self.sim.zone.say_radius, width=self.sim.width, height=self.sim.height,
            portals=[PortalSign(p.name, p.area.x, p.area.y, p.area.width, p.area.height,
                                p.target_zone) for p in self.sim.zone.portals],
            level_xp=list(self.sim.rules.level_xp))

    # -------------------------------------------------------------- leaving
    def _disconnected(self, player: Player) -> None:
        if self.players.get(player.eid) is player:
            background(self.leave(player))

    async def leave(self, player: Player) -> bool:
        """The player leaves play (logout, disconnect): a final save, in the account's turn.

        Holding the turn means a new entry of the account waits for this save, so it loads
        the state just saved (not an older version that the save would then make stale).
        """
        async with self.admissions.turn(player.account_id):
            return await self.remove(player, final=True)

    async def remove(self, player: Player, *, final: bool,
                     moved_to: tuple[str, float, float] | None = None) -> bool:
        """Take a player out of the zone and save it; True if the save was acknowledged.

        ``moved_to`` (zone, x, y) saves it there instead of where it stands (a portal).
        """
        state = self.detach(player)
        if state is None:
            return True
        if moved_to is not None:
            state = msgspec.structs.replace(state, zone=moved_to[0], x=moved_to[1], y=moved_to[2])
        return await self.save(player, final=final, state=state)

    def detach(self, player: Player) -> CharacterState | None:
        """Take a player out of the zone, unsaved: its state to save (None if it had left)."""
        if self.players.pop(player.eid, None) is None:
            return None
        if self.by_account.get(player.account_id) is player:
            del self.by_account[player.account_id]
        if self.by_name.get(player.name.casefold()) is player:
            del self.by_name[player.name.casefold()]
        session = sessions.get(player.conn)
        if session is not None and session.player is player:
            session.player = None  # what it sends from now on is ignored
        state = self.state_of(player)
        self.engine.leave(player.eid)  # viewers are told it left on the next tick
        self.on_population(len(self.players))
        return state

    def state_of(self, player: Player) -> CharacterState:
        """The player's state to save now (its live progress, where it stands)."""
        return saved_state(player.state, self.sim.progress(player.eid), zone=self.zone,
                           mute=(player.muted_until, player.mute_reason), now=self.clock())

    async def save(self, player: Player, *, final: bool = False,
                   state: CharacterState | None = None) -> bool:
        """Save a player's state through the world; True once the character server committed it."""
        async with player.save_lock:
            if state is None:
                if player.eid not in self.players:
                    return True  # left meanwhile: its final save was made (or is under way)
                state = self.state_of(player)
            try:
                result = await self.world.save_character(state, final)
            except RpcError as exc:
                log.error("saving %s failed: %s", quote(state.name), quote(exc))
                if final:
                    self.retries.add(state)  # out of the zone, but its state is kept
                return False
            if not result.ok:
                log.error("save of %s refused (%s); this zone no longer owns it",
                          quote(state.name), quote(result.reason))
                notify(player.conn, Kicked("your character is in play elsewhere"))
                player.conn.close("stale save")
                return False
            player.state = msgspec.structs.replace(state, version=result.version)
            if not player.conn.closed.is_set():
                notify(player.conn, Saved(result.version, state.zone, state.x, state.y))
            return True

    async def save_all(self) -> int:
        """Save everyone here; how many saves were not acknowledged."""
        saved = await asyncio.gather(*(self.save(p) for p in list(self.players.values())))
        return saved.count(False)

    async def kick(self, account_id: int, reason: str) -> None:
        """Save the account's character, tell the player why, and close its connection."""
        async with self.admissions.turn(account_id):  # an entry under way finishes first
            player = self.by_account.get(account_id)
            if player is None:
                return
            log.info("kicking %s out of %s: %s", quote(player.name), self.zone, quote(reason))
            saved = await self.remove(player, final=True)
        if not saved:
            log.error("final save of kicked %s was not acknowledged", quote(player.name))
        notify(player.conn, Kicked(reason))
        player.conn.close(f"kicked: {reason}")

    async def through_portal(self, player: Player, portal: str, zone: str, x: float,
                             y: float) -> bool:
        """Save the player in ``zone`` at (x, y) and let it go: its client enters again there.

        True once it was saved there; False if it had left already or the save failed.
        """
        async with self.admissions.turn(player.account_id):
            if self.players.get(player.eid) is not player:
                return False
            log.info("%s took portal %s to %s", quote(player.name), quote(portal), zone)
            saved = await self.remove(player, final=True, moved_to=(zone, x, y))
        if not saved:
            notify(player.conn, Kicked("your character could not be saved; enter the game again"))
        else:
            notify(player.conn, Portal(portal, zone, x, y, True))
        player.conn.close("went through a portal")
        return saved
