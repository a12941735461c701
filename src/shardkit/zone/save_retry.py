"""Final saves the character server could not take (it is away): kept and retried with back-off.

A player who leaves play while the character server is away (logout, disconnect, kick, the
zone stopping) is out of the zone, but its last state is not lost: it waits here, keyed by
character, and is saved again every few seconds (doubling to ``MAX_DELAY_S``) until it is
acknowledged. A new entry of the account settles its waiting save first, so it never loads
an older state than the one it left with.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from shardkit.characters.schemas import SaveResult
from shardkit.runtime.peerlog import quote
from shardkit.runtime.tasks import background
from shardkit.store.character_types import CharacterState
from shardkit.wire.rpc import RpcError

log = logging.getLogger("shardkit.zone")

FIRST_DELAY_S = 1.0
MAX_DELAY_S = 15.0

SaveCall = Callable[[CharacterState, bool], Awaitable[SaveResult]]


class SaveRetries:
    """Character id -> the final state that still waits for the character server."""

    def __init__(self, save: SaveCall, *,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.save = save
        self.sleep = sleep
        self.waiting: dict[int, CharacterState] = {}
        self._task: asyncio.Future[None] | None = None

    def __len__(self) -> int:
        return len(self.waiting)

    def add(self, state: CharacterState) -> None:
        """Keep a final save that failed; it is retried until acknowledged."""
        self.waiting[state.id] = state
        log.warning("final save of %s kept for a retry (%d waiting)", quote(state.name),
                    len(self.waiting))
        if self._task is None or self._task.done():
            self._task = background(self._retry())

    async def _try(self, character_id: int) -> bool:
        """Save one waiting state; True once it is settled (saved, or refused as stale)."""
        state = self.waiting.get(character_id)
        if state is None:
            return True
        try:
            result = await self.save(state, True)
        except RpcError:
            return False
        if self.waiting.get(character_id) is state:
            del self.waiting[character_id]
        if result.ok:
            log.info("final save of %s made on retry", quote(state.name))
        else:
            log.error("final save of %s refused on retry: %s", quote(state.name),
                      quote(result.reason or ""))
        return True

    async def _retry(self) -> None:
        delay = FIRST_DELAY_S
        while self.waiting:
            await self.sleep(delay)
            delay = min(delay * 2, MAX_DELAY_S)
            for character_id in list(self.waiting):
                if not await self._try(character_id):
                    break  # still away: the rest wait for the next round
            else:
                delay = FIRST_DELAY_S

    async def settle(self, account_id: int) -> None:
        """Before the account enters again: its waiting save is made first, or ``unavailable``."""
        for character_id, state in list(self.waiting.items()):
            if state.account_id == account_id and not await self._try(character_id):
                raise RpcError("unavailable", "your last save is still on its way to the"
                                              " character server; try again shortly")

    async def flush(self, timeout_s: float) -> int:
        """Try the waiting saves once more within ``timeout_s`` (the zone stops); how many are
        still unsaved afterwards."""
        try:
            async with asyncio.timeout(timeout_s):
                for character_id in list(self.waiting):
                    await self._try(character_id)
        except TimeoutError:
            pass
        for state in self.waiting.values():
            log.error("final save of %s lost: the character server stayed away",
                      quote(state.name))
        return len(self.waiting)
