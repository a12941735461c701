"""The login history is written behind the answer: bounded, in order, and flushed on close."""

from __future__ import annotations

import asyncio

import pytest

from shardkit.master.login_log import LoginLog
from shardkit.store.accounts import LoginRecord


class GatedStore:
    """A store whose commits wait for ``gate``; it keeps what each commit wrote."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.batches: list[list[str]] = []
        self.fail_next = False

    async def record_logins(self, records: list[LoginRecord]) -> None:
        await self.gate.wait()
        if self.fail_next:
            self.fail_next = False
            raise OSError("disk full")
        self.batches.append([r.ip for r in records])


async def test_a_login_does_not_wait_for_the_disk_and_rows_commit_in_order() -> None:
    store = GatedStore()
    history = LoginLog(store, max_batch=3)  # type: ignore[arg-type]
    history.start()
    for i in range(7):  # the database is stuck: every record still returns at once
        await asyncio.wait_for(history.record(i, f"10.0.0.{i}", True), 1)
    assert history.waiting == 7 and store.batches == []
    store.gate.set()
    await history.close()
    assert [ip for batch in store.batches for ip in batch] == [f"10.0.0.{i}" for i in range(7)]
    assert max(map(len, store.batches)) <= 3 and history.waiting == 0


async def test_past_its_bound_a_login_waits_for_its_own_commit() -> None:
    store = GatedStore()
    history = LoginLog(store, max_batch=2, max_waiting=4)  # type: ignore[arg-type]
    history.start()
    for i in range(4):
        await history.record(i, "10.0.0.1", False)
    fifth = asyncio.create_task(history.record(5, "10.0.0.5", False))
    for _ in range(20):  # let everything runnable run: the fifth stays blocked
        await asyncio.sleep(0)
    assert not fifth.done()  # five waiting rows: over the bound of four
    store.gate.set()
    await asyncio.wait_for(fifth, 1)
    assert history.waiting <= 4
    await history.close()
    assert sum(map(len, store.batches)) == 5


async def test_a_failed_commit_is_logged_and_counted_and_later_rows_still_commit(
        caplog: pytest.LogCaptureFixture) -> None:
    store = GatedStore()
    store.fail_next = True
    history = LoginLog(store, max_batch=2)  # type: ignore[arg-type]
    history.start()
    await history.record(1, "10.0.0.1", True)
    await history.record(2, "10.0.0.2", True)
    store.gate.set()
    for _ in range(100):  # until the first batch's commit has failed (each turn lets it run)
        if history.waiting == 0:
            break
        await asyncio.sleep(0)
    assert history.waiting == 0 and history.failed_rows == 2
    await history.record(3, "10.0.0.3", True)
    await history.close()
    assert history.failed_rows == 2
    assert "could not write" in caplog.text and "lost so far" in caplog.text
    assert ["10.0.0.3"] in store.batches


async def test_after_close_nothing_more_is_recorded() -> None:
    store = GatedStore()
    store.gate.set()
    history = LoginLog(store)  # type: ignore[arg-type]
    history.start()
    await history.close()
    with pytest.raises(RuntimeError):
        await history.record(1, "10.0.0.1", True)


def test_bounds_are_checked() -> None:
    with pytest.raises(ValueError):
        LoginLog(GatedStore(), max_waiting=0)  # type: ignore[arg-type]
