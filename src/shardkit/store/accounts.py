"""Account storage for the MasterServer: accounts, login history, bans, registration keys, worlds."""

from __future__ import annotations

import builtins
import hashlib
import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import cast

import msgspec
from sqlalchemy import Table, bindparam, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from shardkit.store.database import (
    Database,
    NameTaken,
    StoreError,
    name_key,
    raise_name_taken,
    utcnow,
)
from shardkit.store.master_tables import (
    ROLES,
    Account,
    Ban,
    LoginAttempt,
    RegistrationKey,
    World,
)

__all__ = [
    "AccountRecord",
    "AccountStore",
    "BanRecord",
    "BanStore",
    "KeyRefused",
    "LoginRecord",
    "NameTaken",
    "RegistrationKeyRecord",
    "RegistrationKeyStore",
    "WorldRecord",
    "registration_key_hash",
]


_ACCOUNTS = cast(Table, Account.__table__)
_INSERT_ATTEMPT = insert(cast(Table, LoginAttempt.__table__))
_SET_LAST_LOGIN = (
    update(_ACCOUNTS)
    .where(_ACCOUNTS.c.id == bindparam("b_id"))
    .values(last_login_at=bindparam("b_at"))
)


class KeyRefused(StoreError):
    """The registration key is unknown or already used."""


class LoginRecord(msgspec.Struct, frozen=True):
    """One login attempt to append to the history (see :meth:`AccountStore.record_logins`)."""

    account_id: int | None
    ip: str
    success: bool
    at: datetime


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
        registration_key: str | None = None,
    ) -> AccountRecord:
        """Create an account; raises :class:`NameTaken` if the name is taken in any letter case.

        With ``registration_key`` the key is used up in the same transaction; an unknown or used
        key raises :class:`KeyRefused` and nothing is written.
        """
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
                await session.flush()
            if registration_key is not None:
                used = await session.execute(
                    update(RegistrationKey)
                    .where(
                        RegistrationKey.key_hash == registration_key_hash(registration_key),
                        RegistrationKey.used_at.is_(None),
                    )
                    .values(used_at=utcnow(), used_by=account.id)
                )
                if used.rowcount != 1:  # type: ignore[attr-defined]
                    await session.rollback()
                    raise KeyRefused("unknown or used registration key")
            await session.commit()
            return _account(account)

    async def set_verifier(
        self, account_id: int, salt: bytes, stored_key: bytes, server_key: bytes, iterations: int
    ) -> bool:
        """Replace an account's SCRAM verifier (change of password); False if there is no account."""
        async with self._db.session() as session, session.begin():
            result = await session.execute(
                update(Account)
                .where(Account.id == account_id)
                .values(salt=salt, stored_key=stored_key, server_key=server_key,
                        iterations=iterations)
            )
            return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def record_logins(self, attempts: Sequence[LoginRecord]) -> None:
        """Append many login attempts in one transaction (group commit); returns after the commit.

        Core statements with executemany, not the ORM: this runs for every login.
        """
        if not attempts:
            return
        latest: dict[int, datetime] = {}
        for attempt in attempts:
            if attempt.success and attempt.account_id is not None:
                latest[attempt.account_id] = max(attempt.at, latest.get(attempt.account_id, attempt.at))
        async with self._db.engine.begin() as conn:
            await conn.execute(
                _INSERT_ATTEMPT,
                [{"account_id": a.account_id, "ip": a.ip, "success": a.success, "at": a.at}
                 for a in attempts],
            )
            if latest:
                await conn.execute(
                    _SET_LAST_LOGIN,
                    [{"b_id": account_id, "b_at": at} for account_id, at in latest.items()],
                )

    async def has_logged_in_from(self, account_id: int, ip: str) -> bool:
        """Whether the account ever logged in successfully from ``ip``."""
        async with self._db.session() as session:
            found = await session.scalar(
                select(LoginAttempt.id)
                .where(LoginAttempt.account_id == account_id, LoginAttempt.ip == ip,
                       LoginAttempt.success.is_(True))
                .limit(1)
            )
            return found is not None

    async def get_by_name(self, name: str) -> AccountRecord | None:
        """The account called ``name`` (case-insensitively), or None."""
        async with self._db.session() as session:
            row = await session.scalar(select(Account).where(Account.name_key == name_key(name)))
            return None if row is None else _account(row)

    async def get_many_by_name(self, names: Sequence[str]) -> dict[str, AccountRecord]:
        """The accounts among ``names``, by name key (the case-folded name); one query."""
        keys = sorted({name_key(name) for name in names})
        if not keys:
            return {}
        async with self._db.engine.connect() as conn:  # core, not ORM: little work per row
            rows = await conn.execute(select(_ACCOUNTS).where(_ACCOUNTS.c.name_key.in_(keys)))
            return {row.name_key: _account(row) for row in rows}  # type: ignore[arg-type]

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


