"""A supervised process stops at once, within a short bound, when its supervisor or the root of
its process tree dies (even by SIGKILL), instead of waiting out its links' timeouts.

Every process a shardkit supervisor starts learns two pids from its environment: its
supervisor's (``SHARDKIT_PARENT_PID``) and the root of its tree's (``SHARDKIT_ROOT_PID``: the
``shardkit up``, daemon or imp that started the first of the line, passed on unchanged to
grandchildren). It watches both with a pidfd, which is readable the moment the process has
exited, so a WorldServer and its zones hear of a SIGKILLed ``shardkit up`` at the same instant
as the daemon does, and every process of the tree stops in parallel: each runs its normal
graceful stop (zones save their players, the character server commits what it acknowledged)
and, if that has not finished ``ORPHAN_GRACE_S`` later, exits anyway. Without pidfds (not
Linux) the pids are polled every ``POLL_S``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Callable

PARENT_PID_ENV = "SHARDKIT_PARENT_PID"  # set by a supervising shardkit process for its children
ROOT_PID_ENV = "SHARDKIT_ROOT_PID"  # the first shardkit supervisor of this process tree
ORPHAN_GRACE_S = 1.0
"""How long an orphaned process may take to stop gracefully before it exits regardless."""
POLL_S = 0.2
ORPHAN_EXIT_CODE = 75  # EX_TEMPFAIL: stopped because its supervisor went away

_orphaned = False


def orphaned() -> bool:
    """Whether this process is stopping because its supervisor or its tree's root died (then
    every process of the tree is stopping at the same moment)."""
    return _orphaned

log = logging.getLogger("shardkit.runtime")


def supervisor_env() -> dict[str, str]:
    """What a supervisor puts in its child's environment: itself as parent, the tree's root."""
    root = os.environ.get(ROOT_PID_ENV, "")
    return {PARENT_PID_ENV: str(os.getpid()),
            ROOT_PID_ENV: root if root.isdigit() else str(os.getpid())}


def watched_pids() -> tuple[int | None, list[int]]:
    """Our supervisor's pid (taken out of the environment) and every pid we watch."""
    parent_text = os.environ.pop(PARENT_PID_ENV, "")
    root_text = os.environ.get(ROOT_PID_ENV, "")  # stays: our own children inherit it
    parent = int(parent_text) if parent_text.isdigit() else None
    pids = [pid for pid in (parent, int(root_text) if root_text.isdigit() else None)
            if pid is not None and pid != os.getpid()]
    return parent, sorted(set(pids))


class ParentWatch:
    """Calls ``on_gone(pid)`` once, as soon as the first of ``pids`` has exited."""

    def __init__(self, pids: list[int], parent: int | None,
                 on_gone: Callable[[int], None]) -> None:
        self._loop = asyncio.get_running_loop()
        self._parent = parent
        self._on_gone = on_gone
        self._fds: dict[int, int] = {}
        self._fired = False
        self._poll: asyncio.Task[None] | None = None
        polled: list[int] = []
        for pid in pids:
            try:
                fd = os.pidfd_open(pid)
            except ProcessLookupError:
                self._fire(pid)
                return
            except (AttributeError, OSError):
                polled.append(pid)
                continue
            self._fds[pid] = fd
            self._loop.add_reader(fd, self._fire, pid)
        if parent is not None and os.getppid() != parent:  # it died before we watched it
            self._fire(parent)
            return
        if polled:
            self._poll = asyncio.create_task(self._poll_pids(polled), name="parent watch")

    async def _poll_pids(self, pids: list[int]) -> None:
        while not self._fired:
            for pid in pids:
                if not _alive(pid) or (pid == self._parent and os.getppid() != pid):
                    self._fire(pid)
                    return
            await asyncio.sleep(POLL_S)

    def _fire(self, pid: int) -> None:
        if self._fired:
            return
        self._fired = True
        self.close()
        self._loop.call_soon(self._on_gone, pid)

    def close(self) -> None:
        for fd in self._fds.values():
            self._loop.remove_reader(fd)
            os.close(fd)
        self._fds.clear()
        if self._poll is not None and self._poll is not asyncio.current_task():
            self._poll.cancel()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_when_orphaned(stop: asyncio.Event,
                       grace_s: float = ORPHAN_GRACE_S) -> ParentWatch | None:
    """Set ``stop`` the moment our supervisor or our tree's root exits; exit ``grace_s`` later
    if the graceful stop has not finished by then (call on the running loop)."""
    parent, pids = watched_pids()
    if not pids:
        return None
    loop = asyncio.get_running_loop()

    def gone(pid: int) -> None:
        global _orphaned
        _orphaned = True
        who = "supervisor" if pid == parent else "cluster's root process"
        log.warning("%s (pid %s) is gone; stopping (at most %.1f s)", who, pid, grace_s)
        stop.set()
        loop.call_later(grace_s, _exit_now, grace_s)

    return ParentWatch(pids, parent, gone)


def _exit_now(grace_s: float) -> None:
    log.error("did not stop within %.1f s of losing its supervisor; exiting now", grace_s)
    with contextlib.suppress(Exception):
        logging.shutdown()
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    os._exit(ORPHAN_EXIT_CODE)
