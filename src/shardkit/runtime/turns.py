"""One at a time per key: a check-then-act that awaits cannot interleave with another of its key."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager

__all__ = ["KeyedTurns"]


class KeyedTurns:
    """Per-key mutual exclusion for coroutines, holding memory only for keys in use.

    ``async with turns.turn(key):`` waits until no other holder of ``key`` is inside, then
    enters; holders of other keys never wait for each other. A waiter that is cancelled
    leaves the line without disturbing the holder.
    """

    def __init__(self) -> None:
        self._held: dict[Hashable, asyncio.Future[None]] = {}

    def busy(self, key: Hashable) -> bool:
        return key in self._held

    def __len__(self) -> int:
        return len(self._held)

    @asynccontextmanager
    async def turn(self, key: Hashable) -> AsyncIterator[None]:
        while (holder := self._held.get(key)) is not None:
            await asyncio.wait({holder})  # not `await holder`: our cancellation must not cancel it
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._held[key] = done
        try:
            yield
        finally:
            del self._held[key]
            done.set_result(None)
