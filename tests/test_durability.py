"""No save the character server acknowledged is ever lost, whatever gets SIGKILLed and when.

Round 1 plays a WorldServer against real master, GM, character server and daemon processes,
saving characters as fast as it can while the character server is SIGKILLed at random
moments and restarted. Round 2 runs a whole cluster with players walking about while their
zone and WorldServer processes are SIGKILLed. Afterwards every acknowledged save must be in
the database: the stored version is at least the acknowledged one, and equal versions carry
equal state.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh
import msgspec
import pytest
from sqlalchemy import text

from shardkit.characters.schemas import CharacterState, SaveResult
from shardkit.client.session import GameClient
from shardkit.store.characters import CharacterStore
from shardkit.store.database import Database
from shardkit.store.testing import PostgresUnavailable, fresh_database_url
from shardkit.testing.character_rig import CharacterRig
from shardkit.wire.rpc import RpcError

BACKENDS = ["sqlite", "postgresql"]
CHARACTERS = 40
KILLS = 4
PASSWORD = "walk walk walk"


class Progress:
    """A count of acknowledged saves that a test can wait on, instead of sleeping."""

    def __init__(self) -> None:
        self.count = 0
        self._grew = asyncio.Event()

    def add(self) -> None:
        self.count += 1
        self._grew.set()

    async def reach(self, target: int, timeout: float) -> None:
        async with asyncio.timeout(timeout):
            while self.count < target:
                self._grew.clear()
                await self._grew.wait()


@dataclass
class Ledger:
    """What the character server acknowledged: character id -> [(version, gold)] in order."""

    acked: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    refused: int = 0
    failed: int = 0
    progress: Progress = field(default_factory=Progress)

    def record(self, state: CharacterState, result: SaveResult) -> None:
        self.acked.setdefault(state.id, []).append((result.version, state.gold))
        self.progress.add()

    @property
    def total(self) -> int:
        return sum(len(v) for v in self.acked.values())


async def database_url(backend: str, tmp_path: Path) -> tuple[str, object]:
    try:
        return await fresh_database_url(backend, tmp_path)
    except PostgresUnavailable as exc:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"PostgreSQL unavailable: {exc}")


async def check_ledger(
    url: str, world: str, ledger: Ledger, names: dict[int, tuple[int, str]]
) -> None:
    db = await Database.open(url, schema="characters")
    try:
        store = CharacterStore(db)
        for character_id, acks in ledger.acked.items():
            account_id, name = names[character_id]
            stored = await store.load(account_id, world, name)
            assert stored is not None, f"character {name} vanished"
            versions = [v for v, _ in acks]
            assert versions == sorted(versions), f"{name}: acknowledged versions went backwards"
            last_version, last_gold = acks[-1]
            assert stored.version >= last_version, (
                f"{name}: database has version {stored.version},"
                f" but {last_version} was acknowledged"
            )
            if stored.version == last_version:
                assert stored.gold == last_gold, f"{name}: acknowledged state differs from stored"
    finally:
        await db.close()


class SavingBots:
    """One bot per character, saving changes through the rig as fast as answers come back."""

    def __init__(self, rig: CharacterRig, ledger: Ledger) -> None:
        self.rig = rig
        self.ledger = ledger
        self.stop = asyncio.Event()

    async def bot(self, state: CharacterState) -> None:
        while not self.stop.is_set():
            attempt = msgspec.structs.replace(state, gold=state.gold + 1, x=(state.x + 1) % 1000)
            try:
                result = await self.rig.save(attempt)
            except RpcError:
                # the character server died mid-save: the outcome is unknown until we reload
                self.ledger.failed += 1
                state = await self.reload(state)
                continue
            if result.ok:
                state = msgspec.structs.replace(attempt, version=result.version)
                self.ledger.record(state, result)
            else:
                self.ledger.refused += 1
                state = await self.reload(state)

    async def reload(self, state: CharacterState) -> CharacterState:
        for _ in range(200):
            if self.stop.is_set():
                return state
            try:
                return await self.rig.load(state)
            except RpcError:
                await asyncio.sleep(0.05)  # bounded retry pacing while the server restarts
        raise AssertionError("the character server never came back")


@pytest.mark.parametrize("backend", BACKENDS)
async def test_character_server_sigkill_loses_no_acknowledged_save(
    backend: str, tmp_path: Path
) -> None:
    url, drop = await database_url(backend, tmp_path)
    rig = CharacterRig(tmp_path / "rig", url)
    try:
        await rig.start()
        states = await rig.create_characters(CHARACTERS, prefix="Dura")
        names = {s.id: (s.account_id, s.name) for s in states}
        ledger = Ledger()
        bots = SavingBots(rig, ledger)
        tasks = [asyncio.create_task(bots.bot(s)) for s in states]
        rng = random.Random(1234)
        for _ in range(KILLS):
            await asyncio.sleep(rng.uniform(0.3, 1.2))  # a random moment, mid-traffic
            await rig.kill_and_restart_character_server()
        await ledger.progress.reach(ledger.progress.count + 200, timeout=30)  # the last server too
        bots.stop.set()
        await asyncio.gather(*tasks)
        await rig.stop()

        assert ledger.total > 200, f"only {ledger.total} acknowledged saves: the test proves little"
        print(f"{backend}: {ledger.total} acknowledged saves, {ledger.failed} in flight at a kill, "
              f"{ledger.refused} stale after a kill, {KILLS} SIGKILLs")
        await check_ledger(url, "Atlantis", ledger, names)
    finally:
        await rig.stop()
        await drop()


# --------------------------------------------------------------------------- round 2

async def stored_character(db: Database, name: str) -> CharacterState:
    """A character as stored, found by its name (unique in its world)."""
    async with db.session() as session:
        account_id = (await session.execute(
            text("SELECT account_id FROM characters WHERE name = :name"), {"name": name}
        )).scalar_one()
    stored = await CharacterStore(db).load(account_id, "Atlantis", name)
    assert stored is not None
    return msgspec.convert(msgspec.structs.asdict(stored), CharacterState)


async def world_status(port: int, password: str) -> str:
    async with asyncssh.connect("127.0.0.1", port, username="admin", password=password,
                                known_hosts=None, client_keys=None) as ssh:
        return str((await ssh.run("status", check=True, timeout=10)).stdout)


@dataclass
class Walker:
    """A player who walks about and remembers every save the zone told it was acknowledged."""

    name: str
    character: str
    progress: Progress
    saved: list[tuple[int, float, float]] = field(default_factory=list)

    async def play(self, master_port: int, stop: asyncio.Event) -> None:
        rng = random.Random(self.name)
        for _ in range(300):  # each round is a fresh login after something died under us
            if stop.is_set():
                return
            client = GameClient("127.0.0.1", master_port)
            try:
                await client.login(self.name, PASSWORD)
                await client.enter_world("Atlantis")
                await client.enter_game(self.character)
                while (
                    not stop.is_set()
                    and client.zone is not None
                    and not client.zone.closed.is_set()
                ):
                    client.move(rng.uniform(-1, 1), rng.uniform(-1, 1))
                    before = client.state.saved
                    await client.wait_for(
                        lambda s, before=before: (
                            s.saved is not before or s.zone_lost or stop.is_set()
                        ),
                        timeout=5,
                    )
                    if client.state.saved is not before and client.state.saved is not None:
                        saved = client.state.saved
                        self.saved.append((saved.version, saved.x, saved.y))
                        self.progress.add()
                    if client.state.zone_lost:
                        break
            except (RpcError, OSError, TimeoutError):
                # a process died under us, or the world is still coming back: retry like a player
                await asyncio.sleep(0.2)
            finally:
                for conn in (client.zone, client.world, client.master):
                    if conn is not None:
                        conn.close("walker done")


@pytest.mark.parametrize("backend", BACKENDS)
async def test_zone_and_world_sigkill_lose_no_acknowledged_save(
    backend: str, tmp_path: Path
) -> None:
    from conftest import start_cluster  # the cluster fixture's machinery, with a fast save interval

    try:
        cluster = await asyncio.to_thread(
            start_cluster, tmp_path, backend, zones=("town",), save_interval_s=0.3
        )
    except PostgresUnavailable as exc:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"PostgreSQL unavailable: {exc}")
    try:
        progress = Progress()
        walkers = [Walker(f"walker{i}", f"Walker{'abcdefgh'[i]}", progress) for i in range(6)]
        for walker in walkers:
            client = GameClient("127.0.0.1", cluster.master_port)
            await client.register(walker.name, PASSWORD)
            await client.login(walker.name, PASSWORD)
            await client.enter_world("Atlantis")
            await client.create_character(walker.character)
            await client.close()
        stop = asyncio.Event()
        tasks = [asyncio.create_task(w.play(cluster.master_port, stop)) for w in walkers]
        password = cluster.settings.secrets.world_console_password
        rng = random.Random(99)
        for round_ in range(4):
            await asyncio.sleep(rng.uniform(0.8, 1.6))  # a random moment, mid-traffic
            ssh_port = cluster.announced_port("world Atlantis/0 console (ssh)")
            status = await world_status(ssh_port, password)
            if round_ % 2 == 0:
                pid = int(re.search(r"zone town: up, .* pid (\d+)", status).group(1))
                marker = "zone town listening"
            else:
                pid = int(re.search(r"world server Atlantis/0 \(pid (\d+)\)", status).group(1))
                marker = "world Atlantis/0 ready"
            seen = len(cluster.up.lines)
            os.kill(pid, signal.SIGKILL)
            await asyncio.to_thread(cluster.up.wait_for_line, marker, 60, seen)
        # every walker is back in the restarted processes, saving
        await progress.reach(progress.count + 2 * len(walkers), timeout=60)
        stop.set()
        await asyncio.gather(*tasks)
        saves = sum(len(w.saved) for w in walkers)
        assert saves > 20, f"only {saves} acknowledged saves: the test proves little"
        url = cluster.database_url("characters")
        assert await asyncio.to_thread(cluster.up.stop) == 0  # databases stay until the finally
        db = await Database.open(url, schema="characters")
        try:
            for walker in walkers:
                if not walker.saved:
                    continue
                stored = await stored_character(db, walker.character)
                last_version = max(v for v, _, _ in walker.saved)
                assert stored.version >= last_version, (
                    f"{walker.character}: stored version {stored.version}"
                    f" < acknowledged {last_version}"
                )
            print(f"{backend}: {saves} acknowledged saves across 2 zone and 2 world SIGKILLs")
        finally:
            await db.close()
    finally:
        await asyncio.to_thread(cluster.stop)
