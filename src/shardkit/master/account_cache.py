"""Accounts by name, cached in memory for the login path (bounded, expiring, dropped on every change)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from shardkit.store.accounts import AccountRecord, AccountStore
from shardkit.store.database import name_key

__all__ = ["AccountCache"]


class AccountCache:
    """Read-through cache in front of ``AccountStore.get_by_name``.

    The master is the only writer of accounts and calls :meth:`forget` on every change it
    makes; ``ttl_s`` bounds how stale an entry can get if someone edits the database by hand.
    Unknown names are not cached, so random names cannot push real accounts out.
    """

    def __init__(self, store: AccountStore, max_entries: int = 50_000, ttl_s: float = 300.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._store = store
        self._max = max_entries
        self._ttl = ttl_s
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, AccountRecord]] = OrderedDict()
        self._changes = 0  # bumped by forget: a read that raced a change is not cached

    async def get_by_name(self, name: str) -> AccountRecord | None:
        key = name_key(name)
        cached = self._entries.get(key)
        now = self._clock()
        if cached is not None and now - cached[0] < self._ttl:
            self._entries.move_to_end(key)
            return cached[1]
        changes = self._changes
        record = await self._store.get_by_name(name)
        if record is None:
            self._entries.pop(key, None)
        elif changes == self._changes:
            self.put(record, now)
        return record

    def put(self, record: AccountRecord, now: float | None = None) -> None:
        key = name_key(record.name)
        self._entries[key] = (self._clock() if now is None else now, record)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def forget(self, name: str) -> None:
        self._changes += 1
        self._entries.pop(name_key(name), None)

    def forget_id(self, account_id: int) -> None:
        self._changes += 1
        for key, (_, record) in list(self._entries.items()):
            if record.id == account_id:
                del self._entries[key]
