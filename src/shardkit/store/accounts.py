"""Account storage for the MasterServer: accounts with their SCRAM verifiers, roles, login history.

Bans and registration keys have their own stores (:mod:`shardkit.store.bans`,
:mod:`shardkit.store.registration_keys`); their names are re-exported here as well.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import datetime
from typing import cast

import msgspec
from sqlalchemy import Table, bindparam, insert, select, update

from shardkit.store.bans import BanRecord, BanStore
from shardkit.store.database import Database, NameTaken, name_key, raise_name_taken, utcnow
from shardkit.store.master_tables import ROLES, Account, LoginAttempt
from shardkit.store.one_trip import fetch_all
from shardkit.store.registration_keys import (
    KeyRefused,
    RegistrationKeyRecord,
    RegistrationKeyStore,
    registration_key_hash,
    use_registration_key,
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
    "registration_key_hash",
]


_ACCOUNTS = cast(Table, Account.__table__)
_INSERT_ATTEMPT = insert(cast(Table, LoginAttempt.__table__))
_SET_LAST_LOGIN = (
    update(_ACCOUNTS)
    .where(_ACCOUNTS.c.id == bindparam("b_id"))
    .values(last_login_at=bindparam("b_at"))
)


class LoginRecord(msgspec.Struct, frozen=True):
    """One login attempt to append to the history (see :meth:`AccountStore.record_logins`)."""

    account_id: int | None
    ip: str
    success: bool
    at: datetime


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


def _account(row: object) -> AccountRecord:
    """An account row (ORM object or result row) as a record."""
    return msgspec.convert(row, AccountRecord, from_attributes=True)


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
                try:
                    await use_registration_key(session, registration_key, account.id)
                except KeyRefused:
                    await session.rollback()
                    raise
            await session.commit()
            return _account(account)

    async def set_verifier(
        self, account_id: int, salt: bytes, stored_key: bytes, server_key: bytes, iterations: int
    ) -> bool:
        """Replace an account's SCRAM verifier (new password); False if there is no account."""
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
                account = attempt.account_id
                latest[account] = max(attempt.at, latest.get(account, attempt.at))
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
        async with self._db.engine.connect() as conn:  # one trip to SQLite's thread: login path
            rows = await fetch_all(conn, select(_ACCOUNTS).where(_ACCOUNTS.c.name_key.in_(keys)))
            return {row["name_key"]: _account(row) for row in rows}

    async def get(self, account_id: int) -> AccountRecord | None:
        """The account with this id, or None."""
        async with self._db.session() as session:
            row = await session.get(Account, account_id)
            return None if row is None else _account(row)

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
