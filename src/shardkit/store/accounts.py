"""Account storage for the MasterServer: accounts, login history and the world registry."""

from __future__ import annotations

import builtins
from datetime import datetime

import msgspec
from sqlalchemy import insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from shardkit.store.database import Database, NameTaken, name_key, raise_name_taken, utcnow
from shardkit.store.master_tables import ROLES, Account, LoginAttempt, World

__all__ = ["AccountRecord", "AccountStore", "NameTaken", "WorldRecord"]


class AccountRecord(msgspec.Struct, frozen=True, kw_only=True):
    """An account as plain values; ``name`` is the display name as it was registered."""

    id: int
    name: str
    salt: bytes
    stored_key: bytes
    server_key: bytes
    iterations: int
    role: str
    created_at: datetime
    last_login_at: datetime | None


class WorldRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A registered world as plain values."""

    name: str
    host: str
    port: int
    status: str
    capacity: int
    last_seen_at: datetime


def _account(row: Account) -> AccountRecord:
    return AccountRecord(
        id=row.id,
        name=row.name,
        salt=row.salt,
        stored_key=row.stored_key,
        server_key=row.server_key,
        iterations=row.iterations,
        role=row.role,
        created_at=row.created_at,
        last_login_at=row.last_login_at,
    )


def _world(row: World) -> WorldRecord:
    return WorldRecord(
        name=row.name,
        host=row.host,
        port=row.port,
        status=row.status,
        capacity=row.capacity,
        last_seen_at=row.last_seen_at,
    )


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; expected one of {ROLES}")


class AccountStore:
    """Accounts of the master database (opened with ``schema="master"``)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(
        self,
        name: str,
        salt: bytes,
        stored_key: bytes,
        server_key: bytes,
        iterations: int,
        role: str = "player",
    ) -> AccountRecord:
        """Create an account; raises :class:`NameTaken` if the name is taken in any letter case."""
        _check_role(role)
        account = Account(
            name=name,
            name_key=name_key(name),
            salt=salt,
            stored_key=stored_key,
            server_key=server_key,
            iterations=iterations,
            role=role,
            created_at=utcnow(),
        )
        async with self._db.session() as session:
            session.add(account)
            with raise_name_taken(name):
                await session.commit()
            return _account(account)

    async def get_by_name(self, name: str) -> AccountRecord | None:
        """The account called ``name`` (case-insensitively), or None."""
        async with self._db.session() as session:
            row = await session.scalar(select(Account).where(Account.name_key == name_key(name)))
            return None if row is None else _account(row)

    async def get(self, account_id: int) -> AccountRecord | None:
        """The account with this id, or None."""
        async with self._db.session() as session:
            row = await session.get(Account, account_id)
            return None if row is None else _account(row)

    async def record_login(self, account_id: int | None, ip: str, success: bool) -> None:
        """Append a login attempt; a successful one also sets the account's ``last_login_at``."""
        now = utcnow()
        async with self._db.session() as session, session.begin():
            await session.execute(
                insert(LoginAttempt).values(account_id=account_id, ip=ip, success=success, at=now)
            )
            if success and account_id is not None:
                await session.execute(
                    update(Account).where(Account.id == account_id).values(last_login_at=now)
                )

    async def set_role(self, name: str, role: str) -> bool:
        """Give the account called ``name`` a role; False when there is no such account."""
        _check_role(role)
        async with self._db.session() as session, session.begin():
            result = await session.execute(
                update(Account).where(Account.name_key == name_key(name)).values(role=role)
            )
            return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def list(self, limit: int = 100, offset: int = 0) -> builtins.list[AccountRecord]:
        """Accounts ordered by id, for paging."""
        if limit < 0 or offset < 0:
            raise ValueError("limit and offset must not be negative")
        async with self._db.session() as session:
            rows = await session.scalars(
                select(Account).order_by(Account.id).limit(limit).offset(offset)
            )
            return [_account(row) for row in rows]

    async def upsert_world(
        self, name: str, host: str, port: int, status: str, capacity: int
    ) -> WorldRecord:
        """Register a world or refresh its entry; ``last_seen_at`` becomes now."""
        values = {
            "name": name,
            "host": host,
            "port": port,
            "status": status,
            "capacity": capacity,
            "last_seen_at": utcnow(),
        }
        dialect_insert = postgresql.insert if self._db.dialect == "postgresql" else sqlite.insert
        stmt = dialect_insert(World).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[World.name],
            set_={key: getattr(stmt.excluded, key) for key in values if key != "name"},
        )
        async with self._db.session() as session, session.begin():
            await session.execute(stmt)
            row = await session.get(World, name, populate_existing=True)
            assert row is not None
            return _world(row)

    async def list_worlds(self) -> builtins.list[WorldRecord]:
        """All registered worlds ordered by name."""
        async with self._db.session() as session:
            rows = await session.scalars(select(World).order_by(World.name))
            return [_world(row) for row in rows]
