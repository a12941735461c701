"""Messages of the daemon's ports: WorldServers on 7000, imps on 7005, and the calls it makes to them."""

from __future__ import annotations

import msgspec


class RegisterCluster(msgspec.Struct, array_like=True):
    number: int
    host: str
    port: int
    content_version: str = ""  # must equal the character server's


class Population(msgspec.Struct, array_like=True):
    number: int
    players: int


class AccountCharacters(msgspec.Struct, array_like=True):
    account_id: int


class NewCharacter(msgspec.Struct, array_like=True):
    account_id: int
    name: str
    zone: str
    x: float
    y: float


class AccountCharacter(msgspec.Struct, array_like=True):
    account_id: int
    name: str


class StartWorld(msgspec.Struct, array_like=True):
    """Daemon -> imp: start the WorldServer of this cluster, dialing back to this daemon."""

    world: str
    cluster: int
    daemon_host: str
    daemon_port: int


class StopWorld(msgspec.Struct, array_like=True):
    world: str
    cluster: int


class CharacterRename(msgspec.Struct, array_like=True):
    account_id: int
    name: str
    new_name: str


# Guild methods: a WorldServer acts for its player's active character, by id.
class CharacterAct(msgspec.Struct, array_like=True):
    character_id: int


class CharacterGuild(msgspec.Struct, array_like=True):
    character_id: int
    guild: str


class CharacterTarget(msgspec.Struct, array_like=True):
    character_id: int
    character: str


class CharacterText(msgspec.Struct, array_like=True):
    character_id: int
    text: str
