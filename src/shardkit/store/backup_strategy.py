"""What backing up one kind of database takes (a BackupStrategy), and the steps all kinds share.

A strategy copies a database into a file and puts such a file back; everything around that is
the same for every backend and lives here: a free file name reserved with mode 600, the
finished file fsynced, hashed, renamed into place and given its ``.sha256`` sidecar.
"""

from __future__ import annotations

import asyncio
import os
from abc import ABC, abstractmethod
from datetime import datetime
from pathlib import Path
from typing import ClassVar, Final

import msgspec
from sqlalchemy.engine import URL

from shardkit.runtime.private_files import ensure_private_dir
from shardkit.store.checksums import BackupError, fsync_dir, sha256_of, write_checksum
from shardkit.store.database import utcnow

__all__ = [
    "BackupFile",
    "BackupStrategy",
    "server_of",
    "take_backup",
    "utc_stamp",
]

SERVER_OF_SCHEMA: Final[dict[str, str]] = {
    "master": "master server",
    "characters": "character server",
    "gm": "GM server",
}

MAX_NAME_ATTEMPTS: Final[int] = 1000


class BackupFile(msgspec.Struct, frozen=True):
    """A finished backup: the file, its checksum and size, what made it, and when it began."""

    path: Path
    sha256: str
    size: int
    kind: str
    """The backend of the strategy that made it: ``"sqlite"`` or ``"postgresql"``."""
    created_at: datetime


class BackupStrategy(ABC):
    """How one database backend is backed up and restored.

    ``shardkit.store.backup`` keeps one registered strategy per backend and picks it by the
    database URL; a restore picks by the file's first bytes (``magic``) as well, so a backup is
    never put into a database of another kind.
    """

    backend: ClassVar[str]
    """The SQLAlchemy backend name of the URLs it serves, e.g. ``"sqlite"``."""
    title: ClassVar[str]
    """The backend's name for people, e.g. ``"SQLite"``."""
    file_kind: ClassVar[str]
    """What its backup files are, for messages: ``"a SQLite database"``."""
    suffix: ClassVar[str]
    """The ending of its backup files, e.g. ``".db"``."""
    magic: ClassVar[bytes]
    """How its backup files begin."""

    @abstractmethod
    def source_name(self, parsed: URL) -> str:
        """The default backup name for the database at ``parsed``; BackupError if it has none."""

    @abstractmethod
    async def write(self, url: str, parsed: URL, part: Path) -> None:
        """Copy the database, consistently, into the empty private file ``part``; BackupError."""

    @abstractmethod
    async def tables(self, backup: Path) -> set[str]:
        """The names of the tables in a backup file of this kind."""

    @abstractmethod
    async def restore(
        self, url: str, parsed: URL, backup: Path, *, force: bool, schema: str
    ) -> None:
        """Replace the database at ``url`` with the (verified) ``backup`` of ``schema``."""

    def discard(self, part: Path) -> None:
        """Remove an unfinished backup file (blocking)."""
        part.unlink(missing_ok=True)


def server_of(schema: str | None) -> str:
    """Which server uses the database of ``schema``, for "stop the ... first" messages."""
    return SERVER_OF_SCHEMA.get(schema or "", "server that uses it")


def utc_stamp(at: datetime) -> str:
    """A timestamp for file names: ``20250131T235959Z``."""
    return at.strftime("%Y%m%dT%H%M%SZ")


def reserve(dest_dir: Path, base: str, suffix: str) -> tuple[Path, Path]:
    """A backup name not taken yet in ``dest_dir``, and its ``.part`` file, created (mode 600)."""
    ensure_private_dir(dest_dir, what="backup folder")
    for attempt in range(MAX_NAME_ATTEMPTS):
        name = f"{base}{suffix}" if attempt == 0 else f"{base}-{attempt}{suffix}"
        final = dest_dir / name
        part = final.with_name(final.name + ".part")
        if final.exists():
            continue
        try:
            os.close(os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            continue
        return final, part
    raise BackupError(f"no free backup name for {base}{suffix} in {dest_dir}")


def publish(part: Path, final: Path, kind: str, created_at: datetime) -> BackupFile:
    """fsync the finished ``.part`` file, hash it, rename it into place and write its sidecar."""
    with open(part, "rb+") as handle:
        os.fsync(handle.fileno())
    os.chmod(part, 0o600)
    digest = sha256_of(part)
    size = part.stat().st_size
    os.rename(part, final)
    write_checksum(final, digest)
    fsync_dir(final.parent)
    return BackupFile(final, digest, size, kind, created_at)


async def take_backup(
    strategy: BackupStrategy, url: str, parsed: URL, dest_dir: Path, name: str | None
) -> BackupFile:
    """Back up the database at ``url`` into ``dest_dir/<name>-<UTC time><suffix>``, with sidecar.

    Nothing is left behind if it fails: the unfinished ``.part`` file is removed.
    """
    created_at = utcnow()
    default = strategy.source_name(parsed)  # also refuses a URL that names no database
    final, part = await asyncio.to_thread(
        reserve, Path(dest_dir), f"{name or default}-{utc_stamp(created_at)}", strategy.suffix
    )
    try:
        await strategy.write(url, parsed, part)
        return await asyncio.to_thread(publish, part, final, strategy.backend, created_at)
    except BaseException:
        await asyncio.to_thread(strategy.discard, part)
        raise
