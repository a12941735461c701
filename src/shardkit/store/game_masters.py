"""Game masters in the master database: their role and the worlds a gm is limited to."""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from typing import Final, cast

import msgspec
from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from shardkit.store.database import Database
from shardkit.store.master_tables import ROLES, Account, GMWorld

__all__ = ["GameMaster", "GameMasterStore"]

_accounts: Final = cast(Table, Account.__table__)
_gm_worlds: Final = cast(Table, GMWorld.__table__)

GM_ROLES: Final = ("gm", "admin")


class GameMaster(msgspec.Struct, frozen=True, kw_only=True):
    """An account as the GM server judges it: its role and the worlds it is limited to.

    ``worlds`` empty: not limited (every world). Only a ``gm`` is ever limited; an ``admin``
    acts everywhere, and a ``player`` nowhere.
    """

    id: int
    name: str
    role: str
    worlds: tuple[str, ...] = ()


class GameMasterStore:
    """Roles and GM world scopes of the master database (opened with ``schema="master"``)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, account_ids: Iterable[int]) -> dict[int, GameMaster]:
        """The accounts among ``account_ids``, with the worlds of those limited to some."""
        ids = sorted(set(account_ids))
        if not ids:
            return {}
        async with self._db.engine.connect() as conn:
            rows = (await conn.execute(
                select(_accounts.c.id, _accounts.c.name, _accounts.c.role)
                .where(_accounts.c.id.in_(ids)))).all()
            worlds = await self._worlds(conn, ids)
        return {row.id: GameMaster(id=row.id, name=row.name, role=row.role,
                                   worlds=worlds.get(row.id, ())) for row in rows}

    async def game_masters(self, limit: int) -> builtins.list[GameMaster]:
        """Every gm and admin account (at most ``limit``), by name."""
        async with self._db.engine.connect() as conn:
            rows = (await conn.execute(
                select(_accounts.c.id, _accounts.c.name, _accounts.c.role)
                .where(_accounts.c.role.in_(GM_ROLES))
                .order_by(_accounts.c.name_key).limit(limit))).all()
            worlds = await self._worlds(conn, [row.id for row in rows])
        return [GameMaster(id=row.id, name=row.name, role=row.role,
                           worlds=worlds.get(row.id, ())) for row in rows]

    @staticmethod
    async def _worlds(conn: AsyncConnection,
                      ids: builtins.list[int]) -> dict[int, tuple[str, ...]]:
        if not ids:
            return {}
        rows = await conn.execute(
            select(_gm_worlds.c.account_id, _gm_worlds.c.world)
            .where(_gm_worlds.c.account_id.in_(ids))
            .order_by(_gm_worlds.c.account_id, _gm_worlds.c.world))
        found: dict[int, builtins.list[str]] = {}
        for row in rows:
            found.setdefault(int(row.account_id), []).append(str(row.world))
        return {account_id: tuple(worlds) for account_id, worlds in found.items()}

    async def set_role(self, account_id: int, role: str) -> bool:
        """Give the account a role; a player keeps no world scopes. False if no such account."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; expected one of {ROLES}")
        async with self._db.engine.begin() as conn:
            result = await conn.execute(
                update(_accounts).where(_accounts.c.id == account_id).values(role=role))
            if role == "player":
                await conn.execute(delete(_gm_worlds).where(_gm_worlds.c.account_id == account_id))
            return bool(result.rowcount == 1)

    async def set_worlds(self, account_id: int, worlds: Iterable[str]) -> None:
        """Limit the account to ``worlds`` (none: every world), replacing its scopes at once."""
        wanted = sorted(set(worlds))
        async with self._db.engine.begin() as conn:
            await conn.execute(delete(_gm_worlds).where(_gm_worlds.c.account_id == account_id))
            if wanted:
                await conn.execute(insert(_gm_worlds),
                                   [{"account_id": account_id, "world": w} for w in wanted])
