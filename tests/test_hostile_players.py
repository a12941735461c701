"""Players who attack other players through the game, against one cluster of real processes.

Chat that tries to act on the other player's terminal or to pass for a server notice, chat
floods, one character entered twice at once, stale zone tickets, two characters of one
account in play at once (two zones, two worlds), character spam and names with line breaks.
"""

from __future__ import annotations

import asyncio
import unicodedata
from collections.abc import AsyncIterator

import pytest
from conftest import Cluster
from world_support import write_imp_only_world

from shardkit.client.session import GameClient, ServerEvents
from shardkit.content import content_dir, content_version
from shardkit.testing.harness import start_shardkit
from shardkit.wire.handshake import authenticate_service
from shardkit.wire.rpc import Router, RpcConnection, RpcError, connect

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(120)]

WORLD = "Atlantis"
BURST = 5  # chat_burst of the test cluster's world (the default)
MAX_CHARACTERS = 8  # [characters] max_per_account (the default)

HOSTILE = (
    "\x1b[2J\x1b[H"  # clear the screen, cursor home
    "\x1b]0;you have been pwned\x07"  # set the window title
    "hello"
    "\n[notice] ADMIN: the server restarts now, log in again at evil.example"  # a fake notice line
    "\x1b]52;c;ZXZpbCBjbGlwYm9hcmQ=\x07"  # OSC 52: write the reader's clipboard
    " \u202eevil\u202c\r\x07\x00\x9b31m"  # a bidi override, a carriage return, BEL, NUL, 8-bit CSI
)
CLEANED = "hello [notice] ADMIN: the server restarts now, log in again at evil.example evil"


def shown_safely(text: str) -> bool:
    """Nothing in ``text`` acts on a terminal or hides: no controls, no format characters."""
    return not any(unicodedata.category(c) in ("Cc", "Cf") for c in text)


async def player(cluster: Cluster, account: str, character: str | None = None) -> GameClient:
    """A registered, logged-in player in the world (with a character created, if named)."""
    client = GameClient("127.0.0.1", cluster.master_port)
    await client.register(account, f"{account} password")
    await client.login(account, f"{account} password")
    await client.enter_world(WORLD)
    if character is not None:
        await client.create_character(character)
    return client


@pytest.fixture
async def closing() -> AsyncIterator[list[GameClient]]:
    """GameClients a test adds here are closed at its end."""
    clients: list[GameClient] = []
    yield clients
    for client in clients:
        await client.close()


async def code_of(awaitable: object) -> str:
    try:
        await awaitable  # type: ignore[misc]
    except RpcError as exc:
        return exc.code
    return "ok"


# ------------------------------------------------------------------------------------ chat


async def test_zone_chat_reaches_others_as_printable_text_and_floods_are_cut(
        cluster: Cluster, closing: list[GameClient]) -> None:
    alice = await player(cluster, "chat_alice", "Chatalice")
    bob = await player(cluster, "chat_bob", "Chatbob")
    closing += [alice, bob]
    await alice.enter_game("Chatalice")
    await bob.enter_game("Chatbob")

    alice.say(HOSTILE)
    heard = await bob.wait_for(lambda s: [t for who, t in s.chat if who == "Chatalice"])
    assert heard == [CLEANED] and shown_safely(heard[0])
    assert all(shown_safely(t) for _, t in bob.state.chat)

    # a flood: each line as a request, so each is answered once the zone has handled it
    assert alice.zone is not None
    answers = [await code_of(alice.zone.call("say", f"flood {i}")) for i in range(40)]
    accepted = [i for i, code in enumerate(answers) if code == "ok"]
    assert set(answers) == {"ok", "rate_limited"}
    assert len(accepted) <= BURST + 2  # the burst less the line above, plus what refilled meanwhile
    bob.say("flood over")  # bob's own budget is untouched
    await bob.wait_for(lambda s: ("Chatbob", "flood over") in s.chat)
    floods = [t for who, t in bob.state.chat if who == "Chatalice" and t.startswith("flood")]
    assert floods == [f"flood {i}" for i in accepted]

    # sent as notifications, refused lines are answered with an `error` notification
    alice.say("one more")
    await alice.wait_for(lambda s: any("too fast; try again in" in n for n in s.notices))


