"""Client of a daemon's backup vault: upload a backup (with progress), list, and fetch one back."""

from __future__ import annotations

import asyncio
import collections
import hashlib
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, Final

from shardkit.config.settings import Settings
from shardkit.daemon.api import BackupVaultApi
from shardkit.daemon.backup_schemas import ChunkReceived, StoredBackup, UploadDone
from shardkit.daemon.backups import MAX_CHUNK_BYTES, check_backup_name
from shardkit.runtime.private_files import create_private_dirs
from shardkit.store.backup import BackupError, file_sha256, fsync_dir, write_checksum
from shardkit.wire.handshake import authenticate_service
from shardkit.wire.rpc import RpcConnection, connect

Progress = Callable[[int, int], None]
"""Called with (bytes done, bytes in all) as an upload or download goes."""

WINDOW: Final[int] = 4
"""Chunks in flight at once during an upload (each at most 128 KiB)."""
END_TIMEOUT_S: Final[float] = 600.0
"""backup_end fsyncs the whole file on the daemon; allow for a slow disk."""


async def connect_vault(settings: Settings, world: str) -> RpcConnection:
    """Dial ``world``'s daemon port 7000 and authenticate as role ``backup`` (characters_link)."""
    daemon = settings.world(world).daemon
    try:
        conn = await connect(daemon.host, daemon.world_port)
    except OSError as exc:  # refused, unreachable, timed out
        raise BackupError(f"cannot reach the daemon of {world} at {daemon.host}:"
                          f"{daemon.world_port}: {exc or 'timed out'}") from None
    try:
        await authenticate_service(
            conn, role="backup", name=f"backup@{socket.gethostname()}",
            secret=settings.secrets.key("characters_link"), peer_role="daemon",
        )
    except BaseException:
        conn.close("authentication failed")
        raise
    return conn


async def _send_chunks(
    conn: RpcConnection, upload_id: str, handle: IO[bytes], size: int, progress: Progress | None
) -> None:
    """Send the file in order, keeping up to WINDOW chunks in flight."""
    vault = BackupVaultApi(conn)
    pending: collections.deque[asyncio.Future[ChunkReceived]] = collections.deque()
    offset = 0
    try:
        while offset < size or pending:
            if offset < size and len(pending) < WINDOW:
                data = await asyncio.to_thread(handle.read, min(MAX_CHUNK_BYTES, size - offset))
                if not data:
                    raise BackupError("the backup file shrank while it was being uploaded")
                pending.append(asyncio.ensure_future(vault.chunk(upload_id, offset, data)))
                offset += len(data)
                continue
            done = await pending.popleft()
            if progress is not None:
                progress(done.received, size)
    finally:
        for future in pending:
            future.cancel()


async def upload_backup(
    conn: RpcConnection, path: Path, *, sha256: str | None = None, progress: Progress | None = None
) -> UploadDone:
    """Upload ``path`` to the vault; returns what the daemon verified and stored.

    Raises RpcError (e.g. ``checksum_mismatch``) if the daemon refused it, and BackupError if
    the daemon's answer does not match the local file.
    """
    check_backup_name(path.name)
    size = (await asyncio.to_thread(path.stat)).st_size
    digest = sha256 or await file_sha256(path)
    vault = BackupVaultApi(conn)
    started = await vault.begin(path.name, size, digest)
    handle = await asyncio.to_thread(open, path, "rb")
    try:
        await _send_chunks(conn, started.upload_id, handle, size, progress)
    finally:
        await asyncio.to_thread(handle.close)
    done = await vault.end(started.upload_id, timeout=END_TIMEOUT_S)
    if done.sha256 != digest or done.size != size:
        raise BackupError(f"the daemon stored {done.size} bytes with sha256 {done.sha256}, "
                          f"but {path.name} has {size} bytes with sha256 {digest}")
    return done


async def list_backups(conn: RpcConnection) -> list[StoredBackup]:
    """The backups stored in the vault."""
    return await BackupVaultApi(conn).list()


def _open_new(path: Path) -> IO[bytes]:
    create_private_dirs(path.parent)
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")


def _append(handle: IO[bytes], digest: Any, data: bytes) -> None:
    handle.write(data)
    digest.update(data)


def _finish_fetch(handle: IO[bytes], part: Path, final: Path, sha256: str) -> None:
    handle.flush()
    os.fsync(handle.fileno())
    handle.close()
    os.rename(part, final)
    write_checksum(final, sha256)
    fsync_dir(final.parent)


async def fetch_backup(
    conn: RpcConnection, name: str, dest_dir: Path, *, progress: Progress | None = None
) -> Path:
    """Pull a stored backup into ``dest_dir`` and check it against the vault's sha256."""
    stored = {b.name: b for b in await list_backups(conn)}.get(name)
    if stored is None:
        raise BackupError(f"the daemon has no backup named {name}")
    final = dest_dir / name
    if await asyncio.to_thread(final.exists):
        raise BackupError(f"{final} exists already")
    part = final.with_name(final.name + ".part")
    handle = await asyncio.to_thread(_open_new, part)
    try:
        received = await _receive(conn, stored, handle, progress)
    except BaseException:
        await asyncio.to_thread(handle.close)
        await asyncio.to_thread(part.unlink, missing_ok=True)
        raise
    await asyncio.to_thread(_finish_fetch, handle, part, final, received)
    return final


async def _receive(
    conn: RpcConnection, stored: StoredBackup, handle: IO[bytes], progress: Progress | None
) -> str:
    """Read the backup chunk by chunk into ``handle``; returns its sha256 once it matched."""
    vault = BackupVaultApi(conn)
    digest = hashlib.sha256()
    offset = 0
    while offset < stored.size:
        chunk = await vault.fetch(stored.name, offset, MAX_CHUNK_BYTES)
        if not chunk.data:
            raise BackupError(f"{stored.name} ended at {offset} of {stored.size} bytes")
        await asyncio.to_thread(_append, handle, digest, chunk.data)
        offset += len(chunk.data)
        if progress is not None:
            progress(offset, stored.size)
    if digest.hexdigest() != stored.sha256:
        raise BackupError(f"checksum mismatch: {stored.name} arrived with sha256 "
                          f"{digest.hexdigest()}, the daemon records {stored.sha256}")
    return stored.sha256
