"""Character storage: versioned characters, created, loaded, renamed, soft-deleted and saved."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

import msgspec
from sqlalchemy import ColumnElement, Table, func, insert, select, update

from shardkit.store.character_saves import PreparedSave, SaveResult, commit_saves, prepare_save
from shardkit.store.character_tables import Character
from shardkit.store.character_types import CharacterState
from shardkit.store.database import (
    Database,
    NameTaken,
    StoreError,
    advisory_lock,
    name_key,
    raise_name_taken,
    utcnow,
)
from shardkit.store.save_batcher import SaveBatcher

__all__ = [
    "CharacterLimit",
    "CharacterState",
    "CharacterStore",
    "DeletedCharacter",
    "NameTaken",
    "SaveBatcher",
    "SaveResult",
]

_characters: Final[Table] = Character.__table__  # type: ignore[assignment]

_CREATE_LOCK: Final = 0x63726561  # PostgreSQL advisory lock class of "create a character" ("crea")


class CharacterLimit(StoreError):
    """The account already has as many (undeleted) characters in the world as it may."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"an account may have at most {limit} characters in a world")
        self.limit = limit


class DeletedCharacter(msgspec.Struct, frozen=True, kw_only=True):
    """A soft-deleted character, as a GM sees it before restoring it."""

    id: int
    account_id: int
    world: str
    name: str
    zone: str
    level: int
    deleted_at: datetime


def _state(row: object) -> CharacterState:
    """A character row (ORM object or result row) as a state."""
    return msgspec.convert(row, CharacterState, from_attributes=True)


def _deleted(row: object) -> DeletedCharacter:
    return msgspec.convert(row, DeletedCharacter, from_attributes=True)


