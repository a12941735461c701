"""The daemon's hop of ``save_character``: forwarded, and the saves not acknowledged yet counted.

While the character server is away, each zone keeps the saves it could not make and retries
them (zone/roster.py); this hop keeps which characters' latest save failed, so the console
shows the backlog, and forgets each one as soon as a save of it goes through.
"""

from __future__ import annotations

import logging

from shardkit.characters.calls import CharacterCalls
from shardkit.characters.schemas import SaveCharacter, SaveResult
from shardkit.wire.peers import Peer
from shardkit.wire.rpc import RpcConnection, RpcError

log = logging.getLogger("shardkit.daemon")


class SaveBacklog:
    """``save_character`` from our WorldServers (port 7000), to the character server."""

    def __init__(self, characters: Peer) -> None:
        self.characters = characters
        self.waiting: dict[int, str] = {}  # character id -> name, whose latest save failed
        self.failures = 0  # saves that failed since the daemon started

    def __len__(self) -> int:
        return len(self.waiting)

    @CharacterCalls.save_character.serve(roles=("world",))
    async def save_character(self, conn: RpcConnection, p: SaveCharacter) -> SaveResult:
        """Save a character state based on its version; answered after the commit, stale saves
        refused (``unavailable`` while the character server is away: the zone retries)."""
        character = p.state.id
        try:
            result = await CharacterCalls.save_character.send(self.characters, p)
        except (RpcError, OSError):
            self.failures += 1
            if character not in self.waiting:
                self.waiting[character] = p.state.name
            raise
        if self.waiting.pop(character, None) is not None and not self.waiting:
            log.info("save backlog caught up: every character's latest save is acknowledged")
        return result
