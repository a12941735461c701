"""The character server's Prometheus metrics: saves by result, save latency, commit batch sizes."""

from __future__ import annotations

import time

from shardkit.runtime.metrics import ProcessMetrics
from shardkit.store.character_saves import SaveResult
from shardkit.store.character_types import CharacterState
from shardkit.store.save_batcher import SaveBatcher

__all__ = ["BATCH_SIZE_BUCKETS", "SAVE_RESULTS", "CharacterMetrics", "MeteredSaves"]

BATCH_SIZE_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500)
SAVE_RESULTS = ("ok", "stale", "not_found", "error")


class CharacterMetrics(ProcessMetrics):
    """What an operator watches on the one store of characters."""

    def __init__(self) -> None:
        super().__init__()
        self.saves = self.counter(
            "shardkit_characters_saves_total",
            "Saves answered, by result (ok; stale or not_found: refused; error: not committed).",
            ["result"])
        self.save_seconds = self.histogram(
            "shardkit_characters_save_seconds",
            "From a save request's arrival to its answer (after the commit).")
        self.batch_size = self.histogram(
            "shardkit_characters_save_batch_size", "Saves committed together in one transaction.",
            buckets=BATCH_SIZE_BUCKETS)
        self.commit_seconds = self.histogram(
            "shardkit_characters_commit_seconds", "How long one batch's transaction took.")
        self.commit_failures = self.counter(
            "shardkit_characters_commit_failures_total", "Batch transactions that failed.")
        for result in SAVE_RESULTS:
            self.saves.labels(result)

    def committed(self, size: int, seconds: float, ok: bool) -> None:
        """A SaveBatcher's ``on_commit``: one transaction of ``size`` saves took ``seconds``."""
        self.batch_size.observe(size)
        self.commit_seconds.observe(seconds)
        if not ok:
            self.commit_failures.inc()


class MeteredSaves:
    """A SaveBatcher seen by the metrics: each save's time to its answer and its result."""

    def __init__(self, batcher: SaveBatcher, metrics: CharacterMetrics) -> None:
        self.batcher = batcher
        self.metrics = metrics

    async def save(self, state: CharacterState) -> SaveResult:
        """``SaveBatcher.save``, counted: answered only after the commit, as that is."""
        started = time.perf_counter()
        try:
            result = await self.batcher.save(state)
        except Exception:
            self.metrics.saves.labels("error").inc()
            raise
        self.metrics.save_seconds.observe(time.perf_counter() - started)
        self.metrics.saves.labels("ok" if result.ok else result.reason or "refused").inc()
        return result
