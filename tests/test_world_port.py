"""The WorldServer's player port in-process: ticket logins, entering the game, kicks, lost zones."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from chain_support import TICKET_KEY, Player, WorldSide, chain

from shardkit.characters.calls import CharacterCalls
from shardkit.master.notifications import KickAccount
from shardkit.wire.peers import notify
from shardkit.wire.rpc import RpcError
from shardkit.wire.tickets import issue_ticket
from shardkit.world import entry
from shardkit.world.api import WorldPlayerApi, WorldZoneApi
from shardkit.world.session import WorldSession, sessions


async def code_of(action: object) -> str:
    with pytest.raises(RpcError) as caught:
        await action  # type: ignore[misc]
    return caught.value.code


async def until(predicate: Callable[[], object], what: str) -> None:
    """Wait (bounded) for something a notification or a close makes true."""
    for _ in range(200):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[WorldSide]:
    async with chain(tmp_path) as running:
        yield await running.world_server(0)


def session_of(world: WorldSide, account: int) -> WorldSession:
    conn = world.players.get(account)
    session = sessions.get(conn) if conn is not None else None
    assert session is not None, f"account {account} has no session here"
    return session


async def with_character(world: WorldSide, account: int, name: str) -> Player:
    player = await world.player(account, f"acct{account}")
    await CharacterCalls.create_character.enter(player.conn, name)
    return player


def world_ticket(account: int, name: str, world: str = "Atlantis/0") -> bytes:
    return issue_ticket(TICKET_KEY, kind="world", account_id=account, account_name=name,
                        destination=world)


async def test_ticket_login_once_per_ticket_and_connection(world: WorldSide) -> None:
    ticket = world_ticket(2, "ben")
    api = WorldPlayerApi(await world.connect())
    assert await code_of(CharacterCalls.list_characters.enter(api.peer)) == "auth_required"
    welcome = await api.ticket_login(ticket)
    assert (welcome.world, welcome.cluster, welcome.account_id, welcome.account_name) == \
        ("Atlantis", 0, 2, "ben")
    assert await code_of(api.ticket_login(world_ticket(3, "cat"))) == "already_authenticated"
    again = WorldPlayerApi(await world.connect())
    assert await code_of(again.ticket_login(ticket)) == "ticket_used"
    assert await code_of(again.ticket_login(world_ticket(5, "eve", "Lemuria/0"))) == "bad_ticket"
    assert session_of(world, 2).ticket_expires_at > 0
    assert len(world.players) == 1


async def test_a_newer_login_of_the_account_replaces_the_older(world: WorldSide) -> None:
    first = await world.player(7, "gil")
    second = await world.player(7, "gil")
    await until(lambda: first.conn.closed.is_set(), "the older connection to close")
    assert first.state.kicked == "logged in from elsewhere"
    assert world.players.get(7) is not None and len(world.players) == 1
    assert await code_of(CharacterCalls.list_characters.enter(first.conn)) == "closed"
    assert await CharacterCalls.list_characters.enter(second.conn) == []


async def test_enter_game_puts_one_character_in_play(world: WorldSide,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(entry, "ZONE_READY_WAIT_S", 0.2)
    player = await with_character(world, 8, "Hana")
    api = WorldPlayerApi(player.conn)
    assert await code_of(api.enter_game("Nobody")) == "no_such_character"
    assert await code_of(api.enter_game("Hana")) == "zone_down"
    town, meadow = await world.zone_up("town"), await world.zone_up("meadow")
    zone_entry = await api.enter_game("hana")
    assert (zone_entry.zone, zone_entry.host, zone_entry.port) == ("town", "127.0.0.1", 29000)
    assert meadow.kicks == [(8, "entered the game elsewhere")]  # every other zone drops it
    assert town.kicks == []
    session = session_of(world, 8)
    assert (session.character, session.zone, session.character_id) == ("Hana", "town",
                                                                       session.active_character())
    assert (await WorldZoneApi(town.link).load_character(8, "Hana")).name == "Hana"


async def test_a_kick_from_the_daemon_spares_a_newer_session(world: WorldSide) -> None:
    town = await world.zone_up("town")
    player = await world.player(9, "ivo")
    issued_until = session_of(world, 9).ticket_expires_at
    # handled in order: the first means an older session (its tickets expired before this
    # one's), so it is skipped altogether; the second drops the player and its character
    notify(world.daemon_end, KickAccount(9, "old session", issued_until - 1))
    notify(world.daemon_end, KickAccount(9, "banned", issued_until + 1))
    await until(lambda: player.conn.closed.is_set(), "the kicked player to be dropped")
    assert player.state.kicked == "banned"
    await until(lambda: town.kicks, "the zone to be told")
    assert town.kicks == [(9, "banned")]


async def test_players_of_a_lost_zone_are_told(world: WorldSide) -> None:
    town = await world.zone_up("town")
    player = await with_character(world, 10, "Juno")
    bystander = await with_character(world, 11, "Kai")  # in the world, not in the game
    await WorldPlayerApi(player.conn).enter_game("Juno")
    town.link.close("zone crashed")
    await until(lambda: player.state.zone_lost, "zone_lost")
    assert player.state.zone_lost == "town" and bystander.state.zone_lost is None
    assert not world.zones.up["town"].is_set()


async def test_a_world_ticket_admits_once_in_the_world_and_only_where_it_names(
        tmp_path: Path) -> None:
    async with chain(tmp_path) as running:
        first = await running.world_server(0)
        second = await running.world_server(1)
        ticket = world_ticket(2, "ben", "Atlantis/1")
        assert await code_of(WorldPlayerApi(await first.connect()).ticket_login(ticket)) \
            == "bad_ticket"  # names WorldServer 1, so WorldServer 0 refuses it
        welcome = await WorldPlayerApi(await second.connect()).ticket_login(ticket)
        assert (welcome.world, welcome.cluster) == ("Atlantis", 1)
        # WorldServer 1 again, from scratch (restarted): it has no memory of its own, yet
        # the ticket is spent for the whole world, at the daemon
        restarted = await running.world_server(1)
        assert await code_of(WorldPlayerApi(await restarted.connect()).ticket_login(ticket)) \
            == "ticket_used"
        assert await code_of(WorldPlayerApi(await second.connect()).ticket_login(ticket)) \
            == "ticket_used"
