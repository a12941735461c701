"""Test helpers: a fresh, empty database per test, on SQLite or on the SHARDKIT_TEST_PG server."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Final

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from shardkit.store.database import sqlite_url

__all__ = ["DEFAULT_TEST_PG", "PostgresUnavailable", "fresh_database_url", "pg_base_url"]

DEFAULT_TEST_PG: Final[str] = "postgresql://postgres@127.0.0.1:5432/test"
CONNECT_TIMEOUT_S: Final[float] = 5.0

Cleanup = Callable[[], Awaitable[None]]


class PostgresUnavailable(RuntimeError):
    """The test PostgreSQL server could not be reached (or refused to create a database)."""


def pg_base_url() -> str:
    """The base PostgreSQL URL from ``SHARDKIT_TEST_PG`` (or the default), using asyncpg."""
    url = make_url(os.environ.get("SHARDKIT_TEST_PG") or DEFAULT_TEST_PG)
    return url.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


async def _fresh_postgres() -> tuple[str, Cleanup]:
    base = make_url(pg_base_url())
    name = f"shardkit_test_{uuid.uuid4().hex[:16]}"
    admin = create_async_engine(
        base,
        poolclass=NullPool,
        isolation_level="AUTOCOMMIT",
        connect_args={"timeout": CONNECT_TIMEOUT_S},
    )
    try:
        async with admin.connect() as conn:
            await conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except Exception as exc:  # refused, timed out, auth failed, no base database, no CREATEDB, ...
        await admin.dispose()
        raise PostgresUnavailable(f"{base!r}: {exc!r}") from exc

    async def cleanup() -> None:
        try:
            async with admin.connect() as conn:
                await conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.dispose()

    return base.set(database=name).render_as_string(hide_password=False), cleanup


async def _fresh_sqlite(tmp_path: Path) -> tuple[str, Cleanup]:
    # The parent directory does not exist yet: Database.open creates it.
    path = Path(tmp_path) / f"db-{uuid.uuid4().hex[:8]}" / "store.db"

    async def cleanup() -> None:
        def remove() -> None:
            for suffix in ("", "-wal", "-shm", "-journal"):
                path.with_name(path.name + suffix).unlink(missing_ok=True)

        await asyncio.to_thread(remove)

    return sqlite_url(path), cleanup


async def fresh_database_url(kind: str, tmp_path: Path) -> tuple[str, Cleanup]:
    """A URL of a new, empty database and an async cleanup that removes it.

    ``kind`` is "sqlite" (a file under ``tmp_path``) or "postgresql" (a uniquely named database on
    the server from ``SHARDKIT_TEST_PG``, dropped WITH (FORCE) by the cleanup). Raises
    :class:`PostgresUnavailable` when that server cannot be reached.
    """
    if kind == "sqlite":
        return await _fresh_sqlite(tmp_path)
    if kind == "postgresql":
        return await _fresh_postgres()
    raise ValueError(f"unknown database kind {kind!r}; expected 'sqlite' or 'postgresql'")


async def _postgres_problem() -> str | None:
    try:
        _url, cleanup = await _fresh_postgres()
    except PostgresUnavailable as exc:
        return str(exc)
    await cleanup()
    return None


# `python -m shardkit.store.testing`: exit 0 if test databases can be made
if __name__ == "__main__":
    import sys

    problem = asyncio.run(_postgres_problem())
    print(problem or pg_base_url())
    sys.exit(1 if problem else 0)
