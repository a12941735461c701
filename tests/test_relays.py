"""Relayed calls in one process: a player on a WorldServer port -> daemon -> character server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from chain_support import SPAWN, Chain, Player, WorldSide, chain

from shardkit.characters.calls import CharacterCalls, GuildCalls
from shardkit.characters.schemas import CharacterSummary, CreateCharacter, GuildInfo
from shardkit.client.guilds import GuildCalls as ClientGuildCalls
from shardkit.daemon.characters import CharacterForwarding
from shardkit.daemon.guilds import GuildChat, GuildForwarding
from shardkit.testing.loopback import loopback
from shardkit.wire.peers import Peer
from shardkit.wire.relay import calls_of
from shardkit.wire.rpc import Identity, Router, RpcConnection, RpcError, methods_of
from shardkit.world.api import WorldPlayerApi, WorldZoneApi
from shardkit.world.characters import CharacterPort, checks, fillers
from shardkit.world.guilds import GuildPort
from shardkit.world.players import Players


async def code_of(action: object) -> str:
    with pytest.raises(RpcError) as caught:
        await action  # type: ignore[misc]
    return caught.value.code


class Client(ClientGuildCalls):
    """The client library's table-made calls on a player's world connection."""

    characters = CharacterCalls.list_characters
    create_character = CharacterCalls.create_character
    delete_character = CharacterCalls.delete_character
    rename_character = CharacterCalls.rename_character

    def __init__(self, player: Player) -> None:
        self.player = player

    def _in_world(self) -> RpcConnection:
        return self.player.conn


@pytest.fixture
async def middle(tmp_path: Path) -> AsyncIterator[Chain]:
    async with chain(tmp_path, chat_burst=3) as running:
        yield running


async def in_game(world: WorldSide, account: int, name: str) -> tuple[Client, RpcConnection]:
    """A player on ``world`` with a character ``name`` in play in town (the zone has loaded it)."""
    client = Client(await world.player(account, f"acct{account}"))
    await client.create_character(name)
    await WorldPlayerApi(client.player.conn).enter_game(name)
    town = world.zone_sides["town"]
    await WorldZoneApi(town.link).load_character(account, name)
    return client, town.link


def test_every_hop_serves_exactly_the_tables_calls() -> None:
    def names(*classes: type) -> set[str]:
        return {spec.name for cls in classes for spec in methods_of(cls)}

    table = {c.name for c in calls_of(CharacterCalls)} | {c.name for c in calls_of(GuildCalls)}
    world = ({c.entry_name for c in calls_of(CharacterCalls)}
             | {c.name for c in calls_of(GuildCalls)})
    assert names(CharacterPort, GuildPort) == world
    assert names(CharacterForwarding, GuildForwarding, GuildChat) == table
    entry = {s.name: s for s in methods_of(GuildPort)}
    assert entry["guild_create"].params is not None
    assert entry["guild_create"].params.__struct_fields__ == ("guild",)
    assert entry["guild_roster"].params is None and entry["guild_create"].roles == {"player"}
    middle = {s.name: s for s in methods_of(CharacterForwarding)}
    assert middle["create_character"].params is CreateCharacter
    assert middle["create_character"].roles == {"world"}
    assert {s.name: s.roles for s in methods_of(CharacterPort)}["load_character"] == {"zone"}


async def test_character_calls_reach_the_store_with_what_the_world_adds(middle: Chain) -> None:
    world = await middle.world_server(0)
    client = Client(await world.player(11, "ann"))
    created = await client.create_character("Annabel")
    assert isinstance(created, CharacterSummary) and created.zone == "town"
    stored = await middle.side.characters.load(11, "Atlantis", "Annabel")
    assert stored is not None and (stored.zone, stored.x, stored.y) == ("town", 10.0, 10.0)
    assert [c.name for c in await client.characters()] == ["Annabel"]
    assert (await client.rename_character("Annabel", "Annette")).name == "Annette"
    assert (await client.delete_character("Annette")).ok
    assert await client.characters() == []


class Upstream:
    """A next hop that records what reaches it and answers with a fixed summary."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    async def call(self, method: str, *params: Any) -> Any:
        self.calls.append((method, params))
        if method == "list_characters":
            return []
        return {"id": 1, "name": "Bob", "zone": "town", "level": 1}

    async def call_as(self, result_type: type[Any], method: str, *params: Any) -> Any:
        raise AssertionError("a relay passes answers on as they came")

    def notify(self, method: str, *params: Any) -> None:
        raise AssertionError("a relay calls")


async def test_the_world_adds_its_own_fields_and_refuses_bad_names_itself() -> None:
    upstream = Upstream()
    port = CharacterPort(upstream, fill=fillers(SPAWN), checks=checks(Players()))
    async with loopback(Router.for_services(port), identity=Identity("player", "bob", 12)) as pair:
        client = Client(Player(pair.client, None))  # type: ignore[arg-type]
        assert await code_of(client.create_character("Bo\nb")) == "bad_name"
        assert await code_of(client.rename_character("Bob", "Admin")) == "bad_name"
        assert upstream.calls == []  # refused on the world port: nothing went on
        assert (await client.create_character("Bob")).name == "Bob"
        await client.rename_character("Bob", "Robert")
        await client.characters()
    assert upstream.calls == [("create_character", (12, "Bob", "town", 10.0, 10.0)),
                              ("rename_character", (12, "Bob", "Robert")),
                              ("list_characters", (12,))]


