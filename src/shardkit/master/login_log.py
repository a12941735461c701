"""Login history with group commit: a caller is answered once the commit holding its row is done."""

from __future__ import annotations

import asyncio
import logging

from shardkit.store.accounts import AccountStore, LoginRecord
from shardkit.store.database import utcnow

__all__ = ["LoginLog"]

log = logging.getLogger("shardkit.master")


class LoginLog:
    """Appends login attempts; concurrent callers share one transaction (one fsync per batch).

    While one batch commits, the next fills up, so there is no added delay when idle and few
    transactions under load.
    """

    def __init__(self, store: AccountStore, max_batch: int = 500) -> None:
        self._store = store
        self._max_batch = max_batch
        self._pending: list[tuple[LoginRecord, asyncio.Future[None]]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._writer(), name="login history writer")

    async def record(self, account_id: int | None, ip: str, success: bool) -> None:
        """Append one attempt; returns once it is committed (raises if the commit failed)."""
        if self._closing:
            raise RuntimeError("login history is closed")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((LoginRecord(account_id, ip, success, utcnow()), future))
        self._wake.set()
        await future

    async def _writer(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                await self._commit(batch)
            if self._closing:
                return

    async def _commit(self, batch: list[tuple[LoginRecord, asyncio.Future[None]]]) -> None:
        try:
            await self._store.record_logins([record for record, _ in batch])
        except Exception as exc:
            log.exception("could not write %d login records", len(batch))
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for _, future in batch:
            if not future.done():
                future.set_result(None)

    async def close(self) -> None:
        """Commit what is queued, then stop."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
