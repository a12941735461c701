"""Chat in a zone: ``say`` within a radius, the whole zone, and world chat and whispers relayed.

Text is cleaned here, where it enters the cluster (``wire/text.py``). A muted character's
lines are dropped and it is told (``muted``). Say and zone chat are counted against the
player's budget here; world chat and whispers at the daemon, where all of a character's pass.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from shardkit.characters.names import CHARACTER_MAX
from shardkit.wire.peers import encode_notice
from shardkit.wire.rpc import RpcError
from shardkit.wire.text import clean_text
from shardkit.wire.throttle import throttled
from shardkit.world.api import WorldZoneApi
from shardkit.zone.notifications import SAY, WORLD, ZONE, Chat
from shardkit.zone.roster import Player, Roster

MAX_CHAT = 256  # characters of one chat line


def until_text(until: float) -> str:
    return datetime.fromtimestamp(until, UTC).strftime("%Y-%m-%d %H:%M UTC")


class ZoneChat:
    """What players say, and to whom it goes; ``clock`` is Unix time (for mutes)."""

    def __init__(self, roster: Roster, world: WorldZoneApi, *, say_radius: float,
                 clock: Callable[[], float] = time.time) -> None:
        self.roster = roster
        self.world = world
        self.say_radius = say_radius
        self.clock = clock

    def _line(self, player: Player, text: str, *, counted: bool = True) -> str:
        """The cleaned line, once the player may say it (else an RpcError saying why not)."""
        if player.muted_until:
            if player.muted_until > self.clock():
                reason = f": {player.mute_reason}" if player.mute_reason else ""
                raise RpcError("muted", f"you are muted until {until_text(player.muted_until)}"
                               f"{reason}")
            player.muted_until, player.mute_reason = 0.0, ""
        line = clean_text(text, MAX_CHAT)
        if line and counted and not player.chat.take():
            raise throttled(player.chat, "you are chatting too fast")
        return line

    def say(self, player: Player, text: str) -> None:
        """Heard by the players within the zone's say radius, the speaker included."""
        line = self._line(player, text)
        if not line:
            return
        data = encode_notice(Chat(player.name, line, SAY))
        players = self.roster.players
        for eid in self.roster.sim.players_near(player.eid, self.say_radius):
            hearer = players.get(eid)
            if hearer is not None:
                hearer.queue(data)

    def chat(self, player: Player, channel: str, text: str) -> None:
        """``zone``: heard by everyone in the zone; ``say``: as ``say``."""
        if channel == SAY:
            self.say(player, text)
        elif channel == ZONE:
            line = self._line(player, text)
            if line:
                self.roster.queue_all(encode_notice(Chat(player.name, line, ZONE)))
        else:
            raise RpcError("bad_params", f"`channel`: one of {SAY}, {ZONE}, {WORLD}")

    async def world_chat(self, player: Player, text: str) -> None:
        """Heard by every player of the world, on every WorldServer (through the daemon)."""
        line = self._line(player, text, counted=False)  # the daemon counts world chat
        if line:
            await self.world.chat_world(player.character_id, player.name, line)

    async def whisper(self, player: Player, to: str, text: str) -> None:
        """To one character anywhere in the world; ``offline`` when it plays nowhere."""
        if not 1 <= len(to) <= CHARACTER_MAX:  # no character has that name
            raise RpcError("offline", "nobody of that name is playing in this world now")
        line = self._line(player, text, counted=False)  # the daemon counts whispers
        if line:
            await self.world.chat_whisper(player.character_id, player.name, to, line)
