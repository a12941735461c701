"""Ban storage for the MasterServer: bans of accounts and IP ranges; lifted bans stay as history."""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import Any, Final, cast

import msgspec
from sqlalchemy import Row, Select, Table, insert, or_, select, update

from shardkit.store.database import Database, utcnow
from shardkit.store.master_tables import Account, Ban

__all__ = ["BanRecord", "BanStore"]

_bans: Final = cast(Table, Ban.__table__)
_accounts: Final = cast(Table, Account.__table__)

_BANS_NAMED: Final[Select[Any]] = select(
    *_bans.c, _accounts.c.name.label("account_name")
).outerjoin(_accounts, _accounts.c.id == _bans.c.account_id)
"""Bans with the banned account's name (NULL for IP range bans)."""


class BanRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A ban as plain values; ``account_name`` is filled in for account bans."""

    id: int
    account_id: int | None
    account_name: str | None
    ip_range: str | None
    reason: str
    created_at: datetime
    expires_at: datetime | None
    created_by: str
    lifted_at: datetime | None


def _ban(row: Row[Any]) -> BanRecord:
    return msgspec.convert(row, BanRecord, from_attributes=True)


class BanStore:
    """Bans of accounts and IP ranges in the master database; lifting keeps the row as history."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(
        self,
        *,
        account_id: int | None = None,
        ip_range: str | None = None,
        reason: str = "",
        expires_at: datetime | None = None,
        created_by: str,
    ) -> BanRecord:
        """Ban an account or an IP range (CIDR text) until ``expires_at`` (None: for good)."""
        if (account_id is None) == (ip_range is None):
            raise ValueError("a ban names exactly one of account_id and ip_range")
        async with self._db.engine.begin() as conn:
            ban_id = await conn.scalar(
                insert(_bans)
                .values(account_id=account_id, ip_range=ip_range, reason=reason,
                        expires_at=expires_at, created_by=created_by, created_at=utcnow())
                .returning(_bans.c.id)
            )
            row = (await conn.execute(_BANS_NAMED.where(_bans.c.id == ban_id))).one()
        return _ban(row)

    async def lift(self, *, account_id: int | None = None, ip_range: str | None = None,
                   lifted_by: str) -> int:
        """Lift every ban in force on the account or the exact IP range; returns how many."""
        if (account_id is None) == (ip_range is None):
            raise ValueError("lift names exactly one of account_id and ip_range")
        target = (
            Ban.account_id == account_id if account_id is not None else Ban.ip_range == ip_range
        )
        now = utcnow()
        async with self._db.session() as session, session.begin():
            result = await session.execute(
                update(Ban)
                .where(target, Ban.lifted_at.is_(None))
                .values(lifted_at=now, lifted_by=lifted_by)
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    async def in_force(self, now: datetime | None = None) -> builtins.list[BanRecord]:
        """Bans neither lifted nor expired at ``now``, oldest first."""
        now = now or utcnow()
        async with self._db.engine.connect() as conn:
            rows = await conn.execute(
                _BANS_NAMED.where(
                    _bans.c.lifted_at.is_(None),
                    or_(_bans.c.expires_at.is_(None), _bans.c.expires_at > now),
                ).order_by(_bans.c.id)
            )
            return [_ban(row) for row in rows]
