"""What servers tell a player's client: notifications, kept in a ClientState to read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import msgspec

from shardkit.master.notifications import Broadcast, Kicked, QueuePosition, QueueReady
from shardkit.master.schemas import WorldEntry
from shardkit.wire.rpc import RpcConnection, rpc
from shardkit.world.notifications import GuildChat, ZoneLost
from shardkit.zone.notifications import Chat, Left, Saved, Snapshot


class ErrorMsg(msgspec.Struct, array_like=True):
    """The wire's ``error`` notification: a server could not take something we sent."""

    error: dict[str, str]


@dataclass
class Seen:
    """Another entity as the last snapshot showed it."""

    name: str
    x: float
    y: float
    tick: int


@dataclass
class ClientState:
    """Everything the servers told this client, for a UI or a test to read."""

    tick: int = 0
    seen: dict[int, Seen] = field(default_factory=dict)
    chat: list[tuple[str, str]] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    kicked: str | None = None
    zone_lost: str | None = None
    snapshots: int = 0
    saved: Saved | None = None  # the last state the character server acknowledged
    guild_chat: list[tuple[str, str, str]] = field(default_factory=list)  # (guild, speaker, text)
    queue_position: int | None = None  # our place in a full world's login queue (1 = next)
    queue_ready: WorldEntry | None = None  # the ticket the queue gave us


class Listener(Protocol):
    """Who ServerEvents reports to (a GameClient): its state, woken on every change.

    ``leaving_zone`` is the zone connection it is leaving for another one: that zone's
    ``kicked`` (it puts us out of play there) is expected, not news.
    """

    state: ClientState
    leaving_zone: RpcConnection | None

    def changed(self) -> None: ...


class ServerEvents:
    """Notifications servers send a player; each updates the listener's state and wakes it."""

    def __init__(self, client: Listener) -> None:
        self.client = client

    @property
    def state(self) -> ClientState:
        return self.client.state

    def changed(self) -> None:
        self.client.changed()

    @rpc("snapshot", Snapshot, public=True)
    def snapshot(self, conn: RpcConnection, p: Snapshot) -> None:
        """What the player can see this tick: [[entity_id, name, x, y], ...]."""
        state = self.state
        state.tick = p.tick
        state.snapshots += 1
        state.seen = {eid: Seen(name, x, y, p.tick) for eid, name, x, y in p.rows}
        self.changed()

    @rpc("chat", Chat, public=True)
    def chat(self, conn: RpcConnection, p: Chat) -> None:
        """Someone in the zone said something."""
        self.state.chat.append((p.speaker, p.text))
        self.changed()

    @rpc("left", Left, public=True)
    def left(self, conn: RpcConnection, p: Left) -> None:
        """An entity left the zone."""
        self.state.seen.pop(p.entity_id, None)
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
        self.changed()
