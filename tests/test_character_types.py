"""Character and guild values shared by store and wire keep the encoding docs/protocol.md gives."""

from __future__ import annotations

import msgspec

from shardkit.characters import schemas
from shardkit.store import character_types, characters, guilds
from shardkit.store.character_types import CharacterState, GuildInfo, GuildMember

STATE_FIELDS = ("id", "account_id", "world", "name", "zone", "x", "y", "level", "experience",
                "health", "gold", "inventory", "data", "version")


def test_store_and_wire_share_one_type_per_concept() -> None:
    assert schemas.CharacterState is characters.CharacterState is character_types.CharacterState
    assert schemas.GuildInfo is guilds.GuildInfo is character_types.GuildInfo
    assert schemas.GuildMember is character_types.GuildMember


def test_character_state_travels_as_a_map_in_the_documented_order() -> None:
    state = CharacterState(7, 3, "Atlantis", "Hero", "town", 1.5, -2.0)
    wire = msgspec.msgpack.decode(msgspec.msgpack.encode(state))
    assert tuple(wire) == STATE_FIELDS
    assert wire == {"id": 7, "account_id": 3, "world": "Atlantis", "name": "Hero", "zone": "town",
                    "x": 1.5, "y": -2.0, "level": 1, "experience": 0, "health": 100, "gold": 0,
                    "inventory": [], "data": {}, "version": 1}
    # a peer may leave out what has a default, and may send fields it knows and we do not
    sent = {"id": 7, "account_id": 3, "world": "Atlantis", "name": "Hero", "zone": "town",
            "x": 1, "y": 2, "mood": "fine"}
    decoded = msgspec.msgpack.decode(msgspec.msgpack.encode(sent), type=CharacterState)
    assert (decoded.x, decoded.version, decoded.inventory) == (1.0, 1, [])


def test_guild_info_travels_as_name_motd_and_members() -> None:
    info = GuildInfo("Night Watch", "raid at nine", [GuildMember("Leader", "leader")])
    wire = msgspec.msgpack.decode(msgspec.msgpack.encode(info))
    assert wire == {"name": "Night Watch", "motd": "raid at nine",
                    "members": [{"name": "Leader", "rank": "leader"}]}
    assert list(wire) == ["name", "motd", "members"]
