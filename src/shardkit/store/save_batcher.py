"""Group commit of character saves: many savers wait, one writer task commits them in batches."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Final, Protocol

from shardkit.store.character_saves import PreparedSave, SaveResult, prepare_save
from shardkit.store.character_types import CharacterState

__all__ = ["SaveBatcher", "SaveCommitter"]

log = logging.getLogger(__name__)


class SaveCommitter(Protocol):
    """What the batcher writes through: :meth:`CharacterStore.save_prepared`."""

    async def save_prepared(self, batch: Sequence[PreparedSave]) -> list[SaveResult]:
        """Commit ``batch`` in one transaction; results (one per save) only after the commit."""
        ...


_STOP: Final = object()
_Pending = tuple[PreparedSave, asyncio.Future[SaveResult]]


class SaveBatcher:
    """Group commit: many coroutines ``await save(state)``; one writer task commits them in batches.

    Each caller's future resolves only after the transaction holding its save has committed; if the
    transaction fails, every caller in that batch gets the exception. The state is snapshotted when
    ``save`` is called, so the caller may keep mutating it while waiting. A state that does not fit
    the columns is refused (ValueError) in ``save`` itself and never joins a batch. A batch holds
    at most ``max_batch`` saves; the writer waits up to ``max_delay_s`` for a batch to fill.
    ``close`` commits everything already queued; a save still waiting when the writer stops for
    any other reason gets a RuntimeError, never a result.

    ``on_commit(batch_size, seconds, ok)``, if given, hears of every transaction (for metrics);
    it runs after the commit and before anyone is answered, and its failures are only logged.
    """

    def __init__(
        self, store: SaveCommitter, max_batch: int = 500, max_delay_s: float = 0.002,
        on_commit: Callable[[int, float, bool], None] | None = None,
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        if max_delay_s < 0:
            raise ValueError("max_delay_s must not be negative")
        self._store = store
        self.max_batch = max_batch
        self.max_delay_s = max_delay_s
        self._on_commit = on_commit
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def start(self) -> None:
        """Start the writer task (idempotent; ``save`` also starts it)."""
        if self._closing:
            raise RuntimeError("SaveBatcher is closed")
        if self._task is None:
            loop = asyncio.get_running_loop()
            self._task = loop.create_task(self._run(), name="shardkit-save-batcher")

    async def save(self, state: CharacterState) -> SaveResult:
        """Queue ``state`` and wait until its batch is committed."""
        if self._closing:
            raise RuntimeError("SaveBatcher is closed")
        if self._task is not None and self._task.done():
            raise RuntimeError("SaveBatcher writer task has stopped")
        prepared = prepare_save(state)
        self.start()
        future: asyncio.Future[SaveResult] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((prepared, future))
        return await future

    async def close(self) -> None:
        """Stop accepting saves, commit everything already queued, then stop the writer task."""
        if self._closing:
            if self._task is not None:
                await asyncio.shield(self._task)
            return
        self._closing = True
        if self._task is None:
            return
        self._queue.put_nowait(_STOP)
        await asyncio.shield(self._task)

    def _take(self, batch: list[Any]) -> bool:
        """Move queued items into ``batch`` (up to max_batch); True at the stop marker."""
        while len(batch) < self.max_batch:
            try:
                item = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                return False
            if item is _STOP:
                return True
            batch.append(item)
        return False

    async def _run(self) -> None:
        batch: list[_Pending] = []
        try:
            stopping = False
            while not stopping:
                first = await self._queue.get()
                if first is _STOP:
                    break
                batch = [first]
                stopping = self._take(batch)
                if not stopping and len(batch) < self.max_batch and self.max_delay_s > 0:
                    await asyncio.sleep(self.max_delay_s)
                    stopping = self._take(batch)
                # Nothing can follow the stop marker: save() refuses once close() has queued it.
                await self._commit(batch)
                batch = []
        finally:
            self._fail_pending(batch)

    async def _commit(self, batch: list[_Pending]) -> None:
        if not batch:
            return
        started = time.perf_counter()
        try:
            results = await self._store.save_prepared([prepared for prepared, _ in batch])
        except Exception as exc:
            self._committed(len(batch), started, ok=False)
            log.warning("save batch of %d failed: %r", len(batch), exc)
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        self._committed(len(batch), started, ok=True)
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)

    def _committed(self, size: int, started: float, *, ok: bool) -> None:
        if self._on_commit is not None:
            try:
                self._on_commit(size, time.perf_counter() - started, ok)
            except Exception:
                log.exception("on_commit failed")

    def _fail_pending(self, batch: list[_Pending]) -> None:
        """The writer is gone: nothing left in ``batch`` or the queue was committed."""
        error = RuntimeError("SaveBatcher stopped before this save was committed")
        pending = list(batch)
        with contextlib.suppress(asyncio.QueueEmpty):
            while True:
                item = self._queue.get_nowait()
                if item is not _STOP:
                    pending.append(item)
        for _, future in pending:
            if not future.done():
                future.set_exception(error)
