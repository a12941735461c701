"""Unit tests of the daemon's restart back-off and of where its WorldServers are placed."""

from __future__ import annotations

import asyncio

import pytest

from shardkit.config.settings import ClusterSpec, Supervision
from shardkit.daemon.clusters import ClusterRegistry
from shardkit.daemon.layout import ClusterSlot, ImpRecord, WorldLayoutBook, describe
from shardkit.daemon.restarts import RestartTracker
from shardkit.imp.schemas import ImpHello
from shardkit.wire.rpc import RpcConnection


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_quick_exits_double_the_wait_up_to_the_cap_and_mark_a_crash_loop() -> None:
    clock = Clock()
    tracker = RestartTracker(Supervision(backoff_s=0.5, backoff_max_s=3.0, stable_s=10.0,
                                         crash_loop_exits=3), clock)
    waits = []
    for _ in range(5):
        tracker.started()
        clock.now += 1.0  # a quick exit
        waits.append(tracker.exited("exited with code 2"))
        clock.now += waits[-1]
    assert waits == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert tracker.crash_loop and tracker.restarts == 4
    # a run that lasts stable_s clears it: the next crash waits the shortest again
    tracker.started()
    clock.now += 10.0
    assert tracker.exited("was killed by SIGKILL") == 0.5
    assert not tracker.crash_loop


def test_a_planned_stop_is_not_a_crash() -> None:
    clock = Clock()
    tracker = RestartTracker(Supervision(crash_loop_exits=2), clock)
    for _ in range(3):
        tracker.started()
        clock.now += 0.1
        assert tracker.exited("stopped as asked", planned=True) == 0.0
    assert not tracker.crash_loop and tracker.waiting_s() == 0.0


class FakeConn:
    """Just enough of an RpcConnection for the layout to call it linked."""

    def __init__(self) -> None:
        self.closed = asyncio.Event()


def imp(name: str, capacity: int) -> ImpRecord:
    return ImpRecord(name, ImpHello(name, f"10.0.0.{capacity}", capacity, [], []),
                     FakeConn())  # type: ignore[arg-type]


@pytest.mark.parametrize(("runs_on", "expected"), [
    ("local", "local"), ("imp:small", "imp:small"), ("imp:absent", ""), ("imp", "imp:big")])
def test_placement(runs_on: str, expected: str) -> None:
    book = WorldLayoutBook("Atlantis", [ClusterSpec(0, ["town"], runs_on)], Supervision(),
                           ClusterRegistry("Atlantis"))
    book.imps = {"small": imp("small", 1), "big": imp("big", 3)}
    assert book.place(book.slots[0]) == expected


def test_imp_placement_follows_reported_capacity() -> None:
    specs = [ClusterSpec(n, ["town"], "imp") for n in range(4)]
    book = WorldLayoutBook("Atlantis", specs, Supervision(), ClusterRegistry("Atlantis"))
    book.imps = {"a": imp("a", 2), "b": imp("b", 1)}
    hosts = [book.place(slot) for slot in book.slots.values()]
    assert sorted(hosts) == ["", "imp:a", "imp:a", "imp:b"]  # full: the last one waits
    unlinked: RpcConnection | None = None
    book.imps["c"] = ImpRecord("c", ImpHello("c", "10.0.0.9", 5, [], []), unlinked)
    assert book.place(book.slots[3]) == ""  # an imp that is not linked takes nothing
    status = book.status()
    assert [c.host for c in status.clusters] == hosts
    assert "imp a on a (10.0.0.2): linked, capacity 2, clusters [0, 2]" in describe(status)
    assert isinstance(book.slots[0], ClusterSlot)
