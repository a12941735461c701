"""Database backups and restores, one registered BackupStrategy per database backend.

The public face of the backup modules: :func:`backup_database` and :func:`restore_database` pick
the strategy from the database URL (SQLite: online copies, PostgreSQL: pg_dump archives), and the
checksum helpers every backup carries (:mod:`shardkit.store.checksums`) are re-exported here.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Final

from sqlalchemy.engine import URL, make_url

from shardkit.store.backup_postgresql import PostgreSQLBackup, libpq_target
from shardkit.store.backup_sqlite import SQLiteBackup
from shardkit.store.backup_strategy import BackupFile, BackupStrategy, take_backup
from shardkit.store.checksums import (
    CHECKSUM_SUFFIX,
    BackupError,
    checksum_path,
    file_sha256,
    fsync_dir,
    read_checksum,
    verify_checksum,
    write_checksum,
)
from shardkit.store.database import SCHEMAS, async_database_url
from shardkit.store.migrate import upgrade

__all__ = [
    "BACKUP_STRATEGIES",
    "CHECKSUM_SUFFIX",
    "BackupError",
    "BackupFile",
    "BackupStrategy",
    "backup_database",
    "checksum_path",
    "file_sha256",
    "fsync_dir",
    "libpq_target",
    "read_checksum",
    "register_backup_strategy",
    "restore_database",
    "strategy_for_file",
    "strategy_for_url",
    "verify_checksum",
    "write_checksum",
]

log = logging.getLogger(__name__)

MAGIC_BYTES: Final[int] = 16
"""How much of a backup file is read to tell its kind."""

SCHEMA_MARKER_TABLES: Final[dict[str, str]] = {
    "characters": "characters",
    "accounts": "master",
    "audit_log": "gm",
}
"""A table that only one schema has, to tell which database a backup is of."""

BACKUP_STRATEGIES: dict[str, BackupStrategy] = {}
"""The registered strategies by backend name (see :func:`register_backup_strategy`)."""


def register_backup_strategy(strategy: BackupStrategy) -> None:
    """Back up and restore databases of ``strategy.backend`` with ``strategy`` from now on."""
    if len(strategy.magic) > MAGIC_BYTES:
        raise ValueError(f"a backup file's magic is at most {MAGIC_BYTES} bytes")
    BACKUP_STRATEGIES[strategy.backend] = strategy


register_backup_strategy(SQLiteBackup())
register_backup_strategy(PostgreSQLBackup())


def strategy_for_url(url: str) -> tuple[BackupStrategy, URL]:
    """The strategy for the database at ``url``, and the URL parsed; BackupError if none."""
    parsed = make_url(async_database_url(url))
    strategy = BACKUP_STRATEGIES.get(parsed.get_backend_name())
    if strategy is None:
        titles = " and ".join(s.title for s in BACKUP_STRATEGIES.values())
        raise BackupError(f"cannot back up {parsed!r}: only {titles} are supported")
    return strategy, parsed


def strategy_for_file(path: Path) -> BackupStrategy | None:
    """The strategy whose backup files begin as ``path`` does (blocking), or None."""
    with open(path, "rb") as handle:
        head = handle.read(MAGIC_BYTES)
    for strategy in BACKUP_STRATEGIES.values():
        if head.startswith(strategy.magic):
            return strategy
    return None


async def backup_database(url: str, dest_dir: Path, *, name: str | None = None) -> BackupFile:
    """Back up the database at ``url`` into ``dest_dir/<name>-<UTC time>.db`` (or ``.dump``).

    SQLite: the online backup API in a worker thread, one step, so the copy is a consistent
    snapshot even while a server writes (WAL); the copy passes ``integrity_check``. PostgreSQL:
    ``pg_dump --format=custom``. ``name`` defaults to the SQLite file's stem or the database name.
    A ``<file>.sha256`` sidecar is written next to the backup.
    """
    strategy, parsed = strategy_for_url(url)
    return await take_backup(strategy, url, parsed, Path(dest_dir), name)


async def _check_kind(strategy: BackupStrategy, backup: Path) -> None:
    """Refuse a SQLite backup for a PostgreSQL database and the other way round."""
    found = await asyncio.to_thread(strategy_for_file, backup)
    if found is None:
        kinds = " nor ".join(s.file_kind for s in BACKUP_STRATEGIES.values())
        raise BackupError(f"{backup} is neither {kinds}")
    if found is not strategy:
        raise BackupError(
            f"{backup.name} is a {found.backend} backup but the target database is "
            f"{strategy.backend}; restore it into a {found.backend} database_url"
        )


def _schema_of(tables: set[str]) -> str | None:
    found = {SCHEMA_MARKER_TABLES[t] for t in tables if t in SCHEMA_MARKER_TABLES}
    return found.pop() if len(found) == 1 else None


async def _check_schema(strategy: BackupStrategy, backup: Path, schema: str | None) -> str:
    """The schema the backup holds; BackupError if unknown or not the one asked for."""
    if schema is not None and schema not in SCHEMAS:
        raise BackupError(f"unknown schema {schema!r}; expected one of {', '.join(SCHEMAS)}")
    found = _schema_of(await strategy.tables(backup))
    if found is None:
        raise BackupError(f"{backup} does not look like a shardkit database backup")
    if schema is not None and found != schema:
        raise BackupError(f"{backup.name} is a backup of the {found} database, not of {schema}")
    return found


async def restore_database(
    url: str, backup: Path, *, force: bool, schema: str | None = None
) -> None:
    """Restore ``backup`` into the database at ``url``, then migrate it to head.

    The sidecar checksum is verified first. ``schema`` (default: read from the backup) must match
    the backup. SQLite: an existing database is replaced only with ``force``, and never while a
    server has it open; the old file (with its -wal/-shm) is renamed to
    ``<name>.before-restore-<time>``. PostgreSQL: ``pg_restore --clean --if-exists --no-owner``
    in one transaction; a non-empty database needs ``force`` and is dumped first.
    """
    strategy, parsed = strategy_for_url(url)
    backup = Path(backup)
    digest = await verify_checksum(backup)
    await _check_kind(strategy, backup)
    schema = await _check_schema(strategy, backup, schema)
    await strategy.restore(url, parsed, backup, force=force, schema=schema)
    log.info("restored %s (sha256 %s) into the %s database", backup.name, digest, schema)
    await upgrade(url, schema)
