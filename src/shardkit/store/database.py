"""Database engines (SQLite in WAL mode, or PostgreSQL via asyncpg), column types, store errors."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import msgspec
from sqlalchemy import JSON, DateTime, MetaData, TextClause, event, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import URL, Dialect, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator, TypeEngine

from shardkit.runtime.private_files import secure_sqlite_files

__all__ = [
    "SCHEMAS",
    "Database",
    "JSONType",
    "NameTaken",
    "StoreError",
    "UTCDateTime",
    "advisory_lock",
    "async_database_url",
    "create_database_engine",
    "is_unique_violation",
    "make_metadata",
    "name_key",
    "raise_name_taken",
    "sqlite_url",
    "utcnow",
    "write_transaction",
]

SCHEMAS: Final[tuple[str, ...]] = ("master", "characters", "gm")
"""The schemas a Database can be opened with; each has its own migrations and its own database."""

SQLITE_PRAGMAS: Final[tuple[str, ...]] = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=5000",
)
"""Set on every SQLite connection. FULL: each commit fsyncs the WAL (an ack survives power loss)."""

MIN_SQLITE_VERSION: Final[tuple[int, int, int]] = (3, 35, 0)
"""The oldest SQLite the stores work with (the batched save uses UPDATE ... FROM ... RETURNING)."""

NAMING_CONVENTION: Final[dict[str, str]] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Deterministic constraint names: hand-written migrations and the models agree on every backend."""


class StoreError(Exception):
    """Base class of the errors the stores raise."""


class NameTaken(StoreError):
    """The (case-folded) name is already in use."""


def utcnow() -> datetime:
    """The current time as a timezone-aware UTC datetime."""
    return datetime.now(UTC)


def name_key(name: str) -> str:
    """The key names are unique by: the case-folded name."""
    return name.casefold()


def make_metadata() -> MetaData:
    """A fresh MetaData with the project's constraint naming convention (one per schema)."""
    return MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always a timezone-aware UTC datetime in Python.

    PostgreSQL stores ``timestamptz``; SQLite stores naive UTC text (it has no time zones), and the
    UTC zone is attached again on read. Naive datetimes are refused on write.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: pass a timezone-aware (UTC) datetime")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


JSONType: Final[TypeEngine[Any]] = JSON().with_variant(JSONB(), "postgresql")
"""JSON column type: JSONB on PostgreSQL, JSON text on SQLite."""


def _json_serializer(value: Any) -> str:
    return msgspec.json.encode(value).decode()


def _json_deserializer(text: str | bytes) -> Any:
    return msgspec.json.decode(text)


def sqlite_url(path: Path) -> str:
    """The async SQLAlchemy URL of the SQLite database file at ``path`` (made absolute)."""
    return f"sqlite+aiosqlite:///{Path(path).expanduser().absolute()}"


def async_database_url(url: str) -> str:
    """Give a driverless ``postgresql://`` / ``postgres://`` / ``sqlite://`` URL its asyncio driver.

    URLs that already name a driver are returned unchanged.
    """
    parsed = make_url(url)
    driver = {
        "postgresql": "postgresql+asyncpg",
        "postgres": "postgresql+asyncpg",
        "sqlite": "sqlite+aiosqlite",
    }
    if parsed.drivername in driver:
        parsed = parsed.set(drivername=driver[parsed.drivername])
    return parsed.render_as_string(hide_password=False)


def _sqlite_file(url: URL) -> Path:
    database = url.database
    if not database or database == ":memory:" or url.query.get("mode") == "memory":
        raise ValueError(
            "in-memory SQLite is not supported (concurrent sessions would share one connection); "
            "use a file, e.g. sqlite_url(tmp_path / 'test.db')"
        )
    if database.startswith("file:"):
        raise ValueError("SQLite URI filenames (file:...) are not supported; use a plain path")
    return Path(database)


def _on_sqlite_connect(
    dbapi_connection: DBAPIConnection, connection_record: ConnectionPoolEntry
) -> None:
    # Take transaction control away from the sqlite3 driver (it would not BEGIN before DDL or
    # SELECT); SQLAlchemy's "begin" event below emits BEGIN instead, so migrations are atomic.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


def _on_sqlite_begin(conn: Any) -> None:
    # "IMMEDIATE" takes the write lock up front (waiting up to busy_timeout): write_transaction.
    mode = conn.get_execution_options().get("sqlite_begin")
    conn.exec_driver_sql("BEGIN IMMEDIATE" if mode == "IMMEDIATE" else "BEGIN")


