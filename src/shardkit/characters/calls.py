"""The character server's relayed calls, declared once: WorldServer -> daemon -> character server.

Each call is named, typed and documented here and nowhere else. The WorldServer's port serves
them to players (and, for loads and saves, to its zones) with the fields it ``Adds`` itself
filled in from the connection; the daemon forwards them as they came; the character server
serves them for the daemon's world, which it takes from the authenticated link. A client
calls them on the world port through the same table (``client/guilds.py``).
"""

from __future__ import annotations

from shardkit.characters.schemas import (
    AccountRef,
    CharacterRef,
    CharacterState,
    CharacterSummary,
    CreateCharacter,
    GuildAct,
    GuildInfo,
    GuildNamed,
    GuildTarget,
    GuildText,
    RenameCharacter,
    SaveCharacter,
    SaveResult,
)
from shardkit.wire.peers import Ok
from shardkit.wire.relay import Adds, Relayed, RelayTable

ACCOUNT = Adds(("account_id",), "the player's account")
ACTING_CHARACTER = Adds(("character_id",), "the character the player entered the game with")
SPAWN = Adds(("zone", "x", "y"), "where a new character starts: the world's first zone")

DAEMON = ("daemon",)
ZONE = ("zone",)


class CharacterCalls(RelayTable):
    """Characters: players (and zones, to load and save) on the world port, through the daemon."""

    served_to = DAEMON

    list_characters = Relayed(
        AccountRef, list[CharacterSummary], "The account's characters in this world.",
        adds=ACCOUNT, entry_name="characters")
    create_character = Relayed(
        CreateCharacter, CharacterSummary,
        "Create a character; the name is unique per world and must pass the name rules.",
        adds=(ACCOUNT, SPAWN))
    delete_character = Relayed(
        CharacterRef, Ok, "Delete one of the account's characters (a GM can restore it).",
        adds=ACCOUNT)
    rename_character = Relayed(
        RenameCharacter, CharacterSummary,
        "Rename one of the account's characters; not while it is in play.", adds=ACCOUNT)
    load_character = Relayed(
        CharacterRef, CharacterState,
        "Load a character to put it in play; one live character per account across all worlds.",
        roles=ZONE)
    save_character = Relayed(
        SaveCharacter, SaveResult,
        "Save a character state based on its version; answered after the commit, stale saves"
        " refused.", roles=ZONE)


class GuildCalls(RelayTable):
    """Guilds, per world: a player acts as its active character, on any WorldServer of the world."""

    served_to = DAEMON

    guild_create = Relayed(
        GuildNamed, GuildInfo, "Found a guild and lead it; guild names follow the name rules.",
        adds=ACTING_CHARACTER)
    guild_invite = Relayed(
        GuildTarget, Ok, "Invite a character of this world into your guild (officers, leader).",
        adds=ACTING_CHARACTER)
    guild_accept = Relayed(
        GuildNamed, GuildInfo, "Join a guild that invited you.", adds=ACTING_CHARACTER)
    guild_decline = Relayed(
        GuildNamed, Ok, "Turn down a guild's invitation.", adds=ACTING_CHARACTER)
    guild_invites = Relayed(
        GuildAct, list[str], "The guilds that invited you.", adds=ACTING_CHARACTER)
    guild_remove = Relayed(
        GuildTarget, Ok, "Remove a member (officers remove members; the leader anyone).",
        adds=ACTING_CHARACTER)
    guild_promote = Relayed(
        GuildTarget, Ok, "Make a member an officer (the leader only).", adds=ACTING_CHARACTER)
    guild_demote = Relayed(
        GuildTarget, Ok, "Make an officer a member again (the leader only).",
        adds=ACTING_CHARACTER)
    guild_set_leader = Relayed(
        GuildTarget, Ok, "Hand your guild to another member; you become an officer.",
        adds=ACTING_CHARACTER)
    guild_set_motd = Relayed(
        GuildText, Ok, "Set the guild's message of the day (officers and the leader).",
        adds=ACTING_CHARACTER)
    guild_roster = Relayed(
        GuildAct, GuildInfo, "Your guild: name, message of the day, members with their ranks.",
        adds=ACTING_CHARACTER)
    guild_leave = Relayed(
        GuildAct, Ok, "Leave your guild (a leader only as its last member, which disbands it).",
        adds=ACTING_CHARACTER)
    guild_disband = Relayed(
        GuildAct, Ok, "Dissolve your guild (the leader only).", adds=ACTING_CHARACTER)
    # guild_say ends at the daemon, which asks the character server who hears it
    # (``guild_chat_targets``) and sends ``guild_chat`` to every WorldServer of the world.
    guild_say = Relayed(
        GuildText, type(None),
        "Say something every member of your guild hears, on any WorldServer of the world.",
        adds=ACTING_CHARACTER)
