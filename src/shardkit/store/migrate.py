"""Alembic migrations driven from code: one tree per schema, run via AsyncConnection.run_sync."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Final

from alembic import command
from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from shardkit.store.database import (
    SCHEMAS,
    advisory_lock,
    async_database_url,
    create_database_engine,
    write_transaction,
)

__all__ = [
    "MIGRATIONS_DIR",
    "alembic_config",
    "current_revision",
    "head_revision",
    "run_env",
    "upgrade",
    "upgrade_engine",
]

MIGRATIONS_DIR: Final[Path] = Path(__file__).resolve().parent / "migrations"
"""Holds one alembic script directory per schema: ``migrations/<schema>/``."""

# Advisory lock key ("shkmig") that serializes processes migrating one PostgreSQL database at once.
_PG_MIGRATION_LOCK: Final[int] = 0x73686B6D6967


def _check_schema(schema: str) -> None:
    if schema not in SCHEMAS:
        raise ValueError(f"unknown schema {schema!r}; expected one of {SCHEMAS}")


def alembic_config(schema: str, url: str | None = None) -> Config:
    """An in-memory alembic Config for ``schema`` (no alembic.ini).

    ``url`` is only needed when alembic itself must connect (offline ``--sql`` mode, or running
    ``alembic.command`` functions without passing a connection in ``config.attributes``).
    """
    _check_schema(schema)
    config = Config()
    # Config values go through configparser interpolation: a literal "%" must be doubled.
    config.set_main_option("script_location", str(MIGRATIONS_DIR / schema).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    if url is not None:
        config.set_main_option("sqlalchemy.url", async_database_url(url).replace("%", "%%"))
    return config


def _run_upgrade(connection: Connection, config: Config, revision: str) -> None:
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def upgrade_engine(engine: AsyncEngine, schema: str, revision: str = "head") -> None:
    """Upgrade the database behind ``engine`` to ``revision`` in one transaction.

    On SQLite the transaction starts with BEGIN IMMEDIATE (the write lock is taken up front); on
    PostgreSQL a transaction-scoped advisory lock serializes processes migrating at the same time.
    """
    config = alembic_config(schema)
    async with write_transaction(engine) as conn:
        await advisory_lock(conn, _PG_MIGRATION_LOCK)
        await conn.run_sync(_run_upgrade, config, revision)


async def upgrade(url: str, schema: str, revision: str = "head") -> None:
    """Upgrade the ``schema`` database at ``url`` to ``revision`` (``shardkit db upgrade``)."""
    _check_schema(schema)
    engine = await create_database_engine(url)
    try:
        await upgrade_engine(engine, schema, revision)
    finally:
        await engine.dispose()


async def current_revision(url: str, schema: str) -> str | None:
    """The revision the database at ``url`` is at; None if unmigrated (or a missing SQLite file)."""
    _check_schema(schema)
    url = async_database_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        if not await asyncio.to_thread(Path(parsed.database).exists):
            return None
    engine = await create_database_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(_current)
    finally:
        await engine.dispose()


def _head(schema: str) -> str:
    head = ScriptDirectory.from_config(alembic_config(schema)).get_current_head()
    if head is None:
        raise RuntimeError(f"schema {schema!r} has no migrations")
    return head


async def head_revision(schema: str) -> str:
    """The newest revision of ``schema``'s migration tree (reads the scripts in a worker thread)."""
    return await asyncio.to_thread(_head, schema)


def _configure_online(
    context: EnvironmentContext, connection: Connection, target_metadata: MetaData
) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_with_url(context: EnvironmentContext, url: str, target_metadata: MetaData) -> None:
    engine = await create_database_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(
                lambda sync_conn: _configure_online(context, sync_conn, target_metadata)
            )
    finally:
        await engine.dispose()


def run_env(context: Any, target_metadata: MetaData) -> None:
    """The body of every schema's ``env.py``.

    Normally a connection is handed over in ``config.attributes["connection"]`` (see
    :func:`upgrade_engine`). Without one, ``sqlalchemy.url`` from the config is used: offline mode
    renders SQL, online mode connects with its own engine (not from inside a running event loop).
    """
    config: Config = context.config
    if context.is_offline_mode():
        context.configure(
            url=config.get_main_option("sqlalchemy.url"),
            target_metadata=target_metadata,
            literal_binds=True,
            dialect_opts={"paramstyle": "named"},
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure_online(context, connection, target_metadata)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError(
            "no connection or sqlalchemy.url given; use shardkit.store.migrate.upgrade()"
        )
    asyncio.run(_run_with_url(context, url, target_metadata))
