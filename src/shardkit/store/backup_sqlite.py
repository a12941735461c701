"""SQLite backups: online copies by SQLite's backup API; restores that never touch a file in use."""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
from pathlib import Path
from typing import ClassVar, Final
from urllib.parse import quote

from sqlalchemy.engine import URL

from shardkit.runtime.private_files import create_private_dirs, create_private_file, tighten
from shardkit.store.backup_strategy import BackupStrategy, server_of, utc_stamp
from shardkit.store.checksums import BackupError, fsync_dir
from shardkit.store.database import utcnow

__all__ = ["SQLiteBackup"]

log = logging.getLogger(__name__)

LOCK_PROBE_TIMEOUT_S: Final[float] = 0.2
"""How long a restore waits for the SQLite lock before deciding a server holds the database."""

SIDE_SUFFIXES: Final[tuple[str, ...]] = ("", "-wal", "-shm", "-journal")
"""A SQLite database is its file plus these side files beside it."""


def _database_path(parsed: URL) -> Path:
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise BackupError(f"{parsed!r} is not a SQLite database file")
    return Path(database)


def _open(path: Path, mode: str, timeout: float = 5.0) -> sqlite3.Connection:
    """Open an existing SQLite file (never creates one); ``mode`` is ``rw`` or ``ro``."""
    options = "mode=ro&immutable=1" if mode == "ro" else "mode=rw"
    uri = f"file:{quote(str(path.absolute()))}?{options}"
    try:
        return sqlite3.connect(uri, uri=True, timeout=timeout, isolation_level=None)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot open {path}: {exc}") from None


def _check_integrity(conn: sqlite3.Connection, path: Path) -> None:
    rows = [str(row[0]) for row in conn.execute("PRAGMA integrity_check").fetchall()]
    if rows != ["ok"]:
        raise BackupError(f"integrity_check of {path} failed: {'; '.join(rows[:5])}")


def _copy(source: sqlite3.Connection, target: Path) -> None:
    """Copy ``source`` into the (empty) file ``target`` in one backup step; check the copy."""
    dest = sqlite3.connect(target, isolation_level=None)
    try:
        source.backup(dest)  # one step: a single read transaction, a consistent snapshot
        dest.execute("PRAGMA journal_mode=DELETE")  # a self-contained file, no -wal beside it
        _check_integrity(dest, target)
    finally:
        dest.close()


def _remove_with_side_files(path: Path) -> None:
    for suffix in SIDE_SUFFIXES:
        path.with_name(path.name + suffix).unlink(missing_ok=True)


def _backup(source_path: Path, part: Path) -> None:
    if not source_path.is_file():
        raise BackupError(f"no database at {source_path}")
    source = _open(source_path, "rw")  # WAL: readers do not block the server's writes
    try:
        _copy(source, part)
    except sqlite3.Error as exc:
        raise BackupError(f"backup of {source_path} failed: {exc}") from None
    finally:
        source.close()


def _tables(path: Path) -> set[str]:
    conn = _open(path, "ro")
    try:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} is not a SQLite database: {exc}") from None
    finally:
        conn.close()
    return {str(row[0]) for row in rows}


def _refuse_if_in_use(path: Path, schema: str | None) -> None:
    """Refuse when any other connection has the database open (a running server, even idle).

    In exclusive locking mode the first read needs an exclusive lock on the file, which no one
    gets while another connection holds the database open in WAL mode or is writing to it.
    """
    conn = _open(path, "rw", timeout=LOCK_PROBE_TIMEOUT_S)
    try:
        conn.execute("PRAGMA locking_mode=EXCLUSIVE")
        conn.execute("BEGIN EXCLUSIVE")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        conn.execute("ROLLBACK")
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise BackupError(
                f"{path} is in use by another process ({exc}): stop the {server_of(schema)} "
                "first, then restore"
            ) from None
        raise BackupError(f"cannot lock {path}: {exc}") from None
    finally:
        conn.close()


def _move_aside(path: Path, stamp: str) -> Path:
    """Rename the database and its -wal/-shm/-journal to ``<name>.before-restore-<stamp>...``."""
    base = path.with_name(f"{path.name}.before-restore-{stamp}")
    attempt = 0
    while any(base.with_name(base.name + s).exists() for s in SIDE_SUFFIXES):
        attempt += 1
        base = path.with_name(f"{path.name}.before-restore-{stamp}-{attempt}")
    for suffix in SIDE_SUFFIXES:
        old = path.with_name(path.name + suffix)
        if old.exists():
            kept = base.with_name(base.name + suffix)
            os.rename(old, kept)
            tighten(kept, what="replaced database")  # it holds the same secrets as a backup
    return base


def _restore(backup: Path, target: Path, *, force: bool, schema: str | None) -> Path | None:
    """Put ``backup`` in place at ``target``; returns where the old database was moved, if any."""
    moved = None
    leftovers = [target.with_name(target.name + s) for s in SIDE_SUFFIXES]
    if target.exists():
        if not force:
            raise BackupError(
                f"{target} exists; pass --force to replace it (the old file is kept beside it "
                "as <name>.before-restore-<time>)"
            )
        _refuse_if_in_use(target, schema)
    if any(p.exists() for p in leftovers):
        moved = _move_aside(target, utc_stamp(utcnow()))
    create_private_dirs(target.parent)
    staging = target.with_name(target.name + ".restoring")
    _remove_with_side_files(staging)
    create_private_file(staging)  # mode 600 before a byte is copied (SQLite keeps the mode)
    source = _open(backup, "ro")
    try:
        _copy(source, staging)
    except sqlite3.Error as exc:
        _remove_with_side_files(staging)
        raise BackupError(f"restoring {backup} failed: {exc}") from None
    finally:
        source.close()
    with open(staging, "rb+") as handle:
        os.fsync(handle.fileno())
    os.rename(staging, target)
    fsync_dir(target.parent)
    return moved


class SQLiteBackup(BackupStrategy):
    """SQLite: the online backup API in a worker thread, one step, so the copy is a consistent
    snapshot even while a server writes (WAL); the copy passes ``integrity_check``.

    A restore replaces an existing database only with ``force``, and never while a server has it
    open; the old file (with its -wal/-shm) is renamed to ``<name>.before-restore-<time>``.
    """

    backend: ClassVar[str] = "sqlite"
    title: ClassVar[str] = "SQLite"
    file_kind: ClassVar[str] = "a SQLite database"
    suffix: ClassVar[str] = ".db"
    magic: ClassVar[bytes] = b"SQLite format 3\x00"

    def source_name(self, parsed: URL) -> str:
        return _database_path(parsed).stem

    async def write(self, url: str, parsed: URL, part: Path) -> None:
        await asyncio.to_thread(_backup, _database_path(parsed), part)

    async def tables(self, backup: Path) -> set[str]:
        return await asyncio.to_thread(_tables, backup)

    async def restore(
        self, url: str, parsed: URL, backup: Path, *, force: bool, schema: str
    ) -> None:
        target = _database_path(parsed)
        moved = await asyncio.to_thread(_restore, backup, target, force=force, schema=schema)
        if moved is not None:
            log.info("the replaced database was moved to %s", moved)

    def discard(self, part: Path) -> None:
        _remove_with_side_files(part)
