"""Messages of a WorldServer's port (2006 + cluster): players' ticket login and characters, and its zones."""

from __future__ import annotations

import msgspec


class TicketLogin(msgspec.Struct, array_like=True):
    ticket: bytes


class CharacterName(msgspec.Struct, array_like=True):
    name: str


class Welcome(msgspec.Struct):
    world: str
    cluster: int
    account_id: int
    account_name: str


class ZoneEntry(msgspec.Struct):
    zone: str
    host: str
    port: int
    ticket: bytes


class ZoneReady(msgspec.Struct, array_like=True):
    zone: str
    port: int


class ZonePopulation(msgspec.Struct, array_like=True):
    zone: str
    players: int


class ZoneLoad(msgspec.Struct, array_like=True):
    account_id: int
    name: str


class Rename(msgspec.Struct, array_like=True):
    name: str
    new_name: str


# Guilds: a player acts as the character it entered the game with.
class GuildName(msgspec.Struct, array_like=True):
    guild: str


class GuildMemberName(msgspec.Struct, array_like=True):
    character: str


class GuildMessage(msgspec.Struct, array_like=True):
    text: str


class GuildChatDelivery(msgspec.Struct, array_like=True):
    """Daemon -> WorldServer: a guild message for those of ``member_ids`` playing here."""

    guild: str
    speaker: str
    text: str
    member_ids: list[int]
