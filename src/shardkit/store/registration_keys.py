"""Registration keys for closed betas: single-use, issued in bulk; only their hashes are stored."""

from __future__ import annotations

import builtins
import hashlib
from datetime import datetime
from typing import Final, cast

import msgspec
from sqlalchemy import Table, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shardkit.config.tokens import pasteable_token
from shardkit.store.database import Database, StoreError, utcnow
from shardkit.store.master_tables import Account, RegistrationKey

__all__ = [
    "KeyRefused",
    "RegistrationKeyRecord",
    "RegistrationKeyStore",
    "registration_key_hash",
    "use_registration_key",
]

_keys: Final = cast(Table, RegistrationKey.__table__)
_accounts: Final = cast(Table, Account.__table__)


class KeyRefused(StoreError):
    """The registration key is unknown or already used."""


class RegistrationKeyRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A registration key's bookkeeping (the key itself is never stored)."""

    id: int
    note: str
    created_at: datetime
    created_by: str
    used_at: datetime | None
    used_by_name: str | None


def registration_key_hash(key: str) -> str:
    """What the database keeps of a registration key: its SHA-256, hex."""
    return hashlib.sha256(key.strip().encode()).hexdigest()


async def use_registration_key(session: AsyncSession, key: str, account_id: int) -> None:
    """Mark ``key`` used by the account, in the caller's transaction; KeyRefused if it cannot be.

    The caller rolls its transaction back on KeyRefused, so an account is never made with a key
    that was unknown or already used.
    """
    used = await session.execute(
        update(_keys)
        .where(_keys.c.key_hash == registration_key_hash(key), _keys.c.used_at.is_(None))
        .values(used_at=utcnow(), used_by=account_id)
    )
    if used.rowcount != 1:  # type: ignore[attr-defined]
        raise KeyRefused("unknown or used registration key")


class RegistrationKeyStore:
    """Single-use registration keys for closed betas; the database keeps only their hashes."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def issue(self, count: int, *, created_by: str, note: str = "") -> builtins.list[str]:
        """Make ``count`` new keys and return them (the only time they are seen in clear)."""
        if not 1 <= count <= 1000:
            raise ValueError("issue 1 to 1000 keys at a time")
        keys = [pasteable_token(12) for _ in range(count)]
        now = utcnow()
        async with self._db.engine.begin() as conn:
            await conn.execute(
                insert(_keys),
                [{"key_hash": registration_key_hash(k), "note": note, "created_at": now,
                  "created_by": created_by} for k in keys],
            )
        return keys

    async def list(self, limit: int = 50) -> builtins.list[RegistrationKeyRecord]:
        """The newest keys first, with who used them."""
        async with self._db.engine.connect() as conn:
            rows = await conn.execute(
                select(*_keys.c, _accounts.c.name.label("used_by_name"))
                .outerjoin(_accounts, _accounts.c.id == _keys.c.used_by)
                .order_by(_keys.c.id.desc())
                .limit(limit)
            )
            return [
                msgspec.convert(row, RegistrationKeyRecord, from_attributes=True) for row in rows
            ]