async def create_database_engine(url: str) -> AsyncEngine:
    """An AsyncEngine for ``url`` with the project's settings (no migrations are run).

    For SQLite the file is made private first (missing folders mode 700, the database and its
    side files mode 600, see :func:`secure_sqlite_files`) and every connection gets
    :data:`SQLITE_PRAGMAS`.
    """
    parsed = make_url(async_database_url(url))
    backend = parsed.get_backend_name()
    common: dict[str, Any] = {
        "json_serializer": _json_serializer,
        "json_deserializer": _json_deserializer,
    }
    if backend == "sqlite":
        if sqlite3.sqlite_version_info < MIN_SQLITE_VERSION:
            needed = ".".join(map(str, MIN_SQLITE_VERSION))
            raise RuntimeError(
                f"SQLite {sqlite3.sqlite_version} is too old; shardkit needs {needed}+"
                " (UPDATE ... FROM, RETURNING, JSON functions)"
            )
        path = _sqlite_file(parsed)
        await asyncio.to_thread(secure_sqlite_files, path)
        engine = create_async_engine(parsed, **common)
        event.listen(engine.sync_engine, "connect", _on_sqlite_connect)
        event.listen(engine.sync_engine, "begin", _on_sqlite_begin)
        return engine
    if backend == "postgresql":
        return create_async_engine(
            parsed, pool_pre_ping=True, connect_args={"timeout": 10}, **common
        )
    raise ValueError(
        f"unsupported database URL {parsed!r}: use sqlite+aiosqlite:// or postgresql+asyncpg://"
    )


@asynccontextmanager
async def write_transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A write transaction on one connection, committed when the block ends without error.

    SQLite takes the write lock up front (BEGIN IMMEDIATE), so a transaction that reads and
    then writes what it read (a count, a membership) never interleaves with another one; the
    option means nothing to PostgreSQL, where :func:`advisory_lock` puts such transactions in turn.
    """
    async with engine.connect() as conn:
        await conn.execution_options(sqlite_begin="IMMEDIATE")
        async with conn.begin():
            yield conn


_ADVISORY_LOCKS: Final[dict[int, TextClause]] = {
    1: text("SELECT pg_advisory_xact_lock(:k0)"),
    2: text("SELECT pg_advisory_xact_lock(:k0, :k1)"),
}


async def advisory_lock(conn: AsyncConnection, *key: int) -> None:
    """Hold a lock on ``key`` (one bigint, or two ints) until the transaction of ``conn`` ends.

    Transactions that take the same lock run one after the other. PostgreSQL: a transaction
    advisory lock. SQLite: nothing more to do, the write lock that :func:`write_transaction`
    took first already puts every writer in turn.
    """
    if conn.dialect.name == "postgresql":
        await conn.execute(_ADVISORY_LOCKS[len(key)], {f"k{i}": part for i, part in enumerate(key)})


class Database:
    """One process's database: an async engine plus a session factory, migrated to head on open."""

    def __init__(self, engine: AsyncEngine, *, url: str, schema: str) -> None:
        self.engine: AsyncEngine = engine
        self.url: str = url
        self.schema: str = schema
        self.sessionmaker: async_sessionmaker[AsyncSession] = async_sessionmaker(
            engine, expire_on_commit=False
        )

    @classmethod
    async def open(cls, url: str, *, schema: str) -> Database:
        """Connect to ``url`` and run ``schema``'s migrations to head."""
        from shardkit.store.migrate import upgrade_engine

        if schema not in SCHEMAS:
            raise ValueError(f"unknown schema {schema!r}; expected one of {SCHEMAS}")
        url = async_database_url(url)
        engine = await create_database_engine(url)
        try:
            await upgrade_engine(engine, schema, "head")
        except BaseException:
            await engine.dispose()
            raise
        return cls(engine, url=url, schema=schema)

    @property
    def dialect(self) -> str:
        """The backend name: "sqlite" or "postgresql"."""
        return self.engine.dialect.name

    def session(self) -> AsyncSession:
        """A new AsyncSession (expire_on_commit=False); use as ``async with db.session() as s``."""
        return self.sessionmaker()

    def write(self) -> AbstractAsyncContextManager[AsyncConnection]:
        """A write transaction on one connection: see :func:`write_transaction`."""
        return write_transaction(self.engine)

    async def close(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()

    def __repr__(self) -> str:
        return f"<Database {self.schema} {make_url(self.url)!r}>"


def is_unique_violation(exc: IntegrityError) -> bool:
    """Whether ``exc`` came from a UNIQUE (or primary key) constraint, on SQLite or PostgreSQL."""
    orig = exc.orig
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if sqlstate is not None:
        return bool(sqlstate == "23505")
    code = getattr(orig, "sqlite_errorcode", None)
    if code is not None:
        return code in (1555, 2067)  # SQLITE_CONSTRAINT_PRIMARYKEY, SQLITE_CONSTRAINT_UNIQUE
    return "UNIQUE constraint failed" in str(orig)


@contextmanager
def raise_name_taken(name: str) -> Iterator[None]:
    """Turn a unique-constraint IntegrityError raised inside the block into :class:`NameTaken`."""
    try:
        yield
    except IntegrityError as exc:
        if is_unique_violation(exc):
            raise NameTaken(name) from exc
        raise
