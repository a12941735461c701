"""The character server's Prometheus metrics: saves by result, save latency, commit batch sizes."""

from __future__ import annotations

from shardkit.runtime.metrics import ProcessMetrics

__all__ = ["BATCH_SIZE_BUCKETS", "SAVE_RESULTS", "CharacterMetrics"]

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
