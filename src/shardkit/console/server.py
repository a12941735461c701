"""The listening side both console transports share: shell, policy, port, live clients, close."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from shardkit.console.access import AccessPolicy
from shardkit.console.shell import ConsoleShell

__all__ = ["ConsoleServer", "Listener"]


class Listener(Protocol):
    """What a transport listens with (``asyncio.Server``, ``asyncssh.SSHAcceptor``)."""

    def close(self) -> None: ...

    async def wait_closed(self) -> None: ...


class ConsoleServer:
    """A listening console: its shell and access policy, its port, its live connections.

    A transport subclasses it, sets :attr:`listener` and :attr:`port` once it listens,
    registers each live connection with :meth:`_connected` (and :meth:`_disconnected`), and
    runs what :meth:`wait_closed` must wait for with :meth:`_run`.
    """

    def __init__(self, shell: ConsoleShell, policy: AccessPolicy) -> None:
        if not isinstance(shell, ConsoleShell):
            raise TypeError(f"ConsoleServer: shell must be a ConsoleShell, got {shell!r}")
        if not isinstance(policy, AccessPolicy):
            raise TypeError(f"ConsoleServer: policy must be an AccessPolicy, got {policy!r}")
        self.shell = shell
        self.policy = policy
        self.listener: Listener | None = None
        self.port = 0
        self._closers: dict[object, Callable[[], None]] = {}  # live connection -> closes it
        self._running: set[asyncio.Task[Any]] = set()

    def close(self) -> None:
        """Stop listening and disconnect every client."""
        if self.listener is not None:
            self.listener.close()
        for close in list(self._closers.values()):
            close()
        self._closers.clear()

    async def wait_closed(self) -> None:
        """Wait until the listener and all sessions have finished (call :meth:`close` first)."""
        if self.listener is not None:
            await self.listener.wait_closed()
        current = asyncio.current_task()
        pending = [task for task in self._running if task is not current]
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)

    def _connected(self, connection: object, close: Callable[[], None]) -> None:
        self._closers[connection] = close

    def _disconnected(self, connection: object) -> None:
        self._closers.pop(connection, None)

    def _run(self, work: Coroutine[Any, Any, Any], name: str) -> None:
        """Run ``work`` as a task that :meth:`wait_closed` waits for."""
        task = asyncio.get_running_loop().create_task(work, name=name)
        self._running.add(task)
        task.add_done_callback(self._running.discard)
