"""A master against players who probe it: name rules, account enumeration by timing, the queue."""

from __future__ import annotations

import asyncio
import secrets
import statistics
import time
from collections.abc import Iterator

import pytest
from master_support import (
    FakeDaemon,
    FakeWorld,
    MasterProcess,
    connect_from,
    error_of,
    register,
    start_master,
)

from shardkit.client.session import GameClient
from shardkit.wire.scram import ScramClientSession

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(120)]

PASSWORD = "correct horse"
TIMED_CALLS = 300  # login_start calls per kind of name


@pytest.fixture(scope="module")
def master(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MasterProcess]:
    running = start_master(tmp_path_factory.mktemp("hostile"), registrations_per_ip=1000)
    yield running
    assert running.stop() == 0, "\n".join(running.process.lines[-30:])


async def test_account_names_with_a_line_break_are_refused(master: MasterProcess) -> None:
    for name in ("admin\n", "root\n", "abcdefghijklmnopqrst\n", "alice\n", "alice\r\n",
                 "\nalice", "al\nice"):
        refused = await error_of(register(master.port, name, PASSWORD))
        assert refused.code == "bad_name", repr(name)
    made = await register(master.port, "abcdefghijklmnopqrst", PASSWORD)  # 20: the longest
    assert made["name"] == "abcdefghijklmnopqrst"


async def _login_start_ms(conn: object, name: str) -> float:
    scram = ScramClientSession(name, PASSWORD)
    started = time.perf_counter()
    await conn.call("login_start", name, scram.first())  # type: ignore[attr-defined]
    return (time.perf_counter() - started) * 1000


async def test_login_start_takes_as_long_for_an_unknown_name_as_for_an_account(
        master: MasterProcess) -> None:
    await register(master.port, "timed_player", PASSWORD)
    player = GameClient("127.0.0.1", master.port)
    await player.login("timed_player", PASSWORD)  # an account that is in use
    await player.close()
    conn = await connect_from("127.0.0.1", master.port)
    try:
        for _ in range(20):  # warm up both paths
            await _login_start_ms(conn, "timed_player")
            await _login_start_ms(conn, f"nobody_{secrets.token_hex(4)}")
        known: list[float] = []
        unknown: list[float] = []
        for _ in range(TIMED_CALLS):  # interleaved, so load on the machine hits both alike
            known.append(await _login_start_ms(conn, "timed_player"))
            unknown.append(await _login_start_ms(conn, f"nobody_{secrets.token_hex(4)}"))
    finally:
        conn.close()
    known_ms, unknown_ms = statistics.median(known), statistics.median(unknown)
    print(f"login_start median: account {known_ms:.3f} ms, unknown name {unknown_ms:.3f} ms")
    ratio = max(known_ms, unknown_ms) / min(known_ms, unknown_ms)
    assert ratio < 1.5, (known_ms, unknown_ms)


async def test_a_ticket_issued_before_the_first_heartbeat_frees_its_slot_when_used(
        master: MasterProcess) -> None:
    world = FakeWorld(master.settings.secrets.key("ticket_key"), "Firstbeat")
    world_port = await world.start()
    daemon = await FakeDaemon.announce(master, "Firstbeat", "127.0.0.1", world_port, capacity=1)
    first, second = GameClient("127.0.0.1", master.port), GameClient("127.0.0.1", master.port)
    waiting: asyncio.Task[object] | None = None
    try:
        for i, client in enumerate((first, second)):
            await register(master.port, f"beat{i}", PASSWORD)
            await client.login(f"beat{i}", PASSWORD)
        await first.enter_world("Firstbeat")  # no heartbeat yet: the ticket is issued at once
        await daemon.heartbeat(1)  # ... and used: the world reports its player
        waiting = asyncio.create_task(second.enter_world("Firstbeat"))
        await second.wait_for(lambda s: s.queue_position == 1)  # the world is full
        await daemon.heartbeat(0)  # the first player left: the slot is free at once
        await asyncio.wait_for(waiting, 5)  # not after the first ticket's 30 s lifetime
        assert world.logins == ["beat0", "beat1"]
    finally:
        if waiting is not None:
            waiting.cancel()
            await asyncio.gather(waiting, return_exceptions=True)
        await first.close()
        await second.close()
        daemon.close()
        await world.close()
