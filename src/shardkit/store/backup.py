"""Database backups: online SQLite copies (backup API), pg_dump archives, sha256 sidecars, restore."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
import shutil
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Final, Literal
from urllib.parse import quote

import msgspec
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url

from shardkit.runtime.private_files import (
    create_private_dirs,
    create_private_file,
    ensure_private_dir,
    tighten,
)
from shardkit.store.database import (
    SCHEMAS,
    async_database_url,
    create_database_engine,
    utcnow,
)
from shardkit.store.migrate import upgrade

__all__ = [
    "CHECKSUM_SUFFIX",
    "BackupError",
    "BackupFile",
    "backup_database",
    "checksum_path",
    "file_sha256",
    "fsync_dir",
    "libpq_target",
    "read_checksum",
    "restore_database",
    "verify_checksum",
    "write_checksum",
]

log = logging.getLogger(__name__)

BackupKind = Literal["sqlite", "postgresql"]

CHECKSUM_SUFFIX: Final[str] = ".sha256"
"""A backup's checksum sidecar is ``<backup>.sha256``, in ``sha256sum`` format."""

HASH_BLOCK: Final[int] = 1 << 20
LOCK_PROBE_TIMEOUT_S: Final[float] = 0.2
"""How long a restore waits for the SQLite lock before deciding a server holds the database."""

SQLITE_SUFFIXES: Final[tuple[str, ...]] = ("", "-wal", "-shm", "-journal")

SCHEMA_MARKER_TABLES: Final[dict[str, str]] = {
    "characters": "characters",
    "accounts": "master",
    "audit_log": "gm",
}
"""A table that only one schema has, to tell which database a backup is of."""

SERVER_OF_SCHEMA: Final[dict[str, str]] = {
    "master": "master server",
    "characters": "character server",
    "gm": "GM server",
}

LIBPQ_PARAMS: Final[frozenset[str]] = frozenset(
    {"host", "port", "sslmode", "sslrootcert", "sslcert", "sslkey", "connect_timeout",
     "application_name", "target_session_attrs", "options"}
)
"""URL query parameters passed on to pg_dump/pg_restore (asyncpg-only options are dropped)."""

_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
_PG_LIST_TABLE = re.compile(r"^\d+; \d+ \d+ TABLE \S+ (\S+) ", re.MULTILINE)


class BackupError(Exception):
    """A backup or restore was refused or failed; the message says why and what to do."""


class BackupFile(msgspec.Struct, frozen=True):
    """A finished backup: the file, its checksum and size, what made it, and when it began."""

    path: Path
    sha256: str
    size: int
    kind: BackupKind
    created_at: datetime


# ------------------------------------------------------------------------------- checksums


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


# ---------------------------------------------------------------------------------- naming


def utc_stamp(at: datetime) -> str:
    """A timestamp for file names: ``20250131T235959Z``."""
    return at.strftime("%Y%m%dT%H%M%SZ")


def _reserve(dest_dir: Path, base: str, suffix: str) -> tuple[Path, Path]:
    """A backup name not taken yet in ``dest_dir``, and its ``.part`` file, created (mode 600)."""
    ensure_private_dir(dest_dir, what="backup folder")
    for attempt in range(1000):
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


def _remove_part(part: Path) -> None:
    for suffix in SQLITE_SUFFIXES:
        part.with_name(part.name + suffix).unlink(missing_ok=True)


def _publish(part: Path, final: Path, kind: BackupKind, created_at: datetime) -> BackupFile:
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


# ------------------------------------------------------------------------------------ URLs


def _backend(url: str) -> tuple[str, URL]:
    parsed = make_url(async_database_url(url))
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise BackupError(f"cannot back up {parsed!r}: only SQLite and PostgreSQL are supported")
    return backend, parsed


def _sqlite_path(parsed: URL) -> Path:
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise BackupError(f"{parsed!r} is not a SQLite database file")
    return Path(database)


def libpq_target(url: str) -> tuple[str, dict[str, str]]:
    """A libpq connection URI for pg_dump/pg_restore (no driver, no password) and its env vars.

    The password travels in ``PGPASSWORD`` (not on the command line, where ``ps`` shows it);
    asyncpg's ``ssl=`` becomes ``sslmode=``.
    """
    parsed = make_url(async_database_url(url))
    query: dict[str, str] = {}
    for key, value in parsed.query.items():
        value = value if isinstance(value, str) else value[-1]
        if key == "ssl":
            query["sslmode"] = {"true": "require", "false": "disable"}.get(value.lower(), value)
        elif key in LIBPQ_PARAMS:
            query[key] = value
    target = URL.create(
        "postgresql", username=parsed.username, host=parsed.host, port=parsed.port,
        database=parsed.database, query=query,
    )
    env = {"PGCONNECT_TIMEOUT": os.environ.get("PGCONNECT_TIMEOUT", "10")}
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    return target.render_as_string(hide_password=False), env


# ---------------------------------------------------------------------------------- SQLite


