"""Character and guild values that the store returns and the character server sends as they are.

One type per concept: the character server's messages (``shardkit.characters.schemas``)
re-export these, so a state loaded from the database goes on the wire without a copy. Their
encoding is the wire format of ``docs/protocol.md``: maps with these field names, in this order.
Changing a field here changes the protocol.
"""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = ["CharacterState", "GuildInfo", "GuildMember"]


class CharacterState(msgspec.Struct):
    """A character as it travels between zones, worlds and the store.

    ``version`` is the stored version this state is based on: a save of it is refused as stale
    once the stored character has moved on.
    """

    id: int
    account_id: int
    world: str
    name: str
    zone: str
    x: float
    y: float
    level: int = 1
    experience: int = 0
    health: int = 100
    gold: int = 0
    inventory: list[Any] = msgspec.field(default_factory=list)
    data: dict[str, Any] = msgspec.field(default_factory=dict)
    version: int = 1


class GuildMember(msgspec.Struct):
    """One member of a guild as the guild's members see it."""

    name: str
    rank: str  # "leader", "officer" or "member"


class GuildInfo(msgspec.Struct):
    """A guild as its members see it: name, message of the day, roster (leader first)."""

    name: str
    motd: str
    members: list[GuildMember]
