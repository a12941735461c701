"""The zone's collector: no automatic collection while it runs, the due ones after a tick."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from shardkit.runtime.collector import BetweenTicks


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def gc_restored() -> Iterator[None]:
    enabled, thresholds = gc.isenabled(), gc.get_threshold()
    yield
    gc.set_threshold(*thresholds)
    (gc.enable if enabled else gc.disable)()


def make_cycles(n: int) -> None:
    for _ in range(n):
        a: list[object] = []
        a.append(a)


def test_automatic_collection_is_off_while_started_and_restored_after(gc_restored: None) -> None:
    gc.enable()
    collector = BetweenTicks(clock=Clock())
    collector.start()
    assert not gc.isenabled()
    gc.collect()
    before = gc.get_stats()[0]["collections"]
    make_cycles(5000)  # far past the youngest generation's threshold
    assert gc.get_stats()[0]["collections"] == before  # nothing ran by itself
    collector.stop()
    assert gc.isenabled()


def test_after_a_tick_the_due_generation_is_collected_as_cpython_would(gc_restored: None) -> None:
    clock = Clock()
    gc.set_threshold(100, 3, 10)
    told: list[int] = []
    collector = BetweenTicks(full_every_s=60.0, clock=clock, on_collect=told.append)
    collector.start()
    gc.collect()
    assert collector.after_tick() == -1  # nothing allocated: nothing due
    runs = []
    for _ in range(8):
        make_cycles(200)
        runs.append(collector.after_tick())
    assert runs.count(0) >= 4 and runs.count(1) >= 1 and 2 not in runs
    assert gc.get_count()[0] < 100  # the cycles were freed between ticks
    clock.now = 60.0
    assert collector.after_tick() == 2  # a full collection once a minute
    clock.now = 61.0
    last = collector.after_tick()
    assert last != 2
    # each collection is told, in order; the full one once
    assert told == [g for g in [*runs, 2, last] if g >= 0] and told.count(2) == 1
    collector.stop()


def test_a_full_collection_interval_must_be_positive() -> None:
    with pytest.raises(ValueError):
        BetweenTicks(full_every_s=0)
