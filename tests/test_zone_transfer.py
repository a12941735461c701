"""Portals to a zone of another WorldServer, over real processes: gold and items stay exact.

One cluster for the module: the shipped content, WorldServer 0 running town and meadow,
WorldServer 1 running harbor. Town's "south pier" (480..520, 960..1000) leads to harbor at
(400, 60). Each test's character is placed just north of the pier with known gold and items
(written to the character database while it is not in play), steps in, and must end in
exactly one place with exactly that gold and those items: after a plain crossing, and when
the target or the source WorldServer is SIGKILLed between the transfer's save and the
target's admission. That moment is held open, not hoped for: the target is SIGSTOPped before
the step, so its admission waits, and the kill comes once the daemon logs that the save was
acknowledged and the target was asked.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
from collections.abc import Iterator
from pathlib import Path

import asyncssh
import msgspec
import pytest
from conftest import Cluster, start_cluster
from world_support import second_server

from shardkit.characters.schemas import CharacterState
from shardkit.client.session import GameClient
from shardkit.store.characters import CharacterStore
from shardkit.store.database import Database

pytestmark = [pytest.mark.cluster, pytest.mark.asyncio(loop_scope="module")]

PASSWORD = "transfer test password"
WORLD = "Atlantis"
SECOND_SERVER = second_server("harbor")
CONSOLE = """
[ssh]
host = "127.0.0.1"
allowed_ips = ["127.0.0.1/32"]
"""
NEAR_PIER = (500.0, 950.0)  # town: 10 units north of the pier, a second and a half of walking
HARBOR_ARRIVAL = (400.0, 60.0)


@pytest.fixture(scope="module")
def transfer_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    running = start_cluster(tmp_path_factory.mktemp("zone_transfer"),
                            extra_clusters=SECOND_SERVER, world_extra=CONSOLE)
    yield running
    code = running.stop()
    assert code == 0, "\n".join(running.up.lines[-40:])


# ----------------------------------------------------------------------- helpers
async def stored(cluster: Cluster, account_id: int, name: str,
                 **fields: object) -> CharacterState:
    """The character as stored; with ``fields``, first changed to them (not while in play)."""
    db = await Database.open(cluster.database_url("characters"), schema="characters")
    try:
        store = CharacterStore(db)
        state = await store.load(account_id, WORLD, name)
        assert state is not None
        if fields:
            [result] = await store.save_many([msgspec.structs.replace(state, **fields)])
            assert result.ok, result
            state = await store.load(account_id, WORLD, name)
            assert state is not None
        return state
    finally:
        await db.close()


async def logged_in(cluster: Cluster, account: str, *, register: bool) -> GameClient:
    client = GameClient("127.0.0.1", cluster.master_port)
    if register:
        await client.register(account, PASSWORD)
    await client.login(account, PASSWORD)
    await client.enter_world(WORLD)
    return client


async def at_the_pier(cluster: Cluster, account: str, character: str, gold: int,
                      items: list[list[object]]) -> tuple[GameClient, int]:
    """A new account whose character stands near the pier with ``gold`` and ``items``."""
    client = await logged_in(cluster, account, register=True)
    assert client.account is not None
    account_id = client.account.account_id
    await client.create_character(character)
    await stored(cluster, account_id, character, zone="town", x=NEAR_PIER[0], y=NEAR_PIER[1],
                 gold=gold, inventory=items)
    entered = await client.enter_game(character)
    assert entered.zone == "town" and (entered.x, entered.y) == NEAR_PIER
    assert entered.gold == gold and entered.items == [tuple(i) for i in items]
    await client.wait_for(lambda s: client.me() is not None)
    return client, account_id


async def pid_of(cluster: Cluster, number: int) -> int:
    """The pid of WorldServer ``number``, as its console's ``status`` says."""
    status = await console(cluster, number, "status")
    match = re.search(rf"world server {WORLD}/{number} \(pid (\d+)\)", status)
    assert match, status
    return int(match.group(1))


async def wait_line(cluster: Cluster, text: str, start: int, timeout: float = 30.0) -> int:
    """Wait for a line of ``shardkit up``'s output (warnings and announcements)."""
    return await asyncio.to_thread(cluster.up.wait_for_line, text, timeout, start)


def daemon_log(cluster: Cluster) -> Path:
    """The daemon's full log (info lines too; it carries its WorldServers' and zones' lines)."""
    return cluster.root / "data" / "logs" / f"daemon-{WORLD}.log"


async def wait_logged(cluster: Cluster, text: str, since: int, timeout: float = 30.0) -> None:
    """Wait until the daemon's log, from byte ``since`` on, has ``text`` (checked every 20 ms)."""
    path = daemon_log(cluster)
    for _ in range(int(timeout / 0.02)):
        with path.open("rb") as log:
            log.seek(since)
            if text.encode() in log.read():
                return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{text!r} was not logged in {timeout} s")


async def console(cluster: Cluster, cluster_number: int, command: str) -> str:
    port = cluster.announced_port(f"world {WORLD}/{cluster_number} console (ssh)")
    ssh = cluster.settings.worlds[WORLD].ssh
    async with asyncssh.connect(
            "127.0.0.1", port, username=ssh.username,
            password=cluster.settings.secrets.world_console_password, known_hosts=None,
            client_keys=None) as conn:
        result = await conn.run(command, check=True, timeout=10)
        return str(result.stdout)


