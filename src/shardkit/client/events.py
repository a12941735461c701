"""What servers tell a player's client: notifications, kept in a ClientState to read."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

import msgspec

from shardkit.master.notifications import Broadcast, Kicked, QueuePosition, QueueReady
from shardkit.master.schemas import WorldEntry
from shardkit.wire.rpc import RpcConnection, rpc
from shardkit.world.notifications import GoingDown, GuildChat, ZoneLost
from shardkit.zone.notifications import Chat, Muted, Portal, Saved, Transfer

COMBAT_LINES = 500  # combat lines a ClientState keeps (the newest)


class ErrorMsg(msgspec.Struct, array_like=True):
    """The wire's ``error`` notification: a server could not take something we sent."""

    error: dict[str, str]


@dataclass(frozen=True, slots=True)
class Seen:
    """An entity in our view (our own included), as the zone's ``sync`` messages showed it.

    Immutable: each change makes a new one, so a Seen kept aside stays what it was.
    """

    name: str
    x: float
    y: float
    tick: int  # of the last change we were told
    kind: int = 1  # 1 player, 2 NPC
    hp: int = 0
    max_hp: int = 0
    level: int = 1
    flags: int = 0  # bit 0: dead

    @property
    def dead(self) -> bool:
        return bool(self.flags & 1)


class Heard(NamedTuple):
    """One chat line: ``say``, ``zone``, ``world`` or ``whisper``."""

    channel: str
    speaker: str
    text: str


class CombatLine(NamedTuple):
    """Something that happened in our view: ``hit`` (source hit target for value damage),
    ``death`` (target died, killed by source, 0: nobody), ``level_up`` (target reached value)."""

    tick: int
    kind: str
    source: int
    target: int
    value: int


@dataclass
class Progress:
    """Our character's level, experience, gold and items, as the zone last told us."""

    level: int = 1
    xp: int = 0
    gold: int = 0
    items: dict[str, int] = field(default_factory=dict)


@dataclass
class ClientState:
    """Everything the servers told this client, for a UI or a test to read."""

    tick: int = 0
    seen: dict[int, Seen] = field(default_factory=dict)
    chat: list[tuple[str, str]] = field(default_factory=list)  # (speaker, text), any channel
    heard: list[Heard] = field(default_factory=list)  # the same lines, with their channel
    notices: list[str] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (code, message) of `error`
    kicked: str | None = None
    zone_lost: str | None = None
    snapshots: int = 0  # sync messages received: one per zone tick
    combat: deque[CombatLine] = field(default_factory=lambda: deque(maxlen=COMBAT_LINES))
    combat_total: int = 0  # combat lines ever received (the deque keeps the newest)
    progress: Progress = field(default_factory=Progress)
    corrections: int = 0  # position claims the zone refused
    corrected: tuple[float, float] | None = None  # where the last refusal said we are
    refused: list[tuple[int, str]] = field(default_factory=list)  # attacks: (target, reason)
    respawns: int = 0
    portal: Portal | None = None  # the last portal we stepped into
    transfer: Transfer | None = None  # the last portal that took us to another WorldServer
    transfers: int = 0  # crossings to another WorldServer we followed to their zone
    muted: Muted | None = None  # our chat is dropped until muted.until (0: not muted)
    saved: Saved | None = None  # the last state the character server acknowledged
    guild_chat: list[tuple[str, str, str]] = field(default_factory=list)  # (guild, speaker, text)
    queue_position: int | None = None  # our place in a full world's login queue (1 = next)
    queue_ready: WorldEntry | None = None  # the ticket the queue gave us
    going_down: GoingDown | None = None  # our WorldServer's last word on a planned stop
    world_lost: str | None = None  # why we lost our WorldServer, while getting back in
    rejoined: int = 0  # times the client got back into the world and the game by itself
    rejoin_failed: str | None = None  # why it gave up getting back (choose a character again)


class Listener(Protocol):
    """Who ServerEvents reports to (a GameClient): its state, woken on every change.

    ``leaving_zone`` is the zone connection it is leaving for another one: that zone's
    ``kicked`` (it puts us out of play there) is expected, not news.
    """

    state: ClientState
    leaving_zone: RpcConnection | None

    def changed(self) -> None: ...

    def follow_portal(self, portal: Portal) -> None: ...

    def follow_transfer(self, transfer: Transfer) -> None: ...


class ServerEvents:
    """Notifications servers send a player; each updates the listener's state and wakes it."""

    def __init__(self, client: Listener) -> None:
        self.client = client

    @property
    def state(self) -> ClientState:
        return self.client.state

    def changed(self) -> None:
        self.client.changed()

    @rpc("chat", Chat, public=True)
    def chat(self, conn: RpcConnection, p: Chat) -> None:
        """Someone said something on a channel we hear (`say`, `zone`, `world`, `whisper`)."""
        self.state.chat.append((p.speaker, p.text))
        self.state.heard.append(Heard(p.channel, p.speaker, p.text))
        self.changed()

    @rpc("kicked", Kicked, public=True)
    def kicked(self, conn: RpcConnection, p: Kicked) -> None:
        """The server is about to disconnect us, and says why."""
        if conn is self.client.leaving_zone:
            return  # the zone we are leaving for another one puts us out of play there: expected
        self.state.kicked = p.reason
        self.changed()

    @rpc("broadcast", Broadcast, public=True)
    def broadcast(self, conn: RpcConnection, p: Broadcast) -> None:
        """A message from the administrators to everyone."""
        self.state.notices.append(p.text)
        self.changed()

    @rpc("zone_lost", ZoneLost, public=True)
    def zone_lost(self, conn: RpcConnection, p: ZoneLost) -> None:
        """Our zone process went down; enter the game again once it is back."""
        self.state.zone_lost = p.zone
        self.changed()

    @rpc("going_down", GoingDown, public=True)
    def going_down(self, conn: RpcConnection, p: GoingDown) -> None:
        """Our WorldServer stops in ``in_s`` s (a reboot, shutdown or stop), and says when
        to expect it back; the client gets back in by itself (client/follow.py)."""
        self.state.going_down = p
        self.state.notices.append(p.text)
        self.changed()

    @rpc("saved", Saved, public=True)
    def saved(self, conn: RpcConnection, p: Saved) -> None:
        """The character server committed our character at this version and place."""
        self.state.saved = p
        self.changed()

    @rpc("guild_chat", GuildChat, public=True)
    def guild_chat(self, conn: RpcConnection, p: GuildChat) -> None:
        """A member of our guild said something (on any WorldServer of the world)."""
        self.state.guild_chat.append((p.guild, p.speaker, p.text))
        self.changed()

    @rpc("queue_position", QueuePosition, public=True)
    def queue_position(self, conn: RpcConnection, p: QueuePosition) -> None:
        """Our place in a full world's login queue changed (1 = next in line)."""
        self.state.queue_position = p.position
        self.changed()

    @rpc("queue_ready", QueueReady, public=True)
    def queue_ready(self, conn: RpcConnection, p: QueueReady) -> None:
        """Our turn in the queue came: the world's address and our ticket."""
        self.state.queue_ready = WorldEntry(p.world, p.host, p.port, p.ticket)
        self.state.queue_position = None
        self.changed()

    @rpc("error", ErrorMsg, public=True)
    def error(self, conn: RpcConnection, p: ErrorMsg) -> None:
        """A server-side error about something we sent as a notification."""
        self.state.notices.append(f"error: {p.error.get('message', p.error)}")
        self.state.errors.append((str(p.error.get("code", "")), str(p.error.get("message", ""))))
        self.changed()
