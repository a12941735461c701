"""The master in a whole cluster: world tickets at a real world, manhole kicks, restarts.

Kicks travel through the daemon, the WorldServer and the zone.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import msgspec
import pytest
from master_support import Telnet, error_of, login_from

from shardkit.client.session import GameClient
from shardkit.master.schemas import WorldEntry
from shardkit.wire.rpc import connect
from shardkit.wire.tickets import issue_ticket

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(90)]

PASSWORD = "correct horse"


async def player_in_zone(cluster, account: str, character: str) -> GameClient:
    client = GameClient("127.0.0.1", cluster.master_port)
    await client.register(account, PASSWORD)
    await client.login(account, PASSWORD)
    await client.enter_world("Atlantis")
    await client.create_character(character)
    await client.enter_game(character)
    return client


async def all_closed(client: GameClient) -> None:
    for conn in (client.master, client.world, client.zone):
        assert conn is not None
        await asyncio.wait_for(conn.wait_closed(), 10)


async def test_world_tickets_work_once_and_forged_or_expired_ones_do_not(cluster) -> None:
    client = GameClient("127.0.0.1", cluster.master_port)
    try:
        await client.register("Tilda", PASSWORD)
        account = await client.login("Tilda", PASSWORD)
        assert client.master is not None
        entry = msgspec.convert(await client.master.call("enter_world", "Atlantis"), WorldEntry)
        world = await connect(entry.host, entry.port)
        welcome = await world.call("ticket_login", entry.ticket)
        assert (welcome["account_id"], welcome["account_name"]) == (account.account_id, "Tilda")
        world.close()

        async def redeem(ticket: bytes) -> str:
            conn = await connect(entry.host, entry.port)
            try:
                return (await error_of(conn.call("ticket_login", ticket))).code
            finally:
                conn.close()

        assert await redeem(entry.ticket) == "ticket_used"  # replayed
        forged = bytearray(entry.ticket)
        forged[5] ^= 0x01  # one bit of the body: the signature no longer fits
        assert await redeem(bytes(forged)) == "bad_ticket"
        key = cluster.settings.secrets.world_ticket_key("Atlantis")
        common = {"kind": "world", "account_id": account.account_id, "account_name": "Tilda"}
        assert await redeem(issue_ticket(os.urandom(32), destination="Atlantis/0", **common)) \
            == "bad_ticket"  # signed by someone else
        assert await redeem(issue_ticket(key, destination="Atlantis/0", ttl_s=-1.0, **common)) \
            == "ticket_expired"
        assert await redeem(issue_ticket(key, destination="Atlantis/1", **common)) == "bad_ticket"
    finally:
        await client.close()


async def test_manhole_refuses_other_ips_and_its_kick_puts_the_player_out_everywhere(
        cluster) -> None:
    port = cluster.announced_port("master manhole (telnet)")
    refused = await Telnet.open(port, source_ip="127.0.0.2")
    assert "access denied" in await refused.read_all()
    refused.close()

    player = await player_in_zone(cluster, "Kenny", "Kenric")
    telnet = await Telnet.open(port, source_ip="127.0.0.1")
    try:
        await telnet.login("admin", cluster.settings.secrets.manhole_password)
        worlds = await telnet.run("worlds")
        assert "Atlantis" in worlds and " up " in worlds
        said = await telnet.run("kick kenny cheating")
        assert said.startswith("kicked Kenny: master session closed, told 1 world")
        await player.wait_for(lambda s: s.kicked == "cheating")
        await all_closed(player)
        assert player.state.saved is not None  # the zone saved the character before the kick
    finally:
        telnet.close()
        await player.close()

    again = GameClient("127.0.0.1", cluster.master_port)  # the character was released too
    try:
        await again.login("Kenny", PASSWORD)
        await again.enter_world("Atlantis")
        assert (await again.enter_game("Kenric")).zone == "town"
    finally:
        await again.close()


async def test_a_newer_login_puts_the_older_session_out_of_world_and_zone(cluster) -> None:
    first = await player_in_zone(cluster, "Rory", "Rorik")
    second = GameClient("127.0.0.1", cluster.master_port)
    try:
        await second.login("Rory", PASSWORD)
        await first.wait_for(lambda s: s.kicked is not None)
        await all_closed(first)
        await second.enter_world("Atlantis")  # the newer session is left alone
        entered = await second.enter_game("Rorik")
        await second.wait_for(lambda s: entered.entity_id in s.seen)
        assert second.state.kicked is None
    finally:
        await first.close()
        await second.close()


def _master_pid(root: Path) -> int:
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"shardkit" in argv and b"master" in argv and str(root).encode() in argv:
            return int(entry.name)
    raise AssertionError("no master process found")


async def test_master_killed_players_keep_playing_and_worlds_come_back(cluster) -> None:
    player = await player_in_zone(cluster, "Stay", "Stayer")
    try:
        mark = len(cluster.up.lines)
        os.kill(_master_pid(cluster.root), signal.SIGKILL)
        relisted = await asyncio.to_thread(
            cluster.up.wait_for_line, "world Atlantis is on the master's list", 30, mark)
        assert any("master listening on" in line for line in cluster.up.lines[mark:relisted])
        player.say("still here")  # the zone never noticed
        await player.wait_for(lambda s: ("Stayer", "still here") in s.chat)
        back = await login_from("127.0.0.1", cluster.master_port, "Stay", PASSWORD)
        try:
            worlds = {w["name"]: w for w in await back.call("worlds")}
            assert worlds["Atlantis"]["status"] == "up"
        finally:
            back.close()
    finally:
        await player.close()
