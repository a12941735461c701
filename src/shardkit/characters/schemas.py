"""Messages of the character server, as its daemons call it over their 7001 link."""

from __future__ import annotations

import msgspec


class CharacterState(msgspec.Struct):
    """A character as it travels between zones, worlds and the store; ``version`` is what it was based on."""

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
    inventory: list[object] = msgspec.field(default_factory=list)
    data: dict[str, object] = msgspec.field(default_factory=dict)
    version: int = 1


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
