"""Messages of the daemon's backup vault (port 7000, role ``backup``): uploads, list, fetches."""

from __future__ import annotations

import msgspec


class BackupBegin(msgspec.Struct, array_like=True):
    name: str
    size: int
    sha256: str


class BackupChunk(msgspec.Struct, array_like=True):
    upload_id: str
    offset: int
    data: bytes


class BackupEnd(msgspec.Struct, array_like=True):
    upload_id: str


class BackupFetch(msgspec.Struct, array_like=True):
    name: str
    offset: int
    length: int


class UploadStarted(msgspec.Struct):
    upload_id: str
    max_chunk_bytes: int


class ChunkReceived(msgspec.Struct):
    received: int


class UploadDone(msgspec.Struct):
    ok: bool
    name: str
    sha256: str
    size: int


class StoredBackup(msgspec.Struct):
    name: str
    size: int
    sha256: str
    modified_at: str  # RFC 3339, UTC


class FetchedChunk(msgspec.Struct):
    data: bytes
    size: int
