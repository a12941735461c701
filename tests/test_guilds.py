"""Guilds: the store's rules on SQLite and PostgreSQL, and guild chat across two WorldServers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest
from conftest import Cluster, start_cluster
from sqlalchemy import text
from test_store import db_url  # noqa: F401  (fixture: a fresh database, once per backend)

from shardkit.client.session import GameClient
from shardkit.store.characters import CharacterStore
from shardkit.store.database import Database, create_database_engine
from shardkit.store.guilds import GuildError, GuildStore
from shardkit.store.migrate import current_revision, head_revision, upgrade
from shardkit.wire.rpc import RpcError

WORLD = "avalon"


class Folks:
    """Characters of one world by name: name -> character id."""

    def __init__(self, store: CharacterStore) -> None:
        self.store = store
        self.ids: dict[str, int] = {}

    async def make(self, *names: str, world: str = WORLD) -> None:
        for account, name in enumerate(names, start=len(self.ids) + 1):
            self.ids[name] = (await self.store.create(account, world, name, "town", 0, 0)).id

    def __getitem__(self, name: str) -> int:
        return self.ids[name]


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:  # noqa: F811
    database = await Database.open(db_url, schema="characters")
    try:
        yield database
    finally:
        await database.close()


@pytest.fixture
async def folks(db: Database) -> Folks:
    people = Folks(CharacterStore(db))
    await people.make("Leader", "Officer", "Member", "Outsider", "Stranger")
    return people


async def refused(code: str, action: object) -> GuildError:
    """Await ``action`` and check it fails with a GuildError of ``code``."""
    with pytest.raises(GuildError) as caught:
        await action  # type: ignore[misc]
    assert caught.value.code == code, caught.value
    return caught.value


def roster(info: object) -> list[tuple[str, str]]:
    return [(m.name, m.rank) for m in info.members]  # type: ignore[attr-defined]


async def _guild_with_three(guilds: GuildStore, folks: Folks) -> None:
    await guilds.create(WORLD, folks["Leader"], "Night Watch")
    for name in ("Officer", "Member"):
        await guilds.invite(WORLD, folks["Leader"], name)
        await guilds.accept(WORLD, folks[name], "night watch")
    await guilds.promote(WORLD, folks["Leader"], "officer")


# ------------------------------------------------------------------------------- store


async def test_create_invite_accept_and_roster(db: Database, folks: Folks) -> None:
    guilds = GuildStore(db)
    info = await guilds.create(WORLD, folks["Leader"], "Night Watch")
    assert (info.name, info.motd, roster(info)) == ("Night Watch", "", [("Leader", "leader")])
    await refused("name_taken", guilds.create(WORLD, folks["Outsider"], "NIGHT WATCH"))
    await refused("already_in_guild", guilds.create(WORLD, folks["Leader"], "Other Guild"))

    assert await guilds.invite(WORLD, folks["Leader"], "officer") == "Officer"
    await guilds.invite(WORLD, folks["Leader"], "Officer")  # twice is one invitation
    assert await guilds.invites(WORLD, folks["Officer"]) == ["Night Watch"]
    await refused("not_invited", guilds.accept(WORLD, folks["Member"], "Night Watch"))
    await refused("no_such_guild", guilds.accept(WORLD, folks["Officer"], "Day Watch"))
    joined = await guilds.accept(WORLD, folks["Officer"], "night watch")
    assert roster(joined) == [("Leader", "leader"), ("Officer", "member")]
    assert await guilds.invites(WORLD, folks["Officer"]) == []

    await guilds.invite(WORLD, folks["Leader"], "Member")
    await guilds.accept(WORLD, folks["Member"], "Night Watch")
    await guilds.promote(WORLD, folks["Leader"], "Officer")
    info = await guilds.roster(WORLD, folks["Member"])
    assert roster(info) == [("Leader", "leader"), ("Officer", "officer"), ("Member", "member")]
    await refused("not_in_guild", guilds.roster(WORLD, folks["Outsider"]))
    await refused("already_in_guild", guilds.invite(WORLD, folks["Leader"], "Member"))
    await refused("no_such_character", guilds.invite(WORLD, folks["Leader"], "Nobody"))


async def test_ranks_decide_who_may_do_what(db: Database, folks: Folks) -> None:
    guilds = GuildStore(db)
    await _guild_with_three(guilds, folks)
    # members may not invite, remove, set the motd, promote or disband
    for action in (
        guilds.invite(WORLD, folks["Member"], "Outsider"),
        guilds.remove(WORLD, folks["Member"], "Officer"),
        guilds.set_motd(WORLD, folks["Member"], "hi"),
        guilds.promote(WORLD, folks["Member"], "Member"),
        guilds.disband(WORLD, folks["Member"]),
    ):
        await refused("not_allowed", action)
    # officers invite, set the motd and remove members, but not officers or the leader
    await guilds.invite(WORLD, folks["Officer"], "Outsider")
    assert await guilds.set_motd(WORLD, folks["Officer"], "  raid at nine  ") == "raid at nine"
    assert (await guilds.roster(WORLD, folks["Member"])).motd == "raid at nine"
    await refused("not_allowed", guilds.remove(WORLD, folks["Officer"], "Leader"))
    await refused("not_allowed", guilds.promote(WORLD, folks["Officer"], "Member"))
    await refused("not_allowed", guilds.set_leader(WORLD, folks["Officer"], "Officer"))
    await refused("not_a_member", guilds.remove(WORLD, folks["Officer"], "Stranger"))
    assert await guilds.remove(WORLD, folks["Officer"], "member") == "Member"
    await refused("not_in_guild", guilds.roster(WORLD, folks["Member"]))
    # the leader demotes, promotes, and removes officers too
    await guilds.demote(WORLD, folks["Leader"], "Officer")
    await refused("not_allowed", guilds.demote(WORLD, folks["Leader"], "Officer"))
    await refused("not_allowed", guilds.remove(WORLD, folks["Leader"], "Leader"))
    await guilds.promote(WORLD, folks["Leader"], "Officer")
    await refused("not_allowed", guilds.promote(WORLD, folks["Leader"], "Officer"))
    await guilds.remove(WORLD, folks["Leader"], "Officer")
    assert roster(await guilds.roster(WORLD, folks["Leader"])) == [("Leader", "leader")]


async def test_set_leader_leave_and_disband(db: Database, folks: Folks) -> None:
    guilds = GuildStore(db)
    await _guild_with_three(guilds, folks)
    await refused("not_allowed", guilds.leave(WORLD, folks["Leader"]))  # hand over first
    await refused("not_allowed", guilds.set_leader(WORLD, folks["Leader"], "Leader"))
    assert await guilds.set_leader(WORLD, folks["Leader"], "Member") == "Member"
    info = await guilds.roster(WORLD, folks["Leader"])
    assert roster(info) == [("Member", "leader"), ("Leader", "officer"), ("Officer", "officer")]
    assert await guilds.leave(WORLD, folks["Leader"]) == "Night Watch"
    await refused("not_in_guild", guilds.leave(WORLD, folks["Leader"]))
    await guilds.invite(WORLD, folks["Member"], "Outsider")
    await refused("not_allowed", guilds.disband(WORLD, folks["Officer"]))
    assert await guilds.disband(WORLD, folks["Member"]) == "Night Watch"
    for name in ("Member", "Officer"):
        await refused("not_in_guild", guilds.roster(WORLD, folks[name]))
    assert await guilds.invites(WORLD, folks["Outsider"]) == []  # invitations went with it
    again = await guilds.create(WORLD, folks["Officer"], "Night Watch")  # the name is free again
    assert roster(again) == [("Officer", "leader")]
    assert await guilds.leave(WORLD, folks["Officer"]) == "Night Watch"  # last one out disbands
    await refused("no_such_guild", guilds.accept(WORLD, folks["Outsider"], "Night Watch"))


async def test_decline_chat_targets_and_worlds(db: Database, folks: Folks) -> None:
    guilds = GuildStore(db)
    await _guild_with_three(guilds, folks)
    await guilds.invite(WORLD, folks["Leader"], "Outsider")
    await guilds.decline(WORLD, folks["Outsider"], "Night Watch")
    await refused("not_invited", guilds.decline(WORLD, folks["Outsider"], "Night Watch"))
    await refused("not_invited", guilds.accept(WORLD, folks["Outsider"], "Night Watch"))

    targets = await guilds.chat_targets(WORLD, folks["Officer"])
    assert (targets.guild, targets.speaker) == ("Night Watch", "Officer")
    assert sorted(targets.member_ids) == sorted(folks[n] for n in ("Leader", "Officer", "Member"))
    await refused("not_in_guild", guilds.chat_targets(WORLD, folks["Outsider"]))

    # guilds are per world: another world's characters cannot act here, names are reusable
    await folks.make("Elsewhere", world="brigadoon")
    await refused("no_such_character", guilds.roster(WORLD, folks["Elsewhere"]))
    await refused("no_such_guild", guilds.accept("brigadoon", folks["Elsewhere"], "Night Watch"))
    other = await guilds.create("brigadoon", folks["Elsewhere"], "Night Watch")
    assert roster(other) == [("Elsewhere", "leader")]  # a new guild of brigadoon, not ours
    assert len(roster(await guilds.roster(WORLD, folks["Leader"]))) == 3
    await refused("no_such_character", guilds.invite(WORLD, folks["Leader"], "Elsewhere"))


async def test_deleted_character_leaves_and_leadership_passes(db: Database, folks: Folks) -> None:
    characters, guilds = CharacterStore(db), GuildStore(db)
    await _guild_with_three(guilds, folks)
    await guilds.invite(WORLD, folks["Leader"], "Outsider")
    assert await characters.delete(1, WORLD, "Leader")
    assert await guilds.drop_character(folks["Leader"]) == "Night Watch"
    info = await guilds.roster(WORLD, folks["Member"])
    assert roster(info) == [("Officer", "leader"), ("Member", "member")]  # the officer inherits
    await refused("no_such_character", guilds.roster(WORLD, folks["Leader"]))
    assert await guilds.invites(WORLD, folks["Outsider"]) == ["Night Watch"]  # still valid

    # restored, it is no longer in the guild
    assert await characters.restore(1, WORLD, "Leader") is not None
    await refused("not_in_guild", guilds.roster(WORLD, folks["Leader"]))
    assert await guilds.drop_character(folks["Leader"]) is None

    # the last member's deletion disbands the guild
    for name, account in (("Member", 3), ("Officer", 2)):
        assert await characters.delete(account, WORLD, name)
        await guilds.drop_character(folks[name])
    await refused("no_such_guild", guilds.accept(WORLD, folks["Outsider"], "Night Watch"))


async def test_concurrent_joins_and_creates_keep_one_guild_per_character(
    db: Database, folks: Folks
) -> None:
    guilds = GuildStore(db)
    await guilds.create(WORLD, folks["Leader"], "First")
    await guilds.create(WORLD, folks["Officer"], "Second")
    await guilds.invite(WORLD, folks["Leader"], "Outsider")
    await guilds.invite(WORLD, folks["Officer"], "Outsider")
    results = await asyncio.gather(
        guilds.accept(WORLD, folks["Outsider"], "First"),
        guilds.accept(WORLD, folks["Outsider"], "Second"),
        guilds.create(WORLD, folks["Outsider"], "Third"),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 1, results
    assert all(
        isinstance(r, GuildError) and r.code in ("already_in_guild", "not_invited")
        for r in results if isinstance(r, BaseException)
    ), results
    names = await asyncio.gather(
        *(guilds.create(WORLD, folks["Stranger"], f"Same {i}") for i in range(4)),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, BaseException) for r in names) == 1, names


async def test_migration_from_0001_keeps_characters_and_adds_guilds(
    db_url: str,  # noqa: F811
) -> None:
    await upgrade(db_url, "characters", "0001")
    engine = await create_database_engine(db_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO characters (account_id, world, name, name_key, zone, x, y,"
                    " level, gold, inventory, data, version)"
                    " VALUES (5, 'avalon', 'Elder', 'elder', 'keep', 3.5, 4.5, 12, 700,"
                    " :inventory, :data, 9)"
                ),
                {"inventory": '["staff"]', "data": '{"quest": "done"}'},
            )
    finally:
        await engine.dispose()
    db = await Database.open(db_url, schema="characters")  # upgrades to head
    try:
        assert await current_revision(db_url, "characters") == await head_revision("characters")
        elder = await CharacterStore(db).load(5, "avalon", "elder")
        assert elder is not None
        assert (elder.zone, elder.x, elder.y, elder.level, elder.gold) == (
            "keep", 3.5, 4.5, 12, 700)
        assert (elder.inventory, elder.data, elder.version) == (["staff"], {"quest": "done"}, 9)
        info = await GuildStore(db).create("avalon", elder.id, "Old Guard")
        assert roster(info) == [("Elder", "leader")]
    finally:
        await db.close()


# ------------------------------------------------------------------- cluster

TWO_CLUSTERS = """
[[clusters]]
number = 1
zones = ["harbor"]
runs_on = "local"
"""


@pytest.fixture(scope="module")
def two_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    running = start_cluster(
        tmp_path_factory.mktemp("guilds"), zones=("town",), extra_clusters=TWO_CLUSTERS
    )
    yield running
    assert running.stop() == 0, "\n".join(running.up.lines[-40:])


async def _player(cluster: Cluster, name: str, character: str, port: int | None) -> GameClient:
    client = GameClient("127.0.0.1", cluster.master_port)
    await client.register(name, f"{name} password")
    await client.login(name, f"{name} password")
    await client.enter_world("Atlantis", port=port, cluster=None if port is None else 1)
    await client.create_character(character)
    return client


@pytest.mark.cluster
async def test_guild_chat_reaches_members_on_every_world_server(two_servers: Cluster) -> None:
    two_servers.up.wait_for_line("world Atlantis/1 ready", timeout=30)
    harbor_port = two_servers.announced_port("world Atlantis/1")
    alice = await _player(two_servers, "guildalice", "Aveline", None)  # cluster 0: town
    bob = await _player(two_servers, "guildbob", "Bastian", harbor_port)  # cluster 1: harbor
    carol = await _player(two_servers, "guildcarol", "Cordelia", harbor_port)  # not a member
    try:
        with pytest.raises(RpcError) as early:
            await alice.guild_create("Tide Riders")
        assert early.value.code == "not_in_game"
        assert (await alice.enter_game("Aveline")).zone == "town"
        assert (await bob.enter_game("Bastian")).zone == "harbor"
        assert (await carol.enter_game("Cordelia")).zone == "harbor"

        with pytest.raises(RpcError) as bad:
            await alice.guild_create("Tide  Riders")
        assert bad.value.code == "bad_name"
        created = await alice.guild_create("Tide Riders")
        assert [(m.name, m.rank) for m in created.members] == [("Aveline", "leader")]
        await alice.guild_invite("Bastian")
        assert await bob.guild_invites() == ["Tide Riders"]
        joined = await bob.guild_accept("Tide Riders")
        assert [m.name for m in joined.members] == ["Aveline", "Bastian"]
        with pytest.raises(RpcError) as not_allowed:
            await bob.guild_invite("Cordelia")
        assert not_allowed.value.code == "not_allowed"
        await alice.guild_promote("Bastian")
        await bob.guild_set_motd("Sail at dawn")
        info = await alice.guild_roster()
        assert info.motd == "Sail at dawn"
        assert [(m.name, m.rank) for m in info.members] == [
            ("Aveline", "leader"), ("Bastian", "officer")
        ]

        await alice.guild_say("ahoy from town")
        expected = ("Tide Riders", "Aveline", "ahoy from town")
        await bob.wait_for(lambda s: expected in s.guild_chat)
        await alice.wait_for(lambda s: expected in s.guild_chat)
        await bob.guild_say("ahoy from the harbor")
        heard = ("Tide Riders", "Bastian", "ahoy from the harbor")
        await alice.wait_for(lambda s: heard in s.guild_chat)
        # carol is on bob's world server but not in the guild: she heard nothing of it
        with pytest.raises(RpcError) as outsider:
            await carol.guild_say("let me in")
        assert outsider.value.code == "not_in_guild"
        assert carol.state.guild_chat == []

        await bob.guild_leave()
        with pytest.raises(RpcError) as left:
            await bob.guild_roster()
        assert left.value.code == "not_in_guild"
        await alice.guild_disband()
        with pytest.raises(RpcError) as gone:
            await alice.guild_say("anyone?")
        assert gone.value.code == "not_in_guild"
    finally:
        for client in (alice, bob, carol):
            await client.close()