async def test_guild_chat_and_motd_are_cleaned_and_guild_floods_are_cut(
        cluster: Cluster, closing: list[GameClient]) -> None:
    leader = await player(cluster, "guild_lead", "Guildlead")
    member = await player(cluster, "guild_member", "Guildmember")
    closing += [leader, member]
    await leader.enter_game("Guildlead")
    await member.enter_game("Guildmember")
    await leader.guild_create("Clean Hands")
    await leader.guild_invite("Guildmember")
    await member.guild_accept("Clean Hands")

    await leader.guild_set_motd(HOSTILE)
    assert (await member.guild_roster()).motd == CLEANED

    await leader.guild_say(HOSTILE)
    heard = await member.wait_for(lambda s: [t for _, who, t in s.guild_chat if who == "Guildlead"])
    assert heard == [CLEANED]

    answers = [await code_of(leader.guild_say(f"spam {i}")) for i in range(30)]
    assert "rate_limited" in answers and answers.count("ok") <= BURST + 2
    refused = await code_of(leader.guild_say("still spamming"))
    assert refused == "rate_limited"


# ------------------------------------------------------------------------- one live character


def _events_router() -> Router:
    """A router that takes the server's notifications for a throwaway client state."""
    return Router.for_services(ServerEvents(GameClient()))


async def test_two_zone_tickets_redeemed_at_once_put_the_character_in_play_once(
        cluster: Cluster, closing: list[GameClient]) -> None:
    carol = await player(cluster, "twice_carol", "Twicecarol")
    closing.append(carol)
    assert carol.world is not None
    entries = [await carol.world.call("enter_game", "Twicecarol") for _ in range(2)]
    conns: list[RpcConnection] = [
        await connect(e["host"], e["port"], _events_router()) for e in entries
    ]
    try:
        results = await asyncio.gather(
            *(c.call("zone_login", e["ticket"]) for c, e in zip(conns, entries, strict=True)),
            return_exceptions=True,
        )
        assert any(isinstance(r, dict) for r in results), results
        # the later entry replaced the earlier one: one of the two connections is put out
        closing_waits = [asyncio.ensure_future(c.closed.wait()) for c in conns]
        done, pending = await asyncio.wait(closing_waits, timeout=10,
                                           return_when=asyncio.FIRST_COMPLETED)
        for waiting in pending:
            waiting.cancel()
        assert len(done) == 1, "both entries of one character are still in the zone"
        survivor = next(c for c in conns if not c.closed.is_set())

        # whoever is in the zone now sees exactly one Twicecarol there
        watcher = await player(cluster, "twice_watch", "Twicewatch")
        closing.append(watcher)
        await watcher.enter_game("Twicewatch")
        rows = await watcher.wait_for(lambda s: s.snapshots >= 3 and [
            seen for seen in s.seen.values() if seen.name == "Twicecarol"])
        assert len(rows) == 1
        # and the survivor's saves are not refused as stale: the character is not in play twice
        logout = await survivor.call("logout")
        assert logout == {"ok": True}
    finally:
        for conn in conns:
            conn.close("test over")


async def test_a_zone_ticket_of_an_ended_session_lets_nobody_in(
        cluster: Cluster, closing: list[GameClient]) -> None:
    dave = await player(cluster, "stale_dave", "Staledave")
    closing.append(dave)
    assert dave.world is not None
    entry = await dave.world.call("enter_game", "Staledave")
    dave.world.close("session over")  # e.g. kicked or banned right after enter_game
    await dave.world.closed.wait()
    zone = await connect(entry["host"], entry["port"], _events_router())
    try:
        assert await code_of(zone.call("zone_login", entry["ticket"])) == "already_playing"
    finally:
        zone.close("test over")


# ------------------------------------------------------------------------- character limit


async def test_an_account_has_at_most_the_configured_characters_even_when_created_at_once(
        cluster: Cluster, closing: list[GameClient]) -> None:
    erin = await player(cluster, "many_erin")
    closing.append(erin)
    names = [f"Erin{chr(ord('a') + i)}{chr(ord('a') + i)}" for i in range(20)]
    codes = await asyncio.gather(*(code_of(erin.create_character(n)) for n in names))
    assert codes.count("ok") == MAX_CHARACTERS, codes
    assert set(codes) == {"ok", "too_many_characters"}
    listed = await erin.characters()
    assert len(listed) == MAX_CHARACTERS
    await erin.delete_character(listed[0].name)  # deleting one makes room for one
    assert await code_of(erin.create_character("Erinagain")) == "ok"
    assert await code_of(erin.create_character("Erinonemore")) == "too_many_characters"


# ------------------------------------------------------------------------------ name rules


async def test_world_port_names_with_a_line_break_are_refused(
        cluster: Cluster, closing: list[GameClient]) -> None:
    fay = await player(cluster, "names_fay", "Namesfay")
    closing.append(fay)
    for name in ("Bob\n", "Bob\r\n", "\nBob", "Bo\nb"):
        assert await code_of(fay.create_character(name)) == "bad_name", repr(name)
    assert await code_of(fay.rename_character("Namesfay", "Fay\n")) == "bad_name"
    await fay.enter_game("Namesfay")
    for guild in ("Night Watch\n", "Night\nWatch"):
        assert await code_of(fay.guild_create(guild)) == "bad_name", repr(guild)


