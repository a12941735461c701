"""Login history, written behind the answer: group commits off the login's path, bounded."""

from __future__ import annotations

import asyncio
import logging

from shardkit.store.accounts import AccountStore, LoginRecord
from shardkit.store.database import utcnow

__all__ = ["LoginLog"]

log = logging.getLogger("shardkit.master")


class LoginLog:
    """Appends login attempts in group commits that the login does not wait for.

    Guarantees:

    - ``record`` returns at once while fewer than ``max_waiting`` rows wait to be committed,
      so a login's answer never waits for a disk write, however busy the database is. Past
      that bound (the database is slower than the attempts come: a flood), ``record`` waits
      until the row it added is committed, so memory stays bounded and a flood is slowed by
      the database rather than buffered.
    - Rows are committed in the order they were recorded, up to ``max_batch`` per
      transaction; while one batch commits the next fills up, so an idle master commits at
      once and a busy one commits few, large transactions.
    - A commit that fails is logged (one line per batch, with how many rows it held) and the
      rows are dropped: the history is an audit record, and a database fault must not turn
      into refused logins. ``failed_rows`` counts them.
    - ``close`` commits everything recorded before it. What a crash loses is what was
      recorded and not yet committed: at most the batch under way and the rows behind it,
      typically the last few milliseconds of attempts.
    """

    def __init__(self, store: AccountStore, max_batch: int = 500,
                 max_waiting: int = 10_000) -> None:
        if max_batch < 1 or max_waiting < 1:
            raise ValueError(f"LoginLog: max_batch {max_batch} and max_waiting {max_waiting}"
                             " must be >= 1")
        self._store = store
        self._max_batch = max_batch
        self._max_waiting = max_waiting
        self._pending: list[LoginRecord] = []
        self._committed = 0  # rows handed to the store so far (committed or failed)
        self._recorded = 0  # rows recorded so far
        self._progress = asyncio.Event()  # set after each batch
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.failed_rows = 0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._writer(), name="login history writer")

    @property
    def waiting(self) -> int:
        """Rows recorded and not yet committed."""
        return self._recorded - self._committed

    async def record(self, account_id: int | None, ip: str, success: bool) -> None:
        """Append one attempt; waits for its commit only while the backlog is over its bound."""
        if self._closing:
            raise RuntimeError("login history is closed")
        self._pending.append(LoginRecord(account_id, ip, success, utcnow()))
        self._recorded += 1
        mine = self._recorded
        self._wake.set()
        while self._recorded - self._committed > self._max_waiting and self._committed < mine:
            self._progress.clear()
            await self._progress.wait()

    async def _writer(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                await self._commit(batch)
                self._committed += len(batch)
                self._progress.set()
            if self._closing:
                return

    async def _commit(self, batch: list[LoginRecord]) -> None:
        try:
            await self._store.record_logins(batch)
        except Exception:
            self.failed_rows += len(batch)
            log.exception("could not write %d login records (%d lost so far)", len(batch),
                          self.failed_rows)

    async def close(self) -> None:
        """Commit what is queued, then stop."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
