"""The game in a zone of a real cluster: what a player sees, fights, wins and keeps.

One cluster for the module, running the test content (tests/zone_content): zones ``arena``
and ``field`` on one WorldServer. In the arena a Brute guards (25, 75), a Training Dummy
stands at (50, 20) and a Sentinel at (170, 20); players appear in (10..30, 10..30) and walk
40 units a second.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Cluster, start_cluster

from shardkit.client.session import GameClient

CONTENT = Path(__file__).resolve().parent / "zone_content"
PASSWORD = "zone game password"
SPAWN_AREA = (10.0, 30.0)  # on both axes


@pytest.fixture(scope="module")
def zone_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    running = start_cluster(tmp_path_factory.mktemp("zone_game"), zones=("arena", "field"),
                            content_dir=str(CONTENT))
    yield running
    code = running.stop()
    assert code == 0, "\n".join(running.up.lines[-40:])


async def player(cluster: Cluster, account: str, character: str) -> GameClient:
    client = GameClient("127.0.0.1", cluster.master_port)
    await client.register(account, PASSWORD)
    await client.login(account, PASSWORD)
    await client.enter_world("Atlantis")
    await client.create_character(character)
    await client.enter_game(character)
    await client.wait_for(lambda s: client.me() is not None)
    return client


async def next_tick(client: GameClient) -> None:
    seen = client.state.snapshots
    await client.wait_for(lambda s: s.snapshots > seen, timeout=5)


async def walk_to(client: GameClient, x: float, y: float, within: float = 1.0) -> None:
    """Steer toward (x, y), a tick at a time, until within ``within`` units; then stop."""
    for _ in range(400):
        me = client.me()
        assert me is not None, "lost sight of ourselves"
        dx, dy = x - me.x, y - me.y
        distance = math.hypot(dx, dy)
        if distance <= within:
            client.move(0.0, 0.0)
            return
        scale = min(1.0, distance / 3.0)  # slow down near the goal (2 units a tick at full speed)
        client.move(dx / distance * scale, dy / distance * scale)
        await next_tick(client)
    raise AssertionError(f"never got to ({x}, {y})")


def in_spawn_area(x: float, y: float) -> bool:
    low, high = SPAWN_AREA
    return low <= x <= high and low <= y <= high


def named(client: GameClient, name: str) -> int | None:
    return next((eid for eid, s in client.state.seen.items() if s.name == name and not s.dead),
                None)


async def test_a_player_sees_only_its_area_of_interest(zone_cluster: Cluster) -> None:
    ann = await player(zone_cluster, "aoiann", "Aoiann")
    bob = await player(zone_cluster, "aoibob", "Aoibob")
    ever_seen: set[str] = set()

    def watching(done: bool) -> bool:
        ever_seen.update(s.name for s in ann.state.seen.values())
        return done

    try:
        assert bob.entered is not None
        bob_id = bob.entered.entity_id
        await ann.wait_for(lambda s: watching(bob_id in s.seen))
        entered = ann.state.seen[bob_id]
        assert (entered.name, entered.kind) == ("Aoibob", 1)  # told once: its name and kind
        assert "Training Dummy" in {s.name for s in ann.state.seen.values()}

        await walk_to(bob, 160.0, 20.0, within=3.0)  # beside the Sentinel, 130 units east
        await bob.wait_for(lambda s: named(bob, "Sentinel") is not None)
        await ann.wait_for(lambda s: watching(bob_id not in s.seen))  # told it left our view
        await walk_to(bob, 35.0, 20.0, within=3.0)
        await ann.wait_for(lambda s: watching(bob_id in s.seen))  # and when it came back
        for _ in range(5):
            await next_tick(ann)
            watching(True)
        assert "Sentinel" not in ever_seen  # 140 units away the whole time: never sent to us
    finally:
        await ann.close()
        await bob.close()


async def test_a_speed_hack_is_refused_and_logged(zone_cluster: Cluster) -> None:
    cheat = await player(zone_cluster, "cheater", "Cheater")
    try:
        start = cheat.me()
        assert start is not None
        for claims in (1, 2):
            cheat.claim_position(start.x + 150.0, start.y + 150.0)
            await cheat.wait_for(lambda s, n=claims: s.corrections == n)
        assert cheat.state.corrected == pytest.approx((start.x, start.y), abs=0.1)
        await next_tick(cheat)
        me = cheat.me()
        assert me is not None and (me.x, me.y) == (start.x, start.y)
        await asyncio.to_thread(zone_cluster.up.wait_for_line, "'Cheater' claimed", 10)
    finally:
        await cheat.close()


async def test_an_npc_kills_a_player_who_respawns_in_the_spawn_area(zone_cluster: Cluster) -> None:
    victim = await player(zone_cluster, "victim", "Victim")
    try:
        assert victim.entered is not None
        me_id = victim.entered.entity_id
        await walk_to(victim, 25.0, 66.0, within=1.0)  # 9 units from the Brute: it notices
        await victim.wait_for(lambda s: s.seen[me_id].dead, timeout=15)
        brute = named(victim, "Brute")
        assert brute is not None
        assert any(line.kind == "death" and line.target == me_id and line.source == brute
                   for line in victim.state.combat)
        assert victim.state.seen[me_id].hp == 0
        await victim.wait_for(lambda s: s.respawns == 1, timeout=10)
        await victim.wait_for(lambda s: not s.seen[me_id].dead and s.seen[me_id].hp == 100)
        me = victim.me()
        assert me is not None and in_spawn_area(me.x, me.y)
    finally:
        await victim.close()


async def test_loot_reaches_the_character_and_survives_a_relog(zone_cluster: Cluster) -> None:
    hunter = await player(zone_cluster, "hunter", "Hunter")
    try:
        await walk_to(hunter, 48.5, 20.0, within=0.5)
        dummy = named(hunter, "Training Dummy")
        assert dummy is not None
        hunter.attack(dummy)
        await hunter.wait_for(lambda s: s.progress.gold == 7)
        assert hunter.state.progress.items == {"token": 2}
        assert "loot: 7 gold, 2 x token" in hunter.state.notices
        await hunter.wait_for(lambda s: s.progress.level == 2 and s.progress.xp == 20)
    finally:
        await hunter.close()  # logs out: saved

    again = GameClient("127.0.0.1", zone_cluster.master_port)
    try:
        await again.login("hunter", PASSWORD)
        await again.enter_world("Atlantis")
        back = await again.enter_game("Hunter")
        assert (back.gold, back.items, back.xp, back.level) == (7, [("token", 2)], 20, 2)
        assert back.max_hp == 110 and not in_spawn_area(back.x, back.y)  # where it stood
    finally:
        await again.close()


async def test_a_portal_moves_the_character_to_a_zone_of_the_same_world_server(
        zone_cluster: Cluster) -> None:
    traveller = await player(zone_cluster, "traveller", "Traveller")
    try:
        assert traveller.entered is not None and traveller.entered.zone == "arena"
        await walk_to(traveller, 3.0, 45.0, within=1.5)  # the west door
        await traveller.wait_for(lambda s: s.portal is not None)
        assert traveller.state.portal is not None and traveller.state.portal.moved
        await traveller.wait_for(
            lambda s: traveller.entered is not None and traveller.entered.zone == "field")
        assert (traveller.entered.x, traveller.entered.y) == (50.0, 50.0)
        await traveller.wait_for(lambda s: traveller.me() is not None)
        characters = {c.name: c for c in await traveller.characters()}
        assert characters["Traveller"].zone == "field"
    finally:
        await traveller.close()
