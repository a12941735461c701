"""Messages of the character server, as its daemons call it over their 7001 link."""

from __future__ import annotations

import msgspec

# The store returns these and they travel as they are: one type for store and wire.
from shardkit.store.character_types import CharacterState as CharacterState
from shardkit.store.character_types import GuildInfo as GuildInfo
from shardkit.store.character_types import GuildMember as GuildMember


class CharacterSummary(msgspec.Struct):
    id: int
    name: str
    zone: str
    level: int


class ListCharacters(msgspec.Struct, array_like=True):
    world: str
    account_id: int


class CreateCharacter(msgspec.Struct, array_like=True):
    world: str
    account_id: int
    name: str
    zone: str
    x: float
    y: float


class CharacterRef(msgspec.Struct, array_like=True):
    world: str
    account_id: int
    name: str


class SaveCharacter(msgspec.Struct, array_like=True):
    state: CharacterState
    final: bool = False  # the character leaves play: release the account's claim


class SaveResult(msgspec.Struct):
    id: int
    ok: bool
    version: int
    reason: str | None = None


class RenameCharacter(msgspec.Struct, array_like=True):
    world: str
    account_id: int
    name: str
    new_name: str


# ------------------------------------------------------------------- guilds
# A daemon acts for one character of its world, by id (the player's active character).


class GuildAct(msgspec.Struct, array_like=True):
    world: str
    character_id: int


class GuildNamed(msgspec.Struct, array_like=True):
    world: str
    character_id: int
    guild: str


class GuildTarget(msgspec.Struct, array_like=True):
    world: str
    character_id: int
    character: str


class GuildText(msgspec.Struct, array_like=True):
    world: str
    character_id: int
    text: str


class GuildChatTargets(msgspec.Struct):
    """Who hears a guild message: the daemon passes it to every WorldServer of the world."""

    guild: str
    speaker: str
    text: str
    member_ids: list[int]


# ---------------------------------------------------------------------- GMs
# The GM server calls these over the character server's link to the GM port (1998).


class RestoreCharacter(msgspec.Struct, array_like=True):
    world: str
    name: str


class DeletedCharacters(msgspec.Struct, array_like=True):
    world: str
    limit: int = 50


class DeletedCharacterInfo(msgspec.Struct):
    id: int
    account_id: int
    name: str
    zone: str
    level: int
    deleted_at: str  # RFC 3339
    restorable_until: str  # RFC 3339; a GM may restore it until then


class RestoredCharacter(msgspec.Struct):
    id: int
    account_id: int
    world: str
    name: str
    zone: str
    level: int
