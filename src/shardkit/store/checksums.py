"""sha256 sidecars of backups (``sha256sum`` format): hash a file; write, read, verify a sidecar."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
from pathlib import Path
from typing import Final

__all__ = [
    "CHECKSUM_SUFFIX",
    "BackupError",
    "checksum_path",
    "file_sha256",
    "fsync_dir",
    "read_checksum",
    "sha256_of",
    "verify_checksum",
    "write_checksum",
]

CHECKSUM_SUFFIX: Final[str] = ".sha256"
"""A backup's checksum sidecar is ``<backup>.sha256``, in ``sha256sum`` format."""

HASH_BLOCK: Final[int] = 1 << 20

_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


class BackupError(Exception):
    """A backup or restore was refused or failed; the message says why and what to do."""


def checksum_path(path: Path) -> Path:
    """The sidecar holding ``path``'s sha256: ``<path>.sha256``."""
    return path.with_name(path.name + CHECKSUM_SUFFIX)


def sha256_of(path: Path) -> str:
    """The hex sha256 of a file (blocking; run it in a thread)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


async def file_sha256(path: Path) -> str:
    """The hex sha256 of a file, hashed in a worker thread."""
    return await asyncio.to_thread(sha256_of, path)


def fsync_dir(directory: Path) -> None:
    """Make renames and new files in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_checksum(path: Path, sha256: str) -> Path:
    """Write ``path``'s sidecar atomically, as ``sha256sum`` does: ``<hex>  <file name>``."""
    sidecar = checksum_path(path)
    temp = sidecar.with_name(sidecar.name + ".tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(f"{sha256}  {path.name}\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, sidecar)
    return sidecar


def read_checksum(path: Path) -> str:
    """The sha256 recorded in ``path``'s sidecar; BackupError if it is missing or malformed."""
    sidecar = checksum_path(path)
    try:
        line = sidecar.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise BackupError(
            f"{sidecar} is missing, so {path.name} cannot be verified; keep each backup together "
            "with its .sha256 file"
        ) from None
    digest = line.split(maxsplit=1)[0].lower() if line else ""
    if not _SHA256_HEX.fullmatch(digest):
        raise BackupError(f"{sidecar} is not a sha256sum line: {line[:80]!r}")
    return digest


def _verify_checksum(path: Path) -> str:
    if not path.is_file():
        raise BackupError(f"no backup file at {path}")
    expected = read_checksum(path)
    actual = sha256_of(path)
    if actual != expected:
        raise BackupError(
            f"checksum mismatch: {path.name} has sha256 {actual}, but {checksum_path(path).name} "
            f"records {expected}; the backup is damaged or was altered, refusing to use it"
        )
    return actual


async def verify_checksum(path: Path) -> str:
    """Check ``path`` against its sidecar; returns the sha256, or raises BackupError."""
    return await asyncio.to_thread(_verify_checksum, path)
