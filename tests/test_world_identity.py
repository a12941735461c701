"""Each world's links are its own: per-world keys, world tickets bound to one WorldServer and spent
once per world, and a cluster whose ``shardkit up`` dies stops within 2 s (real processes)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import msgspec
import pytest
from conftest import Cluster, start_cluster
from master_support import error_of
from process_tree import Proc, descendants, find, still_running, wait_until_gone
from world_support import second_server, write_imp_only_world

from shardkit.client.session import GameClient
from shardkit.config.settings import secrets_toml, write_private
from shardkit.master.schemas import WorldEntry
from shardkit.store.characters import CharacterStore
from shardkit.store.database import Database
from shardkit.testing.harness import start_shardkit
from shardkit.wire.handshake import authenticate_service
from shardkit.wire.rpc import RpcError, connect
from shardkit.wire.tickets import issue_ticket

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(120)]

WORLD = "Atlantis"
PASSWORD = "identity password"
SECOND_SERVER = second_server("meadow")


@pytest.fixture(scope="module")
def two_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    running = start_cluster(tmp_path_factory.mktemp("identity"), zones=("town",),
                            extra_clusters=SECOND_SERVER)
    running.up.wait_for_line(f"world {WORLD}/1 ready", timeout=60)
    yield running
    stopping = len(running.up.lines)
    code = running.stop()
    assert code == 0, "\n".join(running.up.lines[-40:])
    # a planned stop says so: no process of the cluster reports a crash or a restart
    alarms = [line for line in running.up.lines[stopping:]
              if any(word in line for word in ("WARNING", "ERROR", "restarting", "Traceback"))]
    assert not alarms, "\n".join(alarms)


async def handshake_error(port: int, *, role: str, name: str, secret: bytes,
                          peer_role: str) -> RpcError:
    conn = await connect("127.0.0.1", port)
    try:
        return await error_of(authenticate_service(conn, role=role, name=name, secret=secret,
                                                   peer_role=peer_role))
    finally:
        conn.close("test over")


async def test_a_daemon_holding_one_worlds_key_cannot_announce_another(
        two_servers: Cluster, tmp_path: Path) -> None:
    secrets = two_servers.settings.secrets
    master_port = two_servers.master_port
    # on the wire: world A's key, claiming to be world B, fails the handshake
    refused = await handshake_error(master_port, role="daemon", name="Lemuria",
                                    secret=secrets.world_key(WORLD), peer_role="master")
    assert refused.code == "auth_failed"
    assert "does not know our key for daemon 'Lemuria'" in refused.message
    # and with A's own key, the master takes announcements for A only
    conn = await connect("127.0.0.1", master_port)
    try:
        await authenticate_service(conn, role="daemon", name=WORLD, peer_role="master",
                                   secret=secrets.world_key(WORLD))
        forbidden = await error_of(conn.call("announce_world", "Lemuria", "127.0.0.1", 1,
                                             "127.0.0.1", 1, 10))
        assert forbidden.code == "forbidden"
    finally:
        conn.close("test over")

    # a real daemon of world B whose machine holds world A's key as B's: refused, clearly
    root = tmp_path / "lemuria"
    (root / "serverconfig" / "worlds").mkdir(parents=True)
    shutil.copy(two_servers.root / "serverconfig" / "server.toml", root / "serverconfig")
    write_imp_only_world(root)
    text = secrets_toml(secrets) + f'[world_keys]\nLemuria = "{secrets.world_key(WORLD).hex()}"\n'
    write_private(root / "serverconfig" / "secrets.toml", text)
    daemon = start_shardkit(root, "daemon", "--world", "Lemuria")
    try:
        daemon.wait_for_line("does not know our key for daemon 'Lemuria'", timeout=30)
        client = GameClient("127.0.0.1", master_port)
        try:
            await client.register("identitylist", PASSWORD)
            await client.login("identitylist", PASSWORD)
            assert client.master is not None
            names = [w["name"] for w in await client.master.call("worlds")]
            assert WORLD in names and "Lemuria" not in names, names
        finally:
            await client.close()
    finally:
        daemon.stop()


async def test_world_servers_and_imps_of_another_world_are_refused_by_the_daemon(
        two_servers: Cluster) -> None:
    secrets = two_servers.settings.secrets
    daemon = two_servers.settings.worlds[WORLD].daemon
    by_name = await handshake_error(daemon.world_port, role="world", name="Lemuria/0",
                                    secret=secrets.world_link_key("Lemuria"), peer_role="daemon")
    assert by_name.code == "auth_failed" and "'Lemuria/0'" in by_name.message
    by_key = await handshake_error(daemon.world_port, role="world", name=f"{WORLD}/5",
                                   secret=secrets.world_link_key("Lemuria"), peer_role="daemon")
    assert by_key.code == "auth_failed" and "does not know our key" in by_key.message
    imp = await handshake_error(daemon.imp_port, role="imp", name="elsewhere",
                                secret=secrets.world_link_key("Lemuria"), peer_role="daemon")
    assert imp.code == "auth_failed"
    # the world's own link key works (the refusals above are about the world, not the test)
    conn = await connect("127.0.0.1", daemon.imp_port)
    try:
        await authenticate_service(conn, role="imp", name="elsewhere", peer_role="daemon",
                                   secret=secrets.world_link_key(WORLD))
    finally:
        conn.close("test over")


async def login_code(port: int, ticket: bytes) -> str:
    """``ok``, or the error code of a ``ticket_login`` with ``ticket`` on a fresh connection."""
    conn = await connect("127.0.0.1", port)
    try:
        await conn.call("ticket_login", ticket)
        return "ok"
    except RpcError as exc:
        return exc.code
    finally:
        conn.close("test over")


async def master_ticket(cluster: Cluster, account: str, number: int | None) -> WorldEntry:
    client = GameClient("127.0.0.1", cluster.master_port)
    await client.register(account, PASSWORD)
    await client.login(account, PASSWORD)
    assert client.master is not None
    params = (WORLD,) if number is None else (WORLD, number)
    entry = msgspec.convert(await client.master.call("enter_world", *params), WorldEntry)
    await client.close()
    return entry


async def test_a_ticket_admits_to_its_world_server_once_across_the_world(
        two_servers: Cluster) -> None:
    ports = {n: two_servers.announced_port(f"world {WORLD}/{n}") for n in (0, 1)}
    entry = await master_ticket(two_servers, "identityone", None)  # the entry point: 0
    assert entry.cluster == 0 and entry.port == ports[0]
    assert await login_code(ports[1], entry.ticket) == "bad_ticket"  # names WorldServer 0
    assert await login_code(ports[0], entry.ticket) == "ok"
    assert await login_code(ports[0], entry.ticket) == "ticket_used"
    assert await login_code(ports[1], entry.ticket) == "bad_ticket"

    other = await master_ticket(two_servers, "identitytwo", 1)  # asked for WorldServer 1
    assert other.cluster == 1
    assert await login_code(ports[0], other.ticket) == "bad_ticket"
    assert await login_code(ports[1], other.ticket) == "ok"

    # spent once for the whole world: a WorldServer that restarts (no memory of its own)
    # still refuses a ticket spent on it before
    spare = issue_ticket(two_servers.settings.secrets.world_ticket_key(WORLD), kind="world",
                         account_id=999_001, account_name="Spare", destination=f"{WORLD}/0",
                         ttl_s=60.0)
    assert await login_code(ports[0], spare) == "ok"
    kill_world_server(two_servers, 0)
    port = two_servers.announced_port(f"world {WORLD}/0")
    assert await login_code(port, spare) == "ticket_used"
    assert await login_code(port, entry.ticket) == "ticket_used"


def kill_world_server(cluster: Cluster, number: int) -> float:
    """SIGKILL WorldServer ``number``; wait until its supervisor restarted it. Returns how long
    after the kill the supervisor logged the exit (by the time stamp of its log line)."""
    victim = find(descendants(cluster.up.process.pid), "world", "--cluster", str(number))
    seen = len(cluster.up.lines)
    killed_at = datetime.now()
    os.kill(victim.pid, signal.SIGKILL)
    index = cluster.up.wait_for_line(f"(pid {victim.pid}) was killed by SIGKILL", timeout=10,
                                     start=seen)
    line = cluster.up.lines[index]
    stamp = line[line.index("| ") + 2:][:23]  # "daemon-Atlantis | 2026-01-01 12:00:00,123 ..."
    logged_after = (datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f") - killed_at).total_seconds()
    cluster.up.wait_for_line(f"world {WORLD}/{number} ready", timeout=60, start=index)
    return logged_after


def test_a_sigkilled_world_server_is_logged_by_its_supervisor_within_a_second(
        two_servers: Cluster) -> None:
    # its zone outlives it for a moment: the supervisor waits for the process, not for output
    logged_after = kill_world_server(two_servers, 1)
    print(f"the daemon logged the SIGKILL of a WorldServer {logged_after:.3f} s after it")
    assert logged_after < 1.0, f"the daemon logged the exit {logged_after:.2f} s after the kill"


async def test_a_sigkilled_up_leaves_no_process_after_two_seconds_and_saves_its_players(
        tmp_path: Path) -> None:
    running = await asyncio.to_thread(start_cluster, tmp_path, zones=("town",))
    up = running.up
    tree: list[Proc] = []
    client = GameClient("127.0.0.1", running.master_port)
    try:
        await client.register("orphansave", PASSWORD)
        await client.login("orphansave", PASSWORD)
        await client.enter_world(WORLD)
        await client.create_character("Orphansave")
        await client.enter_game("Orphansave")
        await client.wait_for(lambda s: client.me() is not None, timeout=10)
        me = client.me()
        assert me is not None
        start_x = me.x
        client.move(1, 0)  # progress the periodic save (every 30 s) has not stored yet
        await client.wait_for(lambda s: (client.me() or me).x > start_x + 4, timeout=10)
        client.move(0, 0)
        tree = descendants(up.process.pid)  # the whole tree, captured before the kill
        for component in ("master", "characters", "daemon", "imp", "world", "zone"):
            assert any(component in p.argv for p in tree), (component, tree)
        up.process.kill()
        killed = time.monotonic()
        left = await asyncio.to_thread(wait_until_gone, tree, 2.0)
        took = time.monotonic() - killed
        assert not left, f"still running {took:.1f} s after the kill: {left}"
        print(f"{len(tree)} processes gone {took:.2f} s after `shardkit up` was SIGKILLed")
        # the zone saved its player on the way out, through world server, daemon and
        # character server, all of them stopping at the same moment
        db = await Database.open(running.database_url("characters"), schema="characters")
        try:
            assert client.account is not None
            stored = await CharacterStore(db).load(client.account.account_id, WORLD,
                                                   "Orphansave")
        finally:
            await db.close()
        assert stored is not None and stored.x > start_x + 4, (start_x, stored)
    finally:
        await client.close()
        for proc in still_running(tree):
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
        await asyncio.to_thread(up.process.wait, 10)
        await asyncio.to_thread(running.drop_databases)  # it runs its own event loop