async def in_harbor_only(cluster: Cluster, client: GameClient, account_id: int, name: str,
                         gold: int, items: list[list[object]]) -> None:
    """The character plays in harbor (WorldServer 1) with exactly ``gold`` and ``items``, is in
    no zone of WorldServer 0, and is stored in harbor with them."""
    assert client.entered is not None and client.entered.zone == "harbor"
    assert (client.entered.x, client.entered.y) == HARBOR_ARRIVAL
    assert client.entered.gold == gold and client.entered.items == [tuple(i) for i in items]
    await client.wait_for(lambda s: client.me() is not None)
    assert f"{name} in harbor" in await console(cluster, 1, "players")
    assert f"{name} in" not in await console(cluster, 0, "players")
    state = await stored(cluster, account_id, name)
    assert (state.zone, state.gold, state.inventory) == ("harbor", gold, items)
    assert await client.leave_game()  # its final save, in harbor, keeps them too
    state = await stored(cluster, account_id, name)
    assert (state.zone, state.gold, state.inventory) == ("harbor", gold, items)


# ------------------------------------------------------------------------- tests
async def test_a_portal_to_another_world_server_keeps_gold_and_items(
        transfer_cluster: Cluster) -> None:
    items: list[list[object]] = [["crab_shell", 3], ["rusty_sword", 1]]
    client, account_id = await at_the_pier(transfer_cluster, "ferryman", "Ferry", 1234, items)
    try:
        client.move(0.0, 1.0)  # south, into the pier
        await client.wait_for(lambda s: s.transfers == 1, timeout=15)
        assert client.state.transfer is not None and client.state.transfer.zone == "harbor"
        assert client.world is not None and client.state.progress.gold == 1234
        assert client.state.progress.items == {"crab_shell": 3, "rusty_sword": 1}
        await in_harbor_only(transfer_cluster, client, account_id, "Ferry", 1234, items)
    finally:
        await client.close()


async def test_target_killed_before_admitting_leaves_the_character_at_the_target(
        transfer_cluster: Cluster) -> None:
    cluster = transfer_cluster
    items: list[list[object]] = [["healing_herb", 5]]
    client, account_id = await at_the_pier(cluster, "sinker", "Sinka", 777, items)
    target = await pid_of(cluster, 1)
    mark, since = len(cluster.up.lines), daemon_log(cluster).stat().st_size
    os.kill(target, signal.SIGSTOP)  # its admission waits until we kill it
    try:
        client.move(0.0, 1.0)
        await wait_logged(cluster, "transfer of 'Sinka' saved at version", since)
        await wait_logged(cluster, "asking WorldServer 1 to admit it", since)
    finally:
        os.kill(target, signal.SIGKILL)
    try:
        await wait_logged(cluster, "'Sinka': WorldServer 1 did not admit it", since)
        # the source's fallback save (based on the version before the transfer) is refused
        await wait_logged(cluster, "'Sinka' is saved at the portal's target", since)
        await client.wait_for(lambda s: s.portal is not None and s.portal.moved, timeout=15)
        await wait_logged(cluster, f"cluster 1 of {WORLD} registered", since, timeout=60)
        await wait_line(cluster, f"world {WORLD}/1 ready", mark, timeout=60)
        # the client keeps trying to follow the portal, and gets in once WorldServer 1 is back
        await client.wait_for(
            lambda s: client.entered is not None and client.entered.zone == "harbor", timeout=60)
        await in_harbor_only(cluster, client, account_id, "Sinka", 777, items)
    finally:
        await client.close()
    again = await logged_in(cluster, "sinker", register=False)  # at WorldServer 0, the entry
    try:
        entered = await again.enter_game("Sinka")  # sent on to WorldServer 1's harbor
        assert entered.zone == "harbor"
        await in_harbor_only(cluster, again, account_id, "Sinka", 777, items)
    finally:
        await again.close()


async def test_source_killed_after_the_save_leaves_the_character_at_the_target(
        transfer_cluster: Cluster) -> None:
    cluster = transfer_cluster
    items: list[list[object]] = [["boar_tusk", 2], ["wolf_pelt", 7]]
    client, account_id = await at_the_pier(cluster, "runaway", "Runa", 4321, items)
    client.follower.enabled = False  # the world's side is tested: no coming back by itself
    target, source = await pid_of(cluster, 1), await pid_of(cluster, 0)
    mark, since = len(cluster.up.lines), daemon_log(cluster).stat().st_size
    os.kill(target, signal.SIGSTOP)  # hold the admission open while the source dies
    try:
        client.move(0.0, 1.0)
        await wait_logged(cluster, "transfer of 'Runa' saved at version", since)
        await wait_logged(cluster, "asking WorldServer 1 to admit it", since)
        os.kill(source, signal.SIGKILL)  # its zones go with it
    finally:
        os.kill(target, signal.SIGCONT)
    try:
        await wait_logged(cluster, "'Runa' admitted by WorldServer 1", since)  # to nobody
        await client.wait_for(lambda s: client.zone is None or client.zone.closed.is_set(),
                              timeout=15)
        await wait_logged(cluster, f"cluster 0 of {WORLD} registered", since, timeout=60)
        await wait_line(cluster, f"world {WORLD}/0 ready", mark, timeout=60)
    finally:
        await client.close()
    again = await logged_in(cluster, "runaway", register=False)
    try:
        entered = await again.enter_game("Runa")
        assert entered.zone == "harbor"
        await in_harbor_only(cluster, again, account_id, "Runa", 4321, items)
    finally:
        await again.close()
