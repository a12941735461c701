"""The character server's services in-process: a daemon's loopback link to a fresh SQLite store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import msgspec
import pytest
from chain_support import CharacterServerSide, character_server, daemon_link

from shardkit.characters.access import check_daemon
from shardkit.characters.api import CharactersApi
from shardkit.characters.calls import CharacterCalls, GuildCalls
from shardkit.characters.schemas import (
    AccountRef,
    CharacterRef,
    CharacterState,
    CreateCharacter,
    GuildAct,
    GuildNamed,
    GuildTarget,
    GuildText,
    RenameCharacter,
    SaveCharacter,
)
from shardkit.wire.peers import Peer
from shardkit.wire.rpc import RpcError


async def code_of(action: object) -> str:
    with pytest.raises(RpcError) as caught:
        await action  # type: ignore[misc]
    return caught.value.code


class Links:
    """The character server with the links of two worlds' daemons."""

    def __init__(self, side: CharacterServerSide, atlantis: Peer, lemuria: Peer) -> None:
        self.side = side
        self.atlantis = atlantis
        self.lemuria = lemuria

    async def create(self, account: int, name: str, *, via: Peer | None = None) -> None:
        await CharacterCalls.create_character.send(
            via or self.atlantis, CreateCharacter(account, name, "town", 1.0, 2.0))

    async def load(self, account: int, name: str, *, via: Peer | None = None) -> CharacterState:
        return await CharacterCalls.load_character.send(via or self.atlantis,
                                                        CharacterRef(account, name))


@pytest.fixture
async def links(tmp_path: Path) -> AsyncIterator[Links]:
    async with AsyncExitStack() as stack:
        side = await stack.enter_async_context(character_server(tmp_path, max_per_account=2))
        atlantis = await daemon_link(stack, side, "Atlantis")
        lemuria = await daemon_link(stack, side, "Lemuria")
        yield Links(side, atlantis.client, lemuria.client)


async def test_create_list_rename_delete_in_the_links_world(links: Links) -> None:
    await links.create(1, "Ada")
    summaries = await CharacterCalls.list_characters.send(links.atlantis, AccountRef(1))
    assert [(c.name, c.zone, c.level) for c in summaries] == [("Ada", "town", 1)]
    assert await CharacterCalls.list_characters.send(links.lemuria, AccountRef(1)) == []
    await links.create(1, "Ada", via=links.lemuria)  # names are unique per world only
    assert await code_of(links.create(2, "ADA")) == "name_taken"
    assert await code_of(links.create(1, "Admin")) == "bad_name"
    renamed = await CharacterCalls.rename_character.send(
        links.atlantis, RenameCharacter(1, "Ada", "Byron"))
    assert renamed.name == "Byron"
    assert await code_of(CharacterCalls.rename_character.send(
        links.atlantis, RenameCharacter(1, "Byron", "x"))) == "bad_name"
    await links.create(1, "Cleo")
    assert await code_of(links.create(1, "Dora")) == "too_many_characters"
    deleted = await CharacterCalls.delete_character.send(links.atlantis, CharacterRef(1, "byron"))
    assert deleted.ok
    assert await code_of(CharacterCalls.delete_character.send(
        links.atlantis, CharacterRef(1, "Byron"))) == "no_such_character"
    assert [c.name for c in await CharacterCalls.list_characters.send(
        links.atlantis, AccountRef(1))] == ["Cleo"]
    assert links.side.audit.actions() == ["create", "create", "rename", "create", "delete"]


