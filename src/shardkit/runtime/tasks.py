"""Fire-and-forget tasks that are kept alive until done and whose failures are logged, not lost."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

log = logging.getLogger("shardkit.tasks")

_running: set[asyncio.Future[Any]] = set()


def background(awaitable: Awaitable[Any]) -> asyncio.Future[Any]:
    """Run ``awaitable`` without waiting for it; keeps a reference and logs an exception."""
    task = asyncio.ensure_future(awaitable)
    _running.add(task)
    task.add_done_callback(_finished)
    return task


def _finished(task: asyncio.Future[Any]) -> None:
    _running.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.error("background task failed", exc_info=task.exception())