def test_a_relay_needs_a_filler_for_what_its_calls_add() -> None:
    with pytest.raises(TypeError, match="needs a filler"):
        GuildPort(Upstream(), fill={})


async def test_the_daemon_forwards_a_world_servers_params_as_they_came(middle: Chain) -> None:
    world = await middle.world_server(0)
    daemon: Peer = world.daemon_conn
    made = await CharacterCalls.create_character.send(
        daemon, CreateCharacter(21, "Carla", "meadow", 3.0, 4.0))
    assert made.zone == "meadow"
    stored = await middle.side.characters.load(21, "Atlantis", "Carla")
    assert stored is not None and (stored.x, stored.y) == (3.0, 4.0)


async def test_guild_calls_act_as_the_active_character(middle: Chain) -> None:
    world = await middle.world_server(0)
    await world.zone_up("town")
    await world.zone_up("meadow")
    lonely = Client(await world.player(30, "lonely"))
    assert await code_of(lonely.guild_roster()) == "not_in_game"
    dana, _ = await in_game(world, 31, "Dana")
    eli, _ = await in_game(world, 32, "Eli")
    info = await dana.guild_create("Lantern Bearers")
    assert isinstance(info, GuildInfo) and info.members[0].name == "Dana"
    await dana.guild_invite("Eli")
    assert await eli.guild_invites() == ["Lantern Bearers"]
    joined = await eli.guild_accept("Lantern Bearers")
    assert [m.name for m in joined.members] == ["Dana", "Eli"]
    assert await code_of(eli.guild_disband()) == "not_allowed"


async def test_guild_chat_reaches_members_on_every_world_server_and_is_rate_limited(
    middle: Chain,
) -> None:
    first, second = await middle.world_server(0), await middle.world_server(1)
    for world in (first, second):
        await world.zone_up("town")
    fern, _ = await in_game(first, 41, "Fern")
    gus, _ = await in_game(second, 42, "Gus")
    outsider, _ = await in_game(second, 43, "Hugo")
    await fern.guild_create("Night Owls")
    await fern.guild_invite("Gus")
    await gus.guild_accept("Night Owls")
    await fern.guild_say("hoot\x1b[31m")
    heard = gus.player.listener.state.guild_chat
    for _ in range(100):  # bounded: the notification crosses two loopback hops
        if heard:
            break
        await asyncio.sleep(0.01)
    assert heard == [("Night Owls", "Fern", "hoot")]
    assert fern.player.listener.state.guild_chat == [("Night Owls", "Fern", "hoot")]
    assert outsider.player.listener.state.guild_chat == []
    await fern.guild_say("two")
    await fern.guild_say("three")
    assert await code_of(fern.guild_say("four")) == "rate_limited"  # chat_burst is 3


async def test_a_zone_loads_only_for_the_accounts_latest_entry(middle: Chain) -> None:
    world = await middle.world_server(0)
    town, meadow = await world.zone_up("town"), await world.zone_up("meadow")
    client = Client(await world.player(51, "ivy"))
    await client.create_character("Ivy")
    await WorldPlayerApi(client.player.conn).enter_game("Ivy")
    assert await code_of(WorldZoneApi(meadow.link).load_character(51, "Ivy")) == \
        "already_playing"
    state = await WorldZoneApi(town.link).load_character(51, "Ivy")
    assert state.world == "Atlantis" and state.zone == "town"
    saved = await WorldZoneApi(town.link).save_character(state, True)
    assert saved.ok and saved.version == state.version + 1
    assert middle.side.claims.world_of(51) is None  # the final save released the account


def test_every_hop_of_the_gm_calls_serves_exactly_its_tables_calls() -> None:
    from shardkit.characters.gm_relay import GMMasterForwarding, GMWorldRelay
    from shardkit.daemon.gm import GMFanOut, GMWorldForwarding
    from shardkit.gm.calls import GMMasterCalls, GMWorldCalls
    from shardkit.master.gm_admin import GMAdmin
    from shardkit.world.gm import WorldGM

    def served(*classes: type) -> dict[str, frozenset[str]]:
        return {spec.name: frozenset(spec.roles or ()) for cls in classes
                for spec in methods_of(cls)}

    master_calls = {c.name for c in calls_of(GMMasterCalls)}
    world_calls = {c.name for c in calls_of(GMWorldCalls)}
    assert served(GMMasterForwarding) == dict.fromkeys(master_calls, frozenset({"gm"}))
    assert served(GMWorldRelay) == dict.fromkeys(world_calls, frozenset({"gm"}))
    assert served(GMAdmin) == dict.fromkeys(master_calls, frozenset({"characters"}))
    assert served(GMWorldForwarding, GMFanOut) \
        == dict.fromkeys(world_calls, frozenset({"characters"}))
    assert set(served(GMFanOut)) == {"gm_who", "gm_broadcast"}
    assert served(WorldGM) == dict.fromkeys(world_calls, frozenset({"daemon"}))
