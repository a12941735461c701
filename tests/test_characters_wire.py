"""Characters through real processes: name rules, delete, rename through the world, stale saves.

A stale save is refused by the character server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import msgspec
import pytest
from conftest import Cluster

from shardkit.characters.schemas import CharacterState, SaveResult
from shardkit.client.session import GameClient
from shardkit.store.characters import CharacterStore
from shardkit.store.database import Database
from shardkit.wire.handshake import authenticate_service
from shardkit.wire.rpc import RpcConnection, RpcError, connect

pytestmark = pytest.mark.cluster


async def as_world_server(cluster: Cluster, name: str) -> RpcConnection:
    """A connection to the daemon's port 7000 authenticated as a WorldServer would be."""
    daemon = cluster.settings.worlds["Atlantis"].daemon
    conn = await connect("127.0.0.1", daemon.world_port)
    await authenticate_service(conn, role="world", name=name, peer_role="daemon",
                               secret=cluster.settings.secrets.world_link_key("Atlantis"))
    return conn


@pytest.fixture
async def player(cluster: Cluster, request: pytest.FixtureRequest) -> AsyncIterator[GameClient]:
    client = GameClient("127.0.0.1", cluster.master_port)
    name = request.node.name.removeprefix("test_")[:20]
    await client.register(name, "long enough password")
    await client.login(name, "long enough password")
    await client.enter_world("Atlantis")
    yield client
    await client.close()


async def code_of(action: object) -> str:
    with pytest.raises(RpcError) as caught:
        await action  # type: ignore[misc]
    return caught.value.code


async def test_names_are_checked_and_unique_per_world(cluster: Cluster, player: GameClient) -> None:
    with pytest.raises(RpcError) as offensive:
        await player.create_character("Fuckface")
    assert offensive.value.code == "bad_name" and "offensive" in offensive.value.message
    assert await code_of(player.create_character("Admin")) == "bad_name"
    await player.create_character("Unique")
    assert await code_of(player.create_character("UNIQUE")) == "name_taken"
    # the character server checks too, whoever asks it
    world = await as_world_server(cluster, "Atlantis/8")
    try:
        assert player.account is not None
        refused = world.call("create_character", player.account.account_id, "Shithead", "town",
                             0.0, 0.0)
        assert await code_of(refused) == "bad_name"
    finally:
        world.close()


async def test_delete_keeps_the_name_and_hides_the_character(player: GameClient) -> None:
    await player.create_character("Fleeting")
    await player.create_character("Staying")
    await player.delete_character("fleeting")
    assert [c.name for c in await player.characters()] == ["Staying"]
    assert await code_of(player.delete_character("Fleeting")) == "no_such_character"
    assert await code_of(player.create_character("Fleeting")) == "name_taken"  # a GM may restore it
    assert await code_of(player.enter_game("Fleeting")) == "no_such_character"


async def test_rename_through_the_world_but_not_in_play(player: GameClient) -> None:
    await player.create_character("Oldname")
    await player.create_character("Sibling")
    renamed = await player.rename_character("oldname", "Newname")
    assert renamed.name == "Newname"
    assert sorted(c.name for c in await player.characters()) == ["Newname", "Sibling"]
    assert await code_of(player.rename_character("Newname", "x")) == "bad_name"
    assert await code_of(player.rename_character("Newname", "sibling")) == "name_taken"
    assert await code_of(player.rename_character("Ghost", "Spirit")) == "no_such_character"

    await player.enter_game("Newname")
    assert await code_of(player.rename_character("Newname", "Busyname")) == "in_play"
    assert await player.leave_game()  # the final save releases the character
    assert (await player.rename_character("Newname", "Freename")).name == "Freename"
    back = await player.enter_game("Freename")
    await player.wait_for(lambda s: back.entity_id in s.seen)
    assert player.me() is not None and player.me().name == "Freename"


async def test_stale_save_over_the_wire_is_refused_and_the_newer_state_kept(
    cluster: Cluster, player: GameClient
) -> None:
    await player.create_character("Contested")
    assert player.account is not None
    account = player.account.account_id
    # two WorldServer connections stand for two processes that both hold the character
    first = await as_world_server(cluster, "Atlantis/8")
    second = await as_world_server(cluster, "Atlantis/9")
    try:
        loaded = msgspec.convert(await first.call("load_character", account, "Contested"),
                                 CharacterState)
        assert loaded.version == 1
        mine = msgspec.structs.replace(loaded, gold=10, x=11.0)
        theirs = msgspec.structs.replace(loaded, gold=99, x=99.0)  # based on the same version

        saved = msgspec.convert(await first.call("save_character", mine, False), SaveResult)
        assert (saved.ok, saved.version) == (True, 2)
        stale = msgspec.convert(await second.call("save_character", theirs, False), SaveResult)
        assert (stale.ok, stale.version, stale.reason) == (False, 2, "stale")

        again = msgspec.convert(await first.call("load_character", account, "Contested"),
                                CharacterState)
        assert (again.gold, again.x, again.version) == (10, 11.0, 2)
        db = await Database.open(cluster.database_url("characters"), schema="characters")
        try:
            stored = await CharacterStore(db).load(account, "Atlantis", "Contested")
        finally:
            await db.close()
        assert stored is not None and (stored.gold, stored.x, stored.version) == (10, 11.0, 2)

        final = msgspec.structs.replace(again, gold=11)
        released = msgspec.convert(await first.call("save_character", final, True), SaveResult)
        assert (released.ok, released.version) == (True, 3)
    finally:
        first.close()
        second.close()
