"""Notifications the master sends: to players (kicks, broadcasts, their queue) and to services."""

from __future__ import annotations

from shardkit.wire.peers import Notification


class Kicked(Notification):
    """Master, world or zone -> player: the server is about to disconnect us, and says why."""

    method = "kicked"

    reason: str


class Broadcast(Notification):
    """Master -> every logged-in player: a message from the administrators."""

    method = "broadcast"

    text: str


class QueuePosition(Notification):
    """Master -> player: our place in a world's queue changed."""

    method = "queue_position"

    world: str
    position: int


class QueueReady(Notification):
    """Master -> player: our turn came; the params are a WorldEntry's fields."""

    method = "queue_ready"

    world: str
    host: str
    port: int
    ticket: bytes


class KickAccount(Notification):
    """Master -> daemon -> world servers -> zones: put this account out of play.

    ``tickets_before``: a world server only drops a connection whose world ticket expires at or
    before this master time (so a newer session of the account is left alone); 0 drops any.
    """

    method = "kick_account"

    account_id: int
    reason: str
    tickets_before: float = 0.0


class WorldAnnounced(Notification):
    """Master -> character server: a world's daemon takes characters at host:port."""

    method = "world_announced"

    world: str
    host: str
    port: int