def _open_sqlite(path: Path, mode: str, timeout: float = 5.0) -> sqlite3.Connection:
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


def _copy_sqlite(source: sqlite3.Connection, target: Path) -> None:
    """Copy ``source`` into the (empty) file ``target`` in one backup step; check the copy."""
    dest = sqlite3.connect(target, isolation_level=None)
    try:
        source.backup(dest)  # one step: a single read transaction, a consistent snapshot
        dest.execute("PRAGMA journal_mode=DELETE")  # a self-contained file, no -wal beside it
        _check_integrity(dest, target)
    finally:
        dest.close()


def _sqlite_backup(source_path: Path, part: Path) -> None:
    if not source_path.is_file():
        raise BackupError(f"no database at {source_path}")
    source = _open_sqlite(source_path, "rw")  # WAL: readers do not block the server's writes
    try:
        _copy_sqlite(source, part)
    except sqlite3.Error as exc:
        raise BackupError(f"backup of {source_path} failed: {exc}") from None
    finally:
        source.close()


def _sqlite_tables(path: Path) -> set[str]:
    conn = _open_sqlite(path, "ro")
    try:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} is not a SQLite database: {exc}") from None
    finally:
        conn.close()
    return {str(row[0]) for row in rows}


def _server_of(schema: str | None) -> str:
    return SERVER_OF_SCHEMA.get(schema or "", "server that uses it")


def _refuse_if_in_use(path: Path, schema: str | None) -> None:
    """Refuse when any other connection has the database open (a running server, even idle).

    In exclusive locking mode the first read needs an exclusive lock on the file, which no one
    gets while another connection holds the database open in WAL mode or is writing to it.
    """
    conn = _open_sqlite(path, "rw", timeout=LOCK_PROBE_TIMEOUT_S)
    try:
        conn.execute("PRAGMA locking_mode=EXCLUSIVE")
        conn.execute("BEGIN EXCLUSIVE")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        conn.execute("ROLLBACK")
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise BackupError(
                f"{path} is in use by another process ({exc}): stop the {_server_of(schema)} "
                "first, then restore"
            ) from None
        raise BackupError(f"cannot lock {path}: {exc}") from None
    finally:
        conn.close()


def _move_aside(path: Path, stamp: str) -> Path:
    """Rename the database and its -wal/-shm/-journal to ``<name>.before-restore-<stamp>...``."""
    base = path.with_name(f"{path.name}.before-restore-{stamp}")
    attempt = 0
    while any(base.with_name(base.name + s).exists() for s in SQLITE_SUFFIXES):
        attempt += 1
        base = path.with_name(f"{path.name}.before-restore-{stamp}-{attempt}")
    for suffix in SQLITE_SUFFIXES:
        old = path.with_name(path.name + suffix)
        if old.exists():
            kept = base.with_name(base.name + suffix)
            os.rename(old, kept)
            tighten(kept, what="replaced database")  # it holds the same secrets as a backup
    return base


def _sqlite_restore(backup: Path, target: Path, *, force: bool, schema: str | None) -> Path | None:
    """Put ``backup`` in place at ``target``; returns where the old database was moved, if any."""
    moved = None
    leftovers = [target.with_name(target.name + s) for s in SQLITE_SUFFIXES]
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
    _remove_part(staging)
    create_private_file(staging)  # mode 600 before a byte is copied (SQLite keeps the mode)
    source = _open_sqlite(backup, "ro")
    try:
        _copy_sqlite(source, staging)
    except sqlite3.Error as exc:
        _remove_part(staging)
        raise BackupError(f"restoring {backup} failed: {exc}") from None
    finally:
        source.close()
    with open(staging, "rb+") as handle:
        os.fsync(handle.fileno())
    os.rename(staging, target)
    fsync_dir(target.parent)
    return moved


# ------------------------------------------------------------------------------ PostgreSQL


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} is not installed (not on PATH); install the PostgreSQL client tools of the "
            f"server's major version, e.g. 'apt-get install postgresql-client'"
        )
    return found


async def _run_tool(argv: list[str], env: dict[str, str]) -> str:
    """Run a PostgreSQL client tool; its stdout, or BackupError with its stderr."""
    process = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env={**os.environ, **env},
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        message = err.decode(errors="replace").strip() or "no error output"
        raise BackupError(f"{Path(argv[0]).name} failed (exit {process.returncode}): {message}")
    return out.decode(errors="replace")


async def _pg_backup(url: str, part: Path) -> None:
    target, env = libpq_target(url)
    await _run_tool(
        [_tool("pg_dump"), "--format=custom", "--no-password", f"--file={part}",
         f"--dbname={target}"],
        env,
    )
    await _run_tool([_tool("pg_restore"), "--list", str(part)], {})  # the archive reads back


async def _pg_tables(backup: Path) -> set[str]:
    listing = await _run_tool([_tool("pg_restore"), "--list", str(backup)], {})
    return {m.group(1) for m in _PG_LIST_TABLE.finditer(listing)}