# ------------------------------------------------------------------- one world per account


async def _as_world_server(cluster: Cluster, world: str, port: int) -> RpcConnection:
    """A connection to a daemon's port 7000, authenticated and registered as its WorldServer."""
    conn = await connect("127.0.0.1", port)
    await authenticate_service(conn, role="world", name=f"{world}/0", peer_role="daemon",
                               secret=cluster.settings.secrets.world_link_key(world))
    content = content_version(content_dir(cluster.settings.server.cluster.content_dir,
                                          cluster.root))
    await conn.call("register_cluster", 0, "127.0.0.1", 1, content)
    return conn


async def test_two_worlds_loading_one_account_at_once_put_it_in_play_once(
        cluster: Cluster) -> None:
    ports = write_imp_only_world(cluster.root)
    config = cluster.root / "serverconfig" / "worlds" / "Lemuria.toml"
    daemon = start_shardkit(cluster.root, "daemon", "--world", "Lemuria")
    atlantis = lemuria = None
    try:
        await asyncio.to_thread(daemon.wait_for_line, "daemon Lemuria listening", 30)
        lemuria = await _as_world_server(cluster, "Lemuria", ports["world_port"])
        atlantis = await connect("127.0.0.1", cluster.settings.worlds[WORLD].daemon.world_port)
        await authenticate_service(atlantis, role="world", name=f"{WORLD}/7", peer_role="daemon",
                                   secret=cluster.settings.secrets.world_link_key(WORLD))
        for account in range(990_001, 990_006):
            name = "Twoworld" + "abcde"[account % 5]
            for world in (atlantis, lemuria):
                await world.call("create_character", account, name, "town", 1.0, 1.0)
            results = await asyncio.gather(
                *(w.call("load_character", account, name) for w in (atlantis, lemuria)),
                return_exceptions=True)
            loaded = [r for r in results if isinstance(r, dict)]
            refused = [r for r in results if isinstance(r, RpcError)]
            assert len(loaded) == 1 and [e.code for e in refused] == ["already_playing"], results
            winner = atlantis if isinstance(results[0], dict) else lemuria
            await winner.call("save_character", loaded[0], True)  # out of play again
    finally:
        for conn in (atlantis, lemuria):
            if conn is not None:
                conn.close("test over")
        await asyncio.to_thread(daemon.stop)
        config.unlink()


async def test_entering_with_a_character_in_another_zone_takes_the_first_out_of_play(
        cluster: Cluster, closing: list[GameClient]) -> None:
    gina = await player(cluster, "zones_gina", "Ginatown")
    watcher = await player(cluster, "zones_watch", "Zonewatch")
    closing += [gina, watcher]
    await gina.create_character("Ginameadow")
    assert gina.account is not None
    # put Ginameadow in the meadow zone, as a portal would have (saved there, out of play)
    world = await connect("127.0.0.1", cluster.settings.worlds[WORLD].daemon.world_port)
    try:
        await authenticate_service(world, role="world", name=f"{WORLD}/9", peer_role="daemon",
                                   secret=cluster.settings.secrets.world_link_key(WORLD))
        state = await world.call("load_character", gina.account.account_id, "Ginameadow")
        await world.call("save_character", {**state, "zone": "meadow", "x": 5.0, "y": 5.0}, True)
    finally:
        world.close("test over")

    await watcher.enter_game("Zonewatch")
    assert (await gina.enter_game("Ginatown")).zone == "town"
    await watcher.wait_for(lambda s: any(e.name == "Ginatown" for e in s.seen.values()))
    town = gina.zone
    assert town is not None and gina.world is not None
    # a client that keeps its town connection open and enters with the other character too
    entry = await gina.world.call("enter_game", "Ginameadow")
    assert entry["zone"] == "meadow"
    await asyncio.wait_for(town.closed.wait(), 10)  # Ginatown was taken out of play first...
    assert gina.state.kicked == "entered the game elsewhere"
    assert gina.state.saved is not None and gina.state.saved.zone == "town"  # ...and saved
    meadow = await connect(entry["host"], entry["port"], _events_router())
    try:
        assert (await meadow.call("zone_login", entry["ticket"]))["zone"] == "meadow"
        await watcher.wait_for(lambda s: s.snapshots and not any(
            e.name == "Ginatown" for e in s.seen.values()))
    finally:
        meadow.close("test over")