async def test_one_live_character_per_account_across_worlds(links: Links) -> None:
    await links.create(7, "Eve")
    await links.create(7, "Eve", via=links.lemuria)
    state = await links.load(7, "eve")
    assert (state.world, state.name, state.zone, state.x, state.y) == ("Atlantis", "Eve", "town",
                                                                       1.0, 2.0)
    assert await code_of(links.load(7, "Eve", via=links.lemuria)) == "already_playing"
    assert await code_of(CharacterCalls.delete_character.send(
        links.atlantis, CharacterRef(7, "Eve"))) == "in_play"
    assert await code_of(CharacterCalls.rename_character.send(
        links.atlantis, RenameCharacter(7, "Eve", "Evelyn"))) == "in_play"
    moved = msgspec.structs.replace(state, zone="meadow", x=5.0)
    saved = await CharacterCalls.save_character.send(links.atlantis, SaveCharacter(moved, True))
    assert saved.ok and saved.version == state.version + 1
    assert (await links.load(7, "Eve", via=links.lemuria)).world == "Lemuria"
    again = await links.load(7, "Eve", via=links.lemuria)
    assert again.version == 1


async def test_saves_are_for_the_links_world_and_stale_ones_are_refused(links: Links) -> None:
    await links.create(3, "Fay")
    state = await links.load(3, "Fay")
    first = await CharacterCalls.save_character.send(links.atlantis, SaveCharacter(state))
    assert first.ok
    stale = await CharacterCalls.save_character.send(links.atlantis, SaveCharacter(state))
    assert (stale.ok, stale.reason, stale.version) == (False, "stale", first.version)
    assert await code_of(CharacterCalls.save_character.send(
        links.lemuria, SaveCharacter(state))) == "forbidden"


async def test_guilds_act_for_a_character_of_the_links_world(links: Links) -> None:
    for account, name in ((1, "Gwen"), (2, "Hal")):
        await links.create(account, name)
    gwen, hal = (await links.load(1, "Gwen")).id, (await links.load(2, "Hal")).id
    info = await GuildCalls.guild_create.send(links.atlantis, GuildNamed(gwen, "Tide Riders"))
    assert [(m.name, m.rank) for m in info.members] == [("Gwen", "leader")]
    assert await code_of(GuildCalls.guild_create.send(
        links.atlantis, GuildNamed(hal, "Bad  Name"))) == "bad_name"
    # another world's daemon cannot act for this world's characters
    assert await code_of(GuildCalls.guild_roster.send(
        links.lemuria, GuildAct(gwen))) == "no_such_character"
    await GuildCalls.guild_invite.send(links.atlantis, GuildTarget(gwen, "Hal"))
    assert await GuildCalls.guild_invites.send(links.atlantis, GuildAct(hal)) == ["Tide Riders"]
    await GuildCalls.guild_accept.send(links.atlantis, GuildNamed(hal, "Tide Riders"))
    await GuildCalls.guild_promote.send(links.atlantis, GuildTarget(gwen, "Hal"))
    await GuildCalls.guild_set_motd.send(links.atlantis, GuildText(hal, "Sail\x1b[2J at\ndawn"))
    roster = await GuildCalls.guild_roster.send(links.atlantis, GuildAct(gwen))
    assert roster.motd == "Sail at dawn"
    assert [(m.name, m.rank) for m in roster.members] == [("Gwen", "leader"), ("Hal", "officer")]
    targets = await CharactersApi(links.atlantis).guild_chat_targets(hal, "ahoy\x07 all")
    assert (targets.guild, targets.speaker, targets.text) == ("Tide Riders", "Hal", "ahoy all")
    assert sorted(targets.member_ids) == sorted([gwen, hal])
    await GuildCalls.guild_leave.send(links.atlantis, GuildAct(hal))
    await GuildCalls.guild_disband.send(links.atlantis, GuildAct(gwen))
    assert await code_of(GuildCalls.guild_roster.send(links.atlantis, GuildAct(gwen))) == \
        "not_in_guild"
    assert links.side.audit.actions()[-4:] == ["guild_create", "guild_join", "guild_leave",
                                               "guild_disband"]


async def test_a_daemon_link_must_answer_as_the_announced_world(links: Links) -> None:
    async with AsyncExitStack() as stack:
        pair = await daemon_link(stack, links.side, "Atlantis")
        check_daemon(pair.server, "Atlantis")
        with pytest.raises(RpcError) as refused:
            check_daemon(pair.server, "Lemuria")
        assert refused.value.code == "forbidden"
    assert await CharactersApi(links.atlantis).content_version() == "content-v1"
