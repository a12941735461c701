"""The daemon's backup vault: database backups uploaded from another host, checked on arrival."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
import secrets
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Final

from shardkit.config.settings import Settings, WorldSettings
from shardkit.daemon.backup_schemas import (
    BackupBegin,
    BackupChunk,
    BackupEnd,
    BackupFetch,
    ChunkReceived,
    FetchedChunk,
    StoredBackup,
    UploadDone,
    UploadStarted,
)
from shardkit.runtime.peerlog import quote
from shardkit.runtime.private_files import ensure_private_dir
from shardkit.store.backup import (
    CHECKSUM_SUFFIX,
    BackupError,
    checksum_path,
    fsync_dir,
    read_checksum,
    write_checksum,
)
from shardkit.wire.rpc import RpcConnection, RpcError, rpc

log = logging.getLogger("shardkit.daemon.backups")

MAX_CHUNK_BYTES: Final[int] = 128 * 1024
MAX_BACKUP_BYTES: Final[int] = 8 * 1024**3
SPACE_HEADROOM_BYTES: Final[int] = 64 * 1024**2
"""An upload must leave this much free space on the vault's disk."""
MAX_UPLOADS_PER_CONNECTION: Final[int] = 2
MAX_UPLOADS: Final[int] = 8
PART_PREFIX: Final[str] = ".upload-"
ROLES: Final[tuple[str, ...]] = ("backup",)

BACKUP_NAME: Final[re.Pattern[str]] = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_SHA256_HEX: Final[re.Pattern[str]] = re.compile(r"^[0-9a-f]{64}$")


def check_backup_name(name: str) -> None:
    """Refuse anything but a plain file name (no path separators, no leading dot, no sidecars)."""
    if not BACKUP_NAME.fullmatch(name) or name.endswith((CHECKSUM_SUFFIX, ".part", ".tmp")):
        raise RpcError(
            "bad_name",
            "a backup name is 1-128 letters, digits, '.', '_' or '-', starts with a letter or "
            "digit, and does not end in .sha256, .part or .tmp",
        )


@dataclass(eq=False)
class _Upload:
    """One upload in progress: a temp file in the vault, hashed as the chunks arrive."""

    id: str
    name: str
    size: int
    sha256: str
    part: Path
    handle: IO[bytes]
    owner: RpcConnection
    hasher: Any = field(default_factory=hashlib.sha256)
    received: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    busy: asyncio.Future[None] | None = None

    def write(self, data: bytes) -> None:
        """Append a chunk and hash it (blocking; run in a thread)."""
        self.handle.write(data)
        self.hasher.update(data)

    def discard(self) -> None:
        """Close and delete the temp file (blocking)."""
        try:
            self.handle.close()
        finally:
            self.part.unlink(missing_ok=True)

    def commit(self, final: Path) -> None:
        """fsync, rename into place and write the sidecar (blocking)."""
        self.handle.flush()
        os.fsync(self.handle.fileno())
        self.handle.close()
        if final.exists():
            raise FileExistsError(final)
        os.rename(self.part, final)
        write_checksum(final, self.sha256)
        fsync_dir(final.parent)


