"""Messages of the character server's GM calls (the GM server calls them over the 1998 link)."""

from __future__ import annotations

import msgspec


class ItemCount(msgspec.Struct, array_like=True):
    """So many of one content item (``wolf_pelt``); a change's count may be negative (taken)."""

    item: str
    count: int


class FindCharacters(msgspec.Struct, array_like=True):
    """Undeleted characters called ``name`` (any letter case), in ``world`` or ("") any world."""

    name: str
    world: str = ""


class StoredCharacter(msgspec.Struct):
    """A character as the character store has it, with its guild and whether it is in play."""

    id: int
    account_id: int
    world: str
    name: str
    zone: str
    x: float
    y: float
    level: int
    experience: int
    health: int
    gold: int
    items: list[ItemCount]
    guild: str  # "" when in none
    guild_rank: str
    version: int
    last_saved: str  # RFC 3339: the last save (or change) of the stored state
    in_play: bool  # its account has it in play (claimed) in its world now


class ChangeItems(msgspec.Struct, array_like=True):
    """Give (positive) or take (negative) gold and items of an offline character."""

    world: str
    name: str
    gold: int = 0
    items: list[ItemCount] = msgspec.field(default_factory=list)


class ItemsResult(msgspec.Struct):
    """A character's gold and items after a change, and the version they were saved at."""

    world: str
    name: str
    gold: int
    items: list[ItemCount]
    version: int


class GMRename(msgspec.Struct, array_like=True):
    world: str
    name: str
    new_name: str


class LinkedWorlds(msgspec.Struct, array_like=True):
    """No params: the worlds whose daemon the character server is linked to."""
