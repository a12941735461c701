"""What the GM server asks of the character server over its link: deleted characters, restores."""

from __future__ import annotations

from datetime import timedelta

from shardkit.characters.schemas import (
    DeletedCharacterInfo,
    DeletedCharacters,
    RestoreCharacter,
    RestoredCharacter,
)
from shardkit.store.characters import CharacterStore
from shardkit.store.database import utcnow
from shardkit.wire.rpc import RpcConnection, RpcError, rpc

MAX_LISTED = 500


class GMService:
    """Served on the character server's link to the GM port; the GM server has role ``gm`` there."""

    def __init__(self, characters: CharacterStore, *, restore_days: float) -> None:
        self.characters = characters
        self.restore_days = restore_days
        self.window = timedelta(days=restore_days)
        """How long after its deletion a character may be restored (``restore_days``)."""

    @rpc("deleted_characters", DeletedCharacters, roles=("gm",))
    async def deleted_characters(
        self, conn: RpcConnection, p: DeletedCharacters
    ) -> list[DeletedCharacterInfo]:
        """A world's deleted characters, most recently deleted first."""
        rows = await self.characters.deleted(p.world, max(1, min(p.limit, MAX_LISTED)))
        return [
            DeletedCharacterInfo(
                row.id, row.account_id, row.name, row.zone, row.level,
                row.deleted_at.isoformat(), (row.deleted_at + self.window).isoformat(),
            )
            for row in rows
        ]

    @rpc("restore_character", RestoreCharacter, roles=("gm",))
    async def restore_character(
        self, conn: RpcConnection, p: RestoreCharacter
    ) -> RestoredCharacter:
        """Undo a character's deletion, within ``restore_days`` of it."""
        store = self.characters
        found = await store.find_deleted(p.world, p.name)
        if found is None:
            raise RpcError("no_such_character", f"no deleted character '{p.name}' in {p.world}")
        cutoff = utcnow() - self.window
        if found.deleted_at < cutoff:
            raise RpcError(
                "restore_expired",
                f"'{found.name}' was deleted on {found.deleted_at:%Y-%m-%d}, more than "
                f"{self.restore_days:g} days ago",
            )
        state = await store.restore(found.account_id, p.world, found.name, deleted_since=cutoff)
        if state is None:  # restored (or purged) by someone else meanwhile
            raise RpcError("no_such_character", f"no deleted character '{p.name}' in {p.world}")
        return RestoredCharacter(state.id, state.account_id, state.world, state.name, state.zone,
                                 state.level)