class CharacterStore:
    """Characters of the character database (opened with ``schema="characters"``)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    @property
    def db(self) -> Database:
        """The database this store uses."""
        return self._db

    def _by_name(self, account_id: int, world: str, name: str) -> tuple[ColumnElement[bool], ...]:
        return (
            Character.account_id == account_id,
            Character.world == world,
            Character.name_key == name_key(name),
        )

    async def list(self, account_id: int, world: str) -> builtins.list[CharacterState]:
        """The account's characters in ``world`` that are not deleted, oldest first."""
        async with self._db.session() as session:
            rows = await session.scalars(
                select(Character)
                .where(
                    Character.account_id == account_id,
                    Character.world == world,
                    Character.deleted_at.is_(None),
                )
                .order_by(Character.id)
            )
            return [_state(row) for row in rows]

    async def create(
        self, account_id: int, world: str, name: str, zone: str, x: float, y: float,
        *, limit: int | None = None,
    ) -> CharacterState:
        """Create a character at version 1; :class:`NameTaken` if the name is used in ``world``.

        With ``limit``, :class:`CharacterLimit` if the account already has that many undeleted
        characters in ``world``. The count and the insert are one transaction that creates of
        the same account take in turn (SQLite: the write lock, taken first; PostgreSQL: an
        advisory lock on the account), so concurrent creates never go over the limit.
        """
        now = utcnow()
        async with self._db.write() as conn:
            if limit is not None:
                await advisory_lock(conn, _CREATE_LOCK, account_id)
                count = await conn.scalar(
                    select(func.count()).select_from(_characters).where(
                        _characters.c.account_id == account_id,
                        _characters.c.world == world,
                        _characters.c.deleted_at.is_(None),
                    )
                )
                if int(count or 0) >= limit:
                    raise CharacterLimit(limit)
            with raise_name_taken(name):
                row = (
                    await conn.execute(
                        insert(_characters)
                        .values(
                            account_id=account_id, world=world, name=name,
                            name_key=name_key(name), zone=zone, x=x, y=y, level=1,
                            experience=0, health=100, gold=0, inventory=[], data={}, version=1,
                            created_at=now, updated_at=now,
                        )
                        .returning(*_characters.c)
                    )
                ).one()
        return _state(row)

    async def load(self, account_id: int, world: str, name: str) -> CharacterState | None:
        """The account's undeleted character called ``name`` (case-insensitively) in ``world``."""
        async with self._db.session() as session:
            row = await session.scalar(
                select(Character).where(
                    *self._by_name(account_id, world, name), Character.deleted_at.is_(None)
                )
            )
            return None if row is None else _state(row)

    async def deleted(self, world: str, limit: int = 50) -> builtins.list[DeletedCharacter]:
        """Soft-deleted characters of ``world``, most recently deleted first."""
        async with self._db.session() as session:
            rows = await session.scalars(
                select(Character)
                .where(Character.world == world, Character.deleted_at.is_not(None))
                .order_by(Character.deleted_at.desc(), Character.id.desc())
                .limit(limit)
            )
            return [_deleted(row) for row in rows]

    async def find_deleted(self, world: str, name: str) -> DeletedCharacter | None:
        """The soft-deleted character called ``name`` (case-insensitively) in ``world``."""
        async with self._db.session() as session:
            row = await session.scalar(
                select(Character).where(
                    Character.world == world,
                    Character.name_key == name_key(name),
                    Character.deleted_at.is_not(None),
                )
            )
            return None if row is None else _deleted(row)

    async def _change(
        self,
        account_id: int,
        world: str,
        name: str,
        deleted: bool,
        values: dict[str, Any],
        *conditions: ColumnElement[bool],
    ) -> int | None:
        """Apply ``values`` and a version bump to one character; its id, or None if no match."""
        state = Character.deleted_at.is_not(None) if deleted else Character.deleted_at.is_(None)
        async with self._db.session() as session, session.begin():
            result = await session.execute(
                update(Character)
                .where(*self._by_name(account_id, world, name), state, *conditions)
                .values(values | {"version": Character.version + 1, "updated_at": utcnow()})
                .returning(Character.id)
                .execution_options(synchronize_session=False)
            )
            return result.scalar_one_or_none()

    async def _get(self, character_id: int) -> CharacterState | None:
        async with self._db.session() as session:
            row = await session.get(Character, character_id)
            return None if row is None else _state(row)

    async def delete(self, account_id: int, world: str, name: str) -> bool:
        """Soft-delete the character (it keeps its name); False if no such undeleted character."""
        changed = await self._change(account_id, world, name, False, {"deleted_at": utcnow()})
        return changed is not None

    async def restore(
        self, account_id: int, world: str, name: str, *, deleted_since: datetime | None = None
    ) -> CharacterState | None:
        """Undo a soft delete; the restored state, or None if there is no such deleted character.

        With ``deleted_since``, only a character deleted at or after that time is restored.
        """
        since = () if deleted_since is None else (Character.deleted_at >= deleted_since,)
        character_id = await self._change(
            account_id, world, name, True, {"deleted_at": None}, *since
        )
        return None if character_id is None else await self._get(character_id)

    async def rename(
        self, account_id: int, world: str, name: str, new_name: str
    ) -> CharacterState | None:
        """Rename an undeleted character; None if not found, :class:`NameTaken` if name is used."""
        with raise_name_taken(new_name):
            character_id = await self._change(
                account_id, world, name, False, {"name": new_name, "name_key": name_key(new_name)}
            )
        return None if character_id is None else await self._get(character_id)

    async def save_many(self, states: Sequence[CharacterState]) -> builtins.list[SaveResult]:
        """Save ``states`` in one transaction, each only if still at its version.

        Returns only after the commit. Raises ValueError, before touching the database, if a state
        does not fit its columns.
        """
        return await self.save_prepared([prepare_save(state) for state in states])

    async def save_prepared(self, batch: Sequence[PreparedSave]) -> builtins.list[SaveResult]:
        """Save states already checked by :func:`prepare_save` (what a :class:`SaveBatcher` queues).

        One transaction, each save only if still at its version; returns only after the commit,
        one result per save in ``batch`` order. If the transaction fails, the exception propagates
        and none of the saves is acknowledged.
        """
        return await commit_saves(self._db, batch)