async def _pg_state(url: str) -> tuple[int, list[str]]:
    """How many tables the database has, and who else is connected to it."""
    engine = await create_database_engine(url)
    try:
        async with engine.connect() as conn:
            tables = await conn.scalar(text(
                "SELECT count(*) FROM pg_catalog.pg_tables "
                "WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
            ))
            others = await conn.execute(text(
                "SELECT coalesce(nullif(application_name, ''), usename, '?') || ' from ' || "
                "coalesce(host(client_addr), 'local socket') FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ))
            return int(tables or 0), [str(row[0]) for row in others]
    finally:
        await engine.dispose()


async def _pg_restore(url: str, backup: Path, *, force: bool, schema: str | None) -> None:
    tables, others = await _pg_state(url)
    database = make_url(async_database_url(url)).database
    if tables and not force:
        raise BackupError(
            f"database {database} is not empty ({tables} tables); pass --force to replace its "
            "contents (a dump of them is taken first)"
        )
    if others:
        raise BackupError(
            f"database {database} has {len(others)} other connection(s) "
            f"({', '.join(others[:3])}): stop the {_server_of(schema)} first, then restore"
        )
    if tables:
        kept = await backup_database(url, backup.parent, name=f"{database}-before-restore")
        log.info("the replaced contents of %s were dumped to %s", database, kept.path)
    target, env = libpq_target(url)
    await _run_tool(
        [_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--single-transaction",
         "--no-password", f"--dbname={target}", str(backup)],
        env,
    )


# ------------------------------------------------------------------------------ public API


async def backup_database(url: str, dest_dir: Path, *, name: str | None = None) -> BackupFile:
    """Back up the database at ``url`` into ``dest_dir/<name>-<UTC time>.db`` (or ``.dump``).

    SQLite: the online backup API in a worker thread, one step, so the copy is a consistent
    snapshot even while a server writes (WAL); the copy passes ``integrity_check``. PostgreSQL:
    ``pg_dump --format=custom``. ``name`` defaults to the SQLite file's stem or the database name.
    A ``<file>.sha256`` sidecar is written next to the backup.
    """
    backend, parsed = _backend(url)
    created_at = utcnow()
    kind: BackupKind
    if backend == "sqlite":
        source = _sqlite_path(parsed)
        base, suffix, kind = name or source.stem, ".db", "sqlite"
    else:
        base, suffix, kind = name or str(parsed.database), ".dump", "postgresql"
    final, part = await asyncio.to_thread(
        _reserve, Path(dest_dir), f"{base}-{utc_stamp(created_at)}", suffix
    )
    try:
        if backend == "sqlite":
            await asyncio.to_thread(_sqlite_backup, source, part)
        else:
            await _pg_backup(url, part)
        return await asyncio.to_thread(_publish, part, final, kind, created_at)
    except BaseException:
        await asyncio.to_thread(_remove_part, part)
        raise


def _kind_of_file(path: Path) -> str | None:
    with open(path, "rb") as handle:
        head = handle.read(16)
    if head.startswith(b"SQLite format 3\x00"):
        return "sqlite"
    if head.startswith(b"PGDMP"):
        return "postgresql"
    return None


async def _check_kind(backend: str, backup: Path) -> None:
    """Refuse a SQLite backup for a PostgreSQL database and the other way round."""
    kind = await asyncio.to_thread(_kind_of_file, backup)
    if kind is None:
        raise BackupError(f"{backup} is neither a SQLite database nor a pg_dump custom archive")
    if kind != backend:
        raise BackupError(
            f"{backup.name} is a {kind} backup but the target database is {backend}; "
            f"restore it into a {kind} database_url"
        )


def _schema_of(tables: set[str]) -> str | None:
    found = {SCHEMA_MARKER_TABLES[t] for t in tables if t in SCHEMA_MARKER_TABLES}
    return found.pop() if len(found) == 1 else None


async def _backup_schema(backend: str, backup: Path) -> str | None:
    if backend == "sqlite":
        return _schema_of(await asyncio.to_thread(_sqlite_tables, backup))
    return _schema_of(await _pg_tables(backup))


async def _check_schema(backend: str, backup: Path, schema: str | None) -> str:
    """The schema the backup holds; BackupError if unknown or not the one asked for."""
    if schema is not None and schema not in SCHEMAS:
        raise BackupError(f"unknown schema {schema!r}; expected one of {', '.join(SCHEMAS)}")
    found = await _backup_schema(backend, backup)
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
    backend, parsed = _backend(url)
    backup = Path(backup)
    digest = await verify_checksum(backup)
    await _check_kind(backend, backup)
    schema = await _check_schema(backend, backup, schema)
    if backend == "sqlite":
        target = _sqlite_path(parsed)
        moved = await asyncio.to_thread(
            _sqlite_restore, backup, target, force=force, schema=schema
        )
        if moved is not None:
            log.info("the replaced database was moved to %s", moved)
    else:
        await _pg_restore(url, backup, force=force, schema=schema)
    log.info("restored %s (sha256 %s) into the %s database", backup.name, digest, schema)
    await upgrade(url, schema)
