"""Fire-and-forget tasks that are kept alive until done and whose failures are logged, not lost."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

from shardkit.runtime.peerlog import quoted_traceback

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
    exc = None if task.cancelled() else task.exception()
    if exc is not None:  # its text may carry what a peer sent: quoted
        log.error("background task failed\n%s", quoted_traceback(exc))
