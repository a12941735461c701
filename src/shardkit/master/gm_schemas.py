"""Messages of the master's GM calls, relayed GM server -> character server -> master (gm/calls.py).

Params as the master takes them from the character server's link. ``by`` names the game
master who acts (``gm:<account>``): the master writes it on the bans it adds and lifts.
"""

from __future__ import annotations

import msgspec


class AccountQuery(msgspec.Struct, array_like=True):
    """One account by id, or (``account_id`` 0) by name in any letter case."""

    account_id: int = 0
    name: str = ""


class AccountIds(msgspec.Struct, array_like=True):
    account_ids: list[int]


class GameMastersQuery(msgspec.Struct, array_like=True):
    limit: int = 500


class GMAccount(msgspec.Struct):
    """An account's role, and the worlds a gm is limited to (empty: every world)."""

    account_id: int
    name: str
    role: str  # "player", "gm" or "admin"
    worlds: list[str] = msgspec.field(default_factory=list)


class KickParams(msgspec.Struct, array_like=True):
    account_id: int
    reason: str


class KickDone(msgspec.Struct):
    had_session: bool  # the account was logged in to the master
    worlds: int  # how many worlds' daemons were told to drop it


class BanParams(msgspec.Struct, array_like=True):
    """A ban of an account (``account_id``) or of an address or CIDR range (``address``)."""

    account_id: int = 0
    address: str = ""
    duration_s: float | None = None  # None: for good
    reason: str = ""
    by: str = ""


class BanInfo(msgspec.Struct):
    id: int
    target: str  # the account's name, or the network
    reason: str
    expires_at: str | None  # RFC 3339; None: permanent


class UnbanParams(msgspec.Struct, array_like=True):
    account_id: int = 0
    address: str = ""
    by: str = ""


class Lifted(msgspec.Struct):
    lifted: int  # bans lifted


class BansQuery(msgspec.Struct, array_like=True):
    limit: int = 200


class SetRole(msgspec.Struct, array_like=True):
    account_id: int
    role: str  # "gm" or "player": admins are made on the manhole, never over the GM port
    by: str = ""


class SetWorlds(msgspec.Struct, array_like=True):
    account_id: int
    worlds: list[str]  # empty: every world
    by: str = ""
