"""The zone's clock and writes: late ticks let the loop read; two threads' writes stay whole."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from zone_support import ZoneRig

from shardkit.zone import ticker
from shardkit.zone.ticker import Ticker

TICK_HZ = 20.0


class SlowTicker(Ticker):
    """A ticker whose every tick takes 1.5 periods of the event loop's time."""

    def __init__(self) -> None:
        engine: Any = SimpleNamespace(sim=SimpleNamespace(tick_hz=TICK_HZ))
        super().__init__(engine, roster=None, outcomes=None)  # type: ignore[arg-type]
        self.ticks = 0

    def tick(self) -> None:
        self.ticks += 1
        time.sleep(1.5 / TICK_HZ)


@pytest.mark.timeout(30)  # starved, this test's own loop never wakes again
async def test_ticks_slower_than_the_period_still_let_the_loop_read() -> None:
    slow = SlowTicker()
    turns = 0

    async def other_work() -> None:  # what reading players' input and the heartbeat need
        nonlocal turns
        while True:
            await asyncio.sleep(0)
            turns += 1

    task, other = asyncio.create_task(slow.run()), asyncio.create_task(other_work())
    try:
        deadline = time.monotonic() + 5
        while slow.ticks < 12 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    finally:
        task.cancel()
        other.cancel()
    assert slow.ticks >= 12
    assert turns >= slow.ticks - 2  # a turn between (nearly) every two ticks, never starved
    assert slow.late_ticks > 0  # and it skipped what it missed


async def test_writes_split_over_two_threads_keep_every_stream_whole(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ticker, "SPLIT_WRITES", 2)  # two players are enough to use the thread
    async with ZoneRig(tmp_path) as rig:
        ann, bob, cid = await rig.player("Ann"), await rig.player("Bob"), await rig.player("Cid")
        assert bob.entered is not None
        bob_id = bob.entered.entity_id
        await ann.wait_for(lambda s: bob_id in s.seen)
        start = ann.state.seen[bob_id].x
        bob.move(1.0, 0.0)
        bob.say("over two threads")  # a notification in the same write as a sync
        await ann.wait_for(lambda s: ("say", "Bob", "over two threads") in s.heard)
        syncs = ann.state.snapshots
        await ann.wait_for(lambda s: s.snapshots >= syncs + 10)
        bob.move(0.0, 0.0)
        assert ann.state.seen[bob_id].x > start  # decoded in order, tick after tick
        assert not ann.zone.closed.is_set() and not cid.zone.closed.is_set()  # type: ignore[union-attr]
        assert rig.server.ticker.writer._pool is not None  # the second thread did write
