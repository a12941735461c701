"""The zone's tick writes straight to sockets, on two threads: every stream stays whole."""

from __future__ import annotations

from pathlib import Path

import pytest
from zone_support import ZoneRig

from shardkit.zone import ticker


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
