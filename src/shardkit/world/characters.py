"""The world port's relayed calls: what the WorldServer adds and checks before its daemon."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shardkit.characters.calls import (
    ACCOUNT,
    ACTING_CHARACTER,
    SPAWN,
    CharacterCalls,
    GuildCalls,
)
from shardkit.characters.names import check_character_name, check_guild_name
from shardkit.wire.relay import Adds, Check, Filler, entry_relay
from shardkit.world.players import Players
from shardkit.world.session import account_of, session_of

CharacterPort = entry_relay(
    CharacterCalls, "CharacterPort", module=__name__,
    doc="Characters on the world port: players list, create, delete and rename theirs; zones"
        " load and save; each goes to the daemon with the account (and spawn point) added.",
)


def fillers(spawn: tuple[str, float, float]) -> Mapping[Adds, Filler]:
    """What the world port adds to relayed calls: the player's account, its active character,
    and (to a new character) where it starts."""
    return {
        ACCOUNT: lambda conn: (account_of(conn),),
        ACTING_CHARACTER: lambda conn: (session_of(conn).active_character(),),
        SPAWN: lambda conn: spawn,
    }


def checks(players: Players) -> list[Check[Any]]:
    """What the world port checks itself: name rules (the character server checks them again),
    and that a zone loads only for the account's latest entry here."""
    return [
        CharacterCalls.create_character.check(lambda conn, p: check_character_name(p.name)),
        CharacterCalls.rename_character.check(lambda conn, p: check_character_name(p.new_name)),
        CharacterCalls.load_character.check(lambda conn, p: players.check_entry(
            conn, p.account_id)),
        GuildCalls.guild_create.check(lambda conn, p: check_guild_name(p.guild)),
    ]
