"""PostgreSQL backups: pg_dump custom archives, restored by pg_restore in one transaction."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shutil
from pathlib import Path
from typing import ClassVar, Final

from sqlalchemy import text
from sqlalchemy.engine import URL, make_url

from shardkit.store.backup_strategy import BackupStrategy, server_of, take_backup
from shardkit.store.checksums import BackupError
from shardkit.store.database import async_database_url, create_database_engine

__all__ = ["LIBPQ_PARAMS", "PostgreSQLBackup", "libpq_target"]

log = logging.getLogger(__name__)

LIBPQ_PARAMS: Final[frozenset[str]] = frozenset(
    {"host", "port", "sslmode", "sslrootcert", "sslcert", "sslkey", "connect_timeout",
     "application_name", "target_session_attrs", "options"}
)
"""URL query parameters passed on to pg_dump/pg_restore (asyncpg-only options are dropped)."""

_PG_LIST_TABLE = re.compile(r"^\d+; \d+ \d+ TABLE \S+ (\S+) ", re.MULTILINE)


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


async def _state(url: str) -> tuple[int, list[str]]:
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


class PostgreSQLBackup(BackupStrategy):
    """PostgreSQL: ``pg_dump --format=custom``, checked by listing the archive back.

    A restore is ``pg_restore --clean --if-exists --no-owner`` in one transaction; a non-empty
    database needs ``force`` and is dumped first, and no other connection may be open to it.
    """

    backend: ClassVar[str] = "postgresql"
    title: ClassVar[str] = "PostgreSQL"
    file_kind: ClassVar[str] = "a pg_dump custom archive"
    suffix: ClassVar[str] = ".dump"
    magic: ClassVar[bytes] = b"PGDMP"

    def source_name(self, parsed: URL) -> str:
        return str(parsed.database)

    async def write(self, url: str, parsed: URL, part: Path) -> None:
        target, env = libpq_target(url)
        await _run_tool(
            [_tool("pg_dump"), "--format=custom", "--no-password", f"--file={part}",
             f"--dbname={target}"],
            env,
        )
        await _run_tool([_tool("pg_restore"), "--list", str(part)], {})  # the archive reads back

    async def tables(self, backup: Path) -> set[str]:
        listing = await _run_tool([_tool("pg_restore"), "--list", str(backup)], {})
        return {m.group(1) for m in _PG_LIST_TABLE.finditer(listing)}

    async def restore(
        self, url: str, parsed: URL, backup: Path, *, force: bool, schema: str
    ) -> None:
        tables, others = await _state(url)
        database = parsed.database
        if tables and not force:
            raise BackupError(
                f"database {database} is not empty ({tables} tables); pass --force to replace its "
                "contents (a dump of them is taken first)"
            )
        if others:
            raise BackupError(
                f"database {database} has {len(others)} other connection(s) "
                f"({', '.join(others[:3])}): stop the {server_of(schema)} first, then restore"
            )
        if tables:
            kept = await take_backup(
                self, url, parsed, backup.parent, name=f"{database}-before-restore"
            )
            log.info("the replaced contents of %s were dumped to %s", database, kept.path)
        target, env = libpq_target(url)
        await _run_tool(
            [_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--single-transaction",
             "--no-password", f"--dbname={target}", str(backup)],
            env,
        )