class BackupVault:
    """Methods of the daemon's port 7000 for role ``backup``: store and hand back backups.

    Backups land in ``<data_dir>/backups/<world>/`` with a ``.sha256`` sidecar, only after the
    sha256 of what arrived matched the one announced. Chunks stream to a temp file (bounded
    memory); an upload abandoned by its connection is deleted.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._uploads: dict[str, _Upload] = {}
        self._watched: set[RpcConnection] = set()  # connections whose close aborts their uploads
        self._prepared: asyncio.Future[None] | None = None

    @classmethod
    def for_world(cls, settings: Settings, world: WorldSettings) -> BackupVault:
        return cls(settings.data_dir / "backups" / world.name)

    # ------------------------------------------------------------------ helpers

    def _prepare(self) -> None:
        """Create the vault directory (mode 700) and drop temp files of an earlier run."""
        ensure_private_dir(self.directory, what="backup vault")
        for stale in self.directory.glob(f"{PART_PREFIX}*"):
            log.info("removing %s, left over from an earlier upload", stale.name)
            stale.unlink(missing_ok=True)

    def _needs_prepare(self) -> bool:
        task = self._prepared
        if task is None:
            return True
        return task.done() and (task.cancelled() or task.exception() is not None)

    async def _ensure_directory(self) -> None:
        """Prepare the directory once (again after a failure); concurrent callers share the run."""
        if self._needs_prepare():
            self._prepared = asyncio.ensure_future(asyncio.to_thread(self._prepare))
        assert self._prepared is not None
        await asyncio.shield(self._prepared)

    def _free_bytes(self) -> int:
        return shutil.disk_usage(self.directory).free

    def _check_begin(self, conn: RpcConnection, p: BackupBegin) -> None:
        check_backup_name(p.name)
        if not _SHA256_HEX.fullmatch(p.sha256.lower()):
            raise RpcError("bad_params", "`sha256` must be 64 hex digits")
        if p.size <= 0:
            raise RpcError("bad_params", "`size` must be positive")
        if p.size > MAX_BACKUP_BYTES:
            raise RpcError("backup_too_large", f"backups are limited to {MAX_BACKUP_BYTES} bytes")
        if any(u.name == p.name for u in self._uploads.values()):
            raise RpcError("exists", f"an upload of {p.name} is already in progress")
        mine = sum(1 for u in self._uploads.values() if u.owner is conn)
        if mine >= MAX_UPLOADS_PER_CONNECTION or len(self._uploads) >= MAX_UPLOADS:
            raise RpcError("too_many_uploads", "too many uploads in progress; finish one first")

    def _open_part(self, upload_id: str, name: str) -> tuple[Path, IO[bytes]]:
        if (self.directory / name).exists():
            raise FileExistsError(name)
        part = self.directory / f"{PART_PREFIX}{upload_id}.part"
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        return part, os.fdopen(fd, "wb")

    def _upload(self, conn: RpcConnection, upload_id: str) -> _Upload:
        upload = self._uploads.get(upload_id)
        if upload is None or upload.owner is not conn:
            raise RpcError("no_such_upload", "no upload with that id on this connection")
        return upload

    def _watch(self, conn: RpcConnection) -> None:
        if conn not in self._watched:
            self._watched.add(conn)
            conn.on_close(self._connection_closed)

    async def _connection_closed(self, conn: RpcConnection) -> None:
        self._watched.discard(conn)
        for upload in [u for u in self._uploads.values() if u.owner is conn]:
            await self._abort(upload)
            log.info("backup upload of %s abandoned (%s): partial file removed",
                     upload.name, quote(conn.close_reason or "connection closed"))

    async def _abort(self, upload: _Upload) -> None:
        self._uploads.pop(upload.id, None)
        if upload.busy is not None:
            await asyncio.wait([upload.busy])  # a chunk still being written in its thread
        await asyncio.to_thread(upload.discard)

    async def _fail(self, upload: _Upload, code: str, message: str) -> RpcError:
        await self._abort(upload)
        return RpcError(code, f"{message}; upload of {upload.name} abandoned")

    # ------------------------------------------------------------------ methods

    @rpc("backup_begin", BackupBegin, roles=ROLES)
    async def backup_begin(self, conn: RpcConnection, p: BackupBegin) -> UploadStarted:
        """Announce a backup upload: its file name, size and sha256; answers an upload id."""
        self._check_begin(conn, p)
        await self._ensure_directory()
        reserved = sum(u.size - u.received for u in self._uploads.values())
        free = await asyncio.to_thread(self._free_bytes)
        if free - reserved < p.size + SPACE_HEADROOM_BYTES:
            raise RpcError("no_space", f"the daemon's disk has {free - reserved} bytes to spare")
        upload_id = secrets.token_hex(16)
        try:
            part, handle = await asyncio.to_thread(self._open_part, upload_id, p.name)
        except FileExistsError:
            raise RpcError("exists", f"a backup named {p.name} is already stored") from None
        self._uploads[upload_id] = _Upload(upload_id, p.name, p.size, p.sha256.lower(), part,
                                           handle, conn)
        self._watch(conn)
        log.info("receiving backup %s (%d bytes) from %s", p.name, p.size, conn.label)
        return UploadStarted(upload_id, MAX_CHUNK_BYTES)

    @rpc("backup_chunk", BackupChunk, roles=ROLES)
    async def backup_chunk(self, conn: RpcConnection, p: BackupChunk) -> ChunkReceived:
        """Append the next chunk (at most 128 KiB) of an upload, at the offset received so far."""
        upload = self._upload(conn, p.upload_id)
        async with upload.lock:
            if upload.id not in self._uploads:
                raise RpcError("no_such_upload", "the upload was abandoned")
            if not 0 < len(p.data) <= MAX_CHUNK_BYTES:
                raise await self._fail(
                    upload, "bad_params", f"chunks are 1 to {MAX_CHUNK_BYTES} bytes"
                )
            if p.offset != upload.received or p.offset + len(p.data) > upload.size:
                raise await self._fail(
                    upload, "bad_offset",
                    f"chunk at {p.offset}+{len(p.data)}: expected offset {upload.received}, "
                    f"size {upload.size}",
                )
            upload.busy = asyncio.ensure_future(asyncio.to_thread(upload.write, p.data))
            try:
                await asyncio.shield(upload.busy)
            except OSError as exc:
                raise await self._fail(upload, "storage_error", f"cannot write: {exc}") from None
            upload.received += len(p.data)
            return ChunkReceived(upload.received)

    @rpc("backup_end", BackupEnd, roles=ROLES)
    async def backup_end(self, conn: RpcConnection, p: BackupEnd) -> UploadDone:
        """Finish an upload: check the sha256 of what arrived, then store it with its sidecar."""
        upload = self._upload(conn, p.upload_id)
        async with upload.lock:
            if upload.id not in self._uploads:
                raise RpcError("no_such_upload", "the upload was abandoned")
            if upload.received != upload.size:
                raise await self._fail(
                    upload, "incomplete", f"{upload.received} of {upload.size} bytes arrived"
                )
            arrived = upload.hasher.hexdigest()
            if arrived != upload.sha256:
                log.warning("backup %s from %s failed its checksum", upload.name, conn.label)
                raise await self._fail(
                    upload, "checksum_mismatch",
                    f"announced sha256 {upload.sha256}, but what arrived has {arrived}",
                )
            self._uploads.pop(upload.id, None)
            try:
                await asyncio.to_thread(upload.commit, self.directory / upload.name)
            except OSError as exc:
                await asyncio.to_thread(upload.discard)
                raise RpcError("storage_error", f"cannot store {upload.name}: {exc}") from None
        log.info("stored backup %s (%d bytes, sha256 %s)", upload.name, upload.size, arrived)
        return UploadDone(True, upload.name, arrived, upload.size)

    def _list(self) -> list[StoredBackup]:
        found = []
        for path in sorted(self.directory.glob("*")):
            if not BACKUP_NAME.fullmatch(path.name) or path.name.endswith(CHECKSUM_SUFFIX):
                continue
            if not path.is_file() or not checksum_path(path).is_file():
                continue
            try:
                digest = read_checksum(path)
            except BackupError:
                continue
            stat = path.stat()
            modified = datetime.fromtimestamp(stat.st_mtime, UTC).isoformat()
            found.append(StoredBackup(path.name, stat.st_size, digest, modified))
        return found

    @rpc("backup_list", roles=ROLES)
    async def backup_list(self, conn: RpcConnection) -> list[StoredBackup]:
        """The backups stored here, with their sizes and checksums."""
        await self._ensure_directory()
        return await asyncio.to_thread(self._list)

    def _read(self, name: str, offset: int, length: int) -> FetchedChunk:
        path = self.directory / name
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            handle.seek(offset)
            return FetchedChunk(handle.read(length), size)

    @rpc("backup_fetch", BackupFetch, roles=ROLES)
    async def backup_fetch(self, conn: RpcConnection, p: BackupFetch) -> FetchedChunk:
        """Read up to 128 KiB of a stored backup from ``offset`` (empty data past the end)."""
        check_backup_name(p.name)
        if p.offset < 0 or not 0 < p.length <= MAX_CHUNK_BYTES:
            raise RpcError("bad_params", f"`offset` >= 0 and `length` 1 to {MAX_CHUNK_BYTES}")
        await self._ensure_directory()
        try:
            return await asyncio.to_thread(self._read, p.name, p.offset, p.length)
        except (FileNotFoundError, IsADirectoryError):
            raise RpcError("no_such_backup", f"no backup named {p.name}") from None
