"""The GM server's relayed calls, declared once: GM server -> character server -> master or world.

The GM server links to nothing itself: the character server, which dials the GM port, the
master and every world's daemon, carries its calls. Each call is named, typed and documented
here and nowhere else; the GM server sends it (``Relayed.send``) after its own checks (role,
world, rate) and the hops are built from these tables:

- ``GMMasterCalls``: GM server -> character server (forwards as is) -> master, which answers
  them: accounts' roles and GM worlds, kicks, bans;
- ``GMWorldCalls``: GM server -> character server (to the daemon of the params' ``world``)
  -> daemon (to the WorldServer of their ``cluster``; ``gm_who`` and ``gm_broadcast`` it asks
  of every WorldServer itself) -> the WorldServer, which answers, or passes to the zone that
  holds the character.
"""

from __future__ import annotations

from shardkit.characters.gm_schemas import ItemsResult
from shardkit.master.gm_schemas import (
    AccountIds,
    AccountQuery,
    BanInfo,
    BanParams,
    BansQuery,
    GameMastersQuery,
    GMAccount,
    KickDone,
    KickParams,
    Lifted,
    SetRole,
    SetWorlds,
    UnbanParams,
)
from shardkit.wire.peers import Ok
from shardkit.wire.relay import Relayed, RelayTable
from shardkit.world.gm_schemas import (
    CharacterAt,
    LiveCharacter,
    LiveItemChange,
    MuteParams,
    OnlineCharacter,
    Reached,
    TeleportParams,
    WhoQuery,
    WorldNotice,
)

CHARACTERS = ("characters",)
DAEMON = ("daemon",)


class GMMasterCalls(RelayTable):
    """Accounts, kicks and bans: the master answers, for the character server's link."""

    served_to = CHARACTERS

    gm_account = Relayed(
        AccountQuery, GMAccount, "An account's role and the worlds a gm is limited to.")
    gm_accounts = Relayed(
        AccountIds, list[GMAccount], "Several accounts' roles (those that exist).")
    gm_game_masters = Relayed(
        GameMastersQuery, list[GMAccount], "Every gm and admin account, by name.")
    gm_kick = Relayed(
        KickParams, KickDone,
        "Close the account's master session and have every world drop it (saving its character).")
    gm_ban = Relayed(
        BanParams, BanInfo,
        "Ban an account or an address range for a while or for good; a banned account is kicked.")
    gm_unban = Relayed(
        UnbanParams, Lifted, "Lift the bans in force on an account or an exact address range.")
    gm_bans = Relayed(BansQuery, list[BanInfo], "The bans in force.")
    gm_set_role = Relayed(
        SetRole, GMAccount, "Make an account a gm, or a player again (never an admin's).")
    gm_set_worlds = Relayed(
        SetWorlds, GMAccount, "Limit a gm to some worlds (none: every world).")


class GMWorldCalls(RelayTable):
    """Players in play: the WorldServer that holds them answers (or its zone, through it)."""

    served_to = DAEMON

    gm_who = Relayed(
        WhoQuery, list[OnlineCharacter],
        "Who is logged in to the world's WorldServers, and the characters they play.")
    gm_broadcast = Relayed(
        WorldNotice, Reached, "A notice to every player of the world (or of one WorldServer).")
    gm_inspect_live = Relayed(
        CharacterAt, LiveCharacter, "A character's state in its zone now.")
    gm_teleport = Relayed(
        TeleportParams, Ok, "Move a character in play to a point of a zone.")
    gm_mute = Relayed(
        MuteParams, Ok, "Drop a character's chat until a time (the zone tells it why).")
    gm_unmute = Relayed(CharacterAt, Ok, "Let a muted character chat again.")
    gm_grant_live = Relayed(
        LiveItemChange, ItemsResult,
        "Give or take gold and items of a character in play (never below zero).")