def _ban(row: Ban, account_name: str | None) -> BanRecord:
    return BanRecord(
        id=row.id,
        account_id=row.account_id,
        account_name=account_name,
        ip_range=row.ip_range,
        reason=row.reason,
        created_at=row.created_at,
        expires_at=row.expires_at,
        created_by=row.created_by,
        lifted_at=row.lifted_at,
    )


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
        ban = Ban(account_id=account_id, ip_range=ip_range, reason=reason, expires_at=expires_at,
                  created_by=created_by, created_at=utcnow())
        async with self._db.session() as session:
            session.add(ban)
            await session.commit()
            name = None
            if account_id is not None:
                name = await session.scalar(select(Account.name).where(Account.id == account_id))
            return _ban(ban, name)

    async def lift(self, *, account_id: int | None = None, ip_range: str | None = None,
                   lifted_by: str) -> int:
        """Lift every ban in force on the account or the exact IP range; returns how many."""
        if (account_id is None) == (ip_range is None):
            raise ValueError("lift names exactly one of account_id and ip_range")
        target = Ban.account_id == account_id if account_id is not None else Ban.ip_range == ip_range
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
        async with self._db.session() as session:
            rows = await session.execute(
                select(Ban, Account.name)
                .outerjoin(Account, Account.id == Ban.account_id)
                .where(Ban.lifted_at.is_(None),
                       or_(Ban.expires_at.is_(None), Ban.expires_at > now))
                .order_by(Ban.id)
            )
            return [_ban(ban, name) for ban, name in rows]


class RegistrationKeyStore:
    """Single-use registration keys for closed betas; the database keeps only their hashes."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def issue(self, count: int, *, created_by: str, note: str = "") -> builtins.list[str]:
        """Make ``count`` new keys and return them (the only time they are seen in clear)."""
        if not 1 <= count <= 1000:
            raise ValueError("issue 1 to 1000 keys at a time")
        keys = [secrets.token_urlsafe(12) for _ in range(count)]
        now = utcnow()
        async with self._db.session() as session, session.begin():
            await session.execute(
                insert(RegistrationKey),
                [{"key_hash": registration_key_hash(k), "note": note, "created_at": now,
                  "created_by": created_by} for k in keys],
            )
        return keys

    async def list(self, limit: int = 50) -> builtins.list[RegistrationKeyRecord]:
        """The newest keys first, with who used them."""
        async with self._db.session() as session:
            rows = await session.execute(
                select(RegistrationKey, Account.name)
                .outerjoin(Account, Account.id == RegistrationKey.used_by)
                .order_by(RegistrationKey.id.desc())
                .limit(limit)
            )
            return [
                RegistrationKeyRecord(id=key.id, note=key.note, created_at=key.created_at,
                                      created_by=key.created_by, used_at=key.used_at,
                                      used_by_name=name)
                for key, name in rows
            ]
