"""The character server's link as the daemon's save forwarding sees it: failed saves counted.

While the character server is away, each zone keeps the saves it could not make and retries
them (zone/roster.py, zone/save_retry.py). The daemon forwards ``save_character`` through this
wrapper of its character-server link, which keeps which characters' latest save failed (the
*save backlog* its console shows) and forgets each one as soon as a save of it goes through.
Every other call passes through untouched.
"""

from __future__ import annotations

import logging
from typing import Any, TypeVar

import msgspec

from shardkit.characters.calls import CharacterCalls
from shardkit.wire.peers import Peer
from shardkit.wire.rpc import RpcError

log = logging.getLogger("shardkit.daemon")

T = TypeVar("T")

SAVE = CharacterCalls.save_character.name


class SaveBacklog:
    """A ``Peer`` in front of the character server's link that counts failed saves."""

    def __init__(self, characters: Peer) -> None:
        self.characters = characters
        self.waiting: dict[int, str] = {}  # character id -> name, whose latest save failed
        self.failures = 0  # saves that failed since the daemon started

    def __len__(self) -> int:
        return len(self.waiting)

    async def call(self, method: str, *params: Any) -> Any:
        if method != SAVE or not params:
            return await self.characters.call(method, *params)
        state = params[0]
        character = getattr(state, "id", None)
        try:
            result = await self.characters.call(method, *params)
        except (RpcError, OSError):
            self.failures += 1
            if isinstance(character, int) and character not in self.waiting:
                self.waiting[character] = str(getattr(state, "name", ""))
            raise
        caught_up = isinstance(character, int) and self.waiting.pop(character, None) is not None
        if caught_up and not self.waiting:
            log.info("save backlog caught up: every character's latest save is acknowledged")
        return result

    async def call_as(self, result_type: type[T], method: str, *params: Any) -> T:
        return msgspec.convert(await self.call(method, *params), result_type)

    def notify(self, method: str, *params: Any) -> object:
        return self.characters.notify(method, *params)
