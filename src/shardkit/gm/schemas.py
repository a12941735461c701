"""Messages of the GM server port (1998): the audit log peers write to, game masters' commands.

A command naming a character takes its ``name`` and, when the name is used in several worlds,
its ``world`` (or the name as ``World/Name``); ``""`` means whichever world the game master
may act in has it.
"""

from __future__ import annotations

from typing import Any

import msgspec

from shardkit.characters.gm_schemas import ItemCount, StoredCharacter
from shardkit.world.gm_schemas import LiveCharacter, OnlineCharacter

GM_TICKET_KIND = "gm"
GM_TICKET_DESTINATION = "gm"
GM_TICKET_LABEL = "gm-ticket"  # GM tickets are keyed with derive_key(characters_link, this)


class AuditEvent(msgspec.Struct, array_like=True):
    actor: str
    action: str
    target: str
    detail: dict[str, object] = msgspec.field(default_factory=dict)


class RecentAudit(msgspec.Struct, array_like=True):
    limit: int = 50


class GMLogin(msgspec.Struct, array_like=True):
    ticket: bytes


class GMEntry(msgspec.Struct):
    """Where the GM port is and a single-use ticket for it (from the master's ``gm_ticket``)."""

    host: str
    port: int
    ticket: bytes


class GMWelcome(msgspec.Struct):
    account_id: int
    account_name: str
    role: str = "gm"  # "gm" or "admin"
    worlds: list[str] = msgspec.field(default_factory=list)  # a gm's worlds; []: every world


# ------------------------------------------------------------------ players


class WhoParams(msgspec.Struct, array_like=True):
    world: str = ""  # "": every world the game master may act in
    zone: str = ""
    name: str = ""  # a prefix of the character's or the account's name
    limit: int = 200


class WhoResult(msgspec.Struct):
    characters: list[OnlineCharacter]
    unreachable: list[str]  # worlds that did not answer


class NamePrefix(msgspec.Struct, array_like=True):
    prefix: str = ""
    limit: int = 50


class CharacterTarget(msgspec.Struct, array_like=True):
    name: str
    world: str = ""


class CharacterReport(msgspec.Struct):
    """A character as stored, its account, and (in play) where and how it is now."""

    stored: StoredCharacter
    account: str
    account_role: str
    online: OnlineCharacter | None = None
    live: LiveCharacter | None = None  # its zone's view, when the zone could be asked
    live_error: str = ""  # why not, when it is in play and ``live`` is missing


class KickCommand(msgspec.Struct, array_like=True):
    name: str  # a character in play, or an account logged in to a world
    reason: str = ""
    world: str = ""


class KickReport(msgspec.Struct):
    world: str
    account: str
    character: str
    had_session: bool
    worlds: int


class BanCommand(msgspec.Struct, array_like=True):
    account: str = ""  # an account name, or
    address: str = ""  # an IP address or CIDR range
    duration_s: float | None = None  # None: for good
    reason: str = ""


class UnbanCommand(msgspec.Struct, array_like=True):
    account: str = ""
    address: str = ""


class BroadcastCommand(msgspec.Struct, array_like=True):
    text: str
    world: str = ""  # "": every world


class BroadcastReport(msgspec.Struct):
    worlds: list[str]
    players: int
    unreachable: list[str]


# ---------------------------------------------------------------- characters


class GrantCommand(msgspec.Struct, array_like=True):
    """Gold and items to give (``grant``) or take (``take``): amounts are positive."""

    name: str
    gold: int = 0
    items: list[ItemCount] = msgspec.field(default_factory=list)
    world: str = ""


class RenameCommand(msgspec.Struct, array_like=True):
    name: str
    new_name: str
    world: str = ""


class TeleportCommand(msgspec.Struct, array_like=True):
    name: str
    zone: str
    x: float
    y: float
    world: str = ""


class TeleportToCommand(msgspec.Struct, array_like=True):
    name: str
    to: str
    world: str = ""


class MuteCommand(msgspec.Struct, array_like=True):
    name: str
    duration_s: float
    reason: str = ""
    world: str = ""


# ------------------------------------------------------------------- admins


class RoleCommand(msgspec.Struct, array_like=True):
    account: str
    role: str  # "gm" or "player"


class WorldsCommand(msgspec.Struct, array_like=True):
    account: str
    worlds: list[str]  # []: every world


class GameMasterInfo(msgspec.Struct):
    account_id: int
    name: str
    role: str
    worlds: list[str]


# -------------------------------------------------------------------- audit


class AuditQuery(msgspec.Struct, array_like=True):
    """Audit entries, newest first; each filter given narrows them (times in RFC 3339)."""

    actor: str = ""
    target: str = ""
    action: str = ""
    since: str = ""
    until: str = ""
    before_id: int = 0  # the next page: entries older than this id
    limit: int = 100


class AuditRow(msgspec.Struct):
    id: int
    at: str  # RFC 3339
    actor: str
    address: str | None
    action: str
    target: str | None
    result: str  # "ok", "refused" or "failed"
    detail: dict[str, Any]


class AuditPage(msgspec.Struct):
    entries: list[AuditRow]
    next_before: int  # pass as ``before_id`` for the next page; 0: this was the last
