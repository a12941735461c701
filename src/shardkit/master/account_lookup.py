"""Accounts by name for logins: every lookup asks the database, concurrent ones in one query."""

from __future__ import annotations

import asyncio
import logging

from shardkit.store.accounts import AccountRecord, AccountStore
from shardkit.store.database import name_key

__all__ = ["AccountLookup"]

log = logging.getLogger("shardkit.master")

MAX_NAME_CHARS = 64
"""No account name is longer (the column's size), so a longer one is not looked up at all."""


class AccountLookup:
    """Looks up the account ``login_start`` names, the same way whether it exists or not.

    Every lookup reads the database, so how long ``login_start`` takes says nothing about which
    names are accounts (a cache of known accounts answered them from memory and unknown names
    from the database, five times slower). Lookups that arrive while a query runs wait for the
    next one and share it, so under load the database sees one query per batch; when idle
    there is no added wait. Names longer than any account name can be are answered at once:
    the name rules are public, so that tells nobody anything.
    """

    def __init__(self, store: AccountStore, max_batch: int = 500) -> None:
        if max_batch < 1:
            raise ValueError(f"AccountLookup: max_batch must be >= 1, got {max_batch}")
        self._store = store
        self._max_batch = max_batch
        self._pending: list[tuple[str, asyncio.Future[AccountRecord | None]]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._reader(), name="account lookups")

    async def get_by_name(self, name: str) -> AccountRecord | None:
        """The account called ``name`` (case-insensitively), or None; raises if the query failed."""
        if len(name) > MAX_NAME_CHARS:
            return None
        if self._closing:
            raise RuntimeError("account lookups are closed")
        future: asyncio.Future[AccountRecord | None] = asyncio.get_running_loop().create_future()
        self._pending.append((name, future))
        self._wake.set()
        return await future

    async def _reader(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                await self._answer(batch)
            if self._closing:
                return

    async def _answer(self, batch: list[tuple[str, asyncio.Future[AccountRecord | None]]]) -> None:
        try:
            found = await self._store.get_many_by_name([name for name, _ in batch])
        except Exception as exc:
            log.exception("could not look up %d account names", len(batch))
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for name, future in batch:
            if not future.done():
                future.set_result(found.get(name_key(name)))

    async def close(self) -> None:
        """Answer what is queued, then stop."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
