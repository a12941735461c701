"""``shardkit db``: migrate, back up, restore and list the cluster's databases."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from shardkit.config.settings import ConfigError, Settings

if TYPE_CHECKING:
    from shardkit.wire.rpc import RpcConnection

# The store (SQLAlchemy, alembic) is imported inside the commands: every `shardkit` process
# builds this parser, and most of them never touch a database.

SCHEMA_NAMES: Final[tuple[str, ...]] = ("master", "characters", "gm")
"""The same as shardkit.store.database.SCHEMAS (a test checks), without importing the store."""

SettingsLoader = Callable[[argparse.Namespace], Settings]

SQLITE_FILES: Final[dict[str, str]] = {
    "master": "master.db",
    "characters": "characters.db",
    "gm": "gm.db",
}


def database_url(settings: Settings, schema: str) -> str:
    """The configured URL of one schema's database (SQLite under the data dir by default)."""
    configured = {
        "master": settings.server.master.database_url,
        "characters": settings.server.characters.database_url,
        "gm": settings.server.gm.database_url,
    }[schema]
    return settings.database_url(configured, SQLITE_FILES[schema])


def shown(url: str) -> str:
    """A URL fit to print: the password hidden."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def human(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{size} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} bytes"


class ProgressPrinter:
    """Prints ``sent X of Y (N%)`` lines for an upload, at every 10% and at the end."""

    def __init__(self, label: str, verb: str = "sent") -> None:
        self.label, self.verb = label, verb
        self._next = 0

    def __call__(self, done: int, total: int) -> None:
        percent = done * 100 // max(total, 1)
        if percent >= self._next or done >= total:
            print(f"  {self.label}: {self.verb} {done} of {total} bytes ({percent}%)", flush=True)
            self._next = percent // 10 * 10 + 10


def _schemas(choice: str) -> list[str]:
    return list(SCHEMA_NAMES) if choice == "all" else [choice]


def _expected_errors() -> tuple[type[Exception], ...]:
    from sqlalchemy.exc import SQLAlchemyError

    from shardkit.store.checksums import BackupError
    from shardkit.wire.rpc import RpcError

    return BackupError, RpcError, ConfigError, OSError, SQLAlchemyError


def _run(main: Coroutine[Any, Any, int]) -> int:
    """Run one db command; expected failures become a one-line message and exit code 1."""
    expected = _expected_errors()
    try:
        return asyncio.run(main)
    except expected as exc:
        print(f"shardkit db: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


# ---------------------------------------------------------------------------- commands


async def _upgrade(settings: Settings, schemas: list[str]) -> int:
    from shardkit.store.migrate import current_revision, upgrade

    for schema in schemas:
        url = database_url(settings, schema)
        before = await current_revision(url, schema)
        await upgrade(url, schema)
        after = await current_revision(url, schema)
        print(f"{schema}: {before or 'empty'} -> {after} ({shown(url)})", flush=True)
    return 0


def cmd_upgrade(load: SettingsLoader, args: argparse.Namespace) -> int:
    return _run(_upgrade(load(args), _schemas(args.schema)))


async def _connect_vault(settings: Settings, world: str) -> RpcConnection:
    from shardkit.daemon.backup_client import connect_vault

    return await connect_vault(settings, world)


async def _backup_one(
    settings: Settings, schema: str, dest: Path, vault: RpcConnection | None, world: str
) -> None:
    from shardkit.store.backup import backup_database

    started = time.perf_counter()
    backup = await backup_database(database_url(settings, schema), dest, name=schema)
    elapsed = time.perf_counter() - started
    print(f"backed up {schema} ({backup.kind}) to {backup.path}: {backup.size} bytes "
          f"({human(backup.size)}) in {elapsed:.2f} s, sha256 {backup.sha256}", flush=True)
    if vault is None:
        return
    from shardkit.daemon.backup_client import upload_backup

    done = await upload_backup(vault, backup.path, sha256=backup.sha256,
                               progress=ProgressPrinter(backup.path.name))
    print(f"copied {done.name} to the daemon of {world}: it verified sha256 {done.sha256} "
          f"({done.size} bytes)", flush=True)


async def _backup(settings: Settings, args: argparse.Namespace) -> int:
    dest = Path(args.dest).resolve() if args.dest else settings.data_dir / "backups"
    world = args.copy_to_daemon
    vault = await _connect_vault(settings, world) if world else None
    failed = 0
    try:
        for schema in _schemas(args.schema):
            try:
                await _backup_one(settings, schema, dest, vault, world or "")
            except _expected_errors() as exc:
                print(f"shardkit db backup: {schema} failed: {exc}", file=sys.stderr, flush=True)
                failed += 1
    finally:
        if vault is not None:
            vault.close("done")
    return 1 if failed else 0


def cmd_backup(load: SettingsLoader, args: argparse.Namespace) -> int:
    return _run(_backup(load(args), args))


async def _restore(settings: Settings, args: argparse.Namespace) -> int:
    from shardkit.store.backup import restore_database
    from shardkit.store.migrate import current_revision

    url = database_url(settings, args.schema)
    source = Path(args.source).resolve()
    await restore_database(url, source, force=args.force, schema=args.schema)
    revision = await current_revision(url, args.schema)
    print(f"restored {args.schema} from {source} (checksum verified) into {shown(url)}; "
          f"migrated to {revision}", flush=True)
    return 0


def cmd_restore(load: SettingsLoader, args: argparse.Namespace) -> int:
    return _run(_restore(load(args), args))


def _local_backups(directory: Path) -> list[tuple[str, int, str, str]]:
    from shardkit.store.checksums import CHECKSUM_SUFFIX, read_checksum

    found = []
    for path in sorted(directory.glob(f"*{CHECKSUM_SUFFIX}")):
        backup = path.with_name(path.name[: -len(CHECKSUM_SUFFIX)])
        if backup.is_file():
            stat = backup.stat()
            at = datetime.fromtimestamp(stat.st_mtime, UTC).isoformat(timespec="seconds")
            found.append((backup.name, stat.st_size, read_checksum(backup), at))
    return found


async def _list(settings: Settings, args: argparse.Namespace) -> int:
    if args.from_daemon:
        from shardkit.daemon.backup_client import list_backups

        vault = await _connect_vault(settings, args.from_daemon)
        try:
            rows = [(b.name, b.size, b.sha256, b.modified_at) for b in await list_backups(vault)]
        finally:
            vault.close("done")
        where = f"the daemon of {args.from_daemon}"
    else:
        directory = Path(args.dest).resolve() if args.dest else settings.data_dir / "backups"
        rows = await asyncio.to_thread(_local_backups, directory)
        where = str(directory)
    print(f"{len(rows)} backup(s) in {where}")
    for name, size, sha256, at in rows:
        print(f"  {name}  {size} bytes ({human(size)})  {at}  sha256 {sha256}")
    return 0


def cmd_list(load: SettingsLoader, args: argparse.Namespace) -> int:
    return _run(_list(load(args), args))


async def _fetch(settings: Settings, args: argparse.Namespace) -> int:
    from shardkit.daemon.backup_client import fetch_backup

    dest = Path(args.dest).resolve() if args.dest else settings.data_dir / "backups"
    vault = await _connect_vault(settings, args.from_daemon)
    try:
        path = await fetch_backup(vault, args.name, dest,
                                  progress=ProgressPrinter(args.name, "received"))
    finally:
        vault.close("done")
    print(f"fetched {args.name} from the daemon of {args.from_daemon} to {path} "
          "(checksum verified)", flush=True)
    return 0


def cmd_fetch(load: SettingsLoader, args: argparse.Namespace) -> int:
    return _run(_fetch(load(args), args))


# ------------------------------------------------------------------------------ parser


def add_db_commands(
    sub: argparse._SubParsersAction,  # type: ignore[type-arg]
    load: SettingsLoader,
) -> None:
    """Add ``shardkit db upgrade|backup|restore|backups|fetch`` to the top-level parser."""
    db = sub.add_parser("db", help="migrate, back up and restore the databases",
                        description="shardkit db: migrate, back up, restore and list the"
                                    " cluster's databases.")
    commands = db.add_subparsers(dest="db_command", required=True, metavar="<command>",
                                 title="commands")

    def quiet_load(args: argparse.Namespace) -> Settings:
        settings = load(args)
        logging.getLogger("alembic").setLevel(logging.WARNING)  # we print before -> after
        return settings

    def command(name: str, func: Callable[..., int], help_text: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = commands.add_parser(
            name, help=help_text, description=help_text
        )
        p.add_argument("--root", default=".", help="folder holding serverconfig/ (default: here)")
        p.set_defaults(func=partial(func, quiet_load))
        return p

    every = [*SCHEMA_NAMES, "all"]
    p = command("upgrade", cmd_upgrade, "run the migrations of the configured databases to head")
    p.add_argument("--schema", choices=every, default="all")
    p = command("backup", cmd_backup, "back up databases (SQLite online backup, or pg_dump)")
    p.add_argument("--schema", choices=every, default="all")
    p.add_argument("--dest", help="folder for the backups (default: <data_dir>/backups)")
    p.add_argument("--copy-to-daemon", dest="copy_to_daemon", metavar="WORLD",
                   help="also upload each backup to this world's daemon, which verifies it")
    p = command("restore", cmd_restore,
                "restore one database from a backup (the server using it must be stopped)")
    p.add_argument("--schema", choices=list(SCHEMA_NAMES), required=True)
    p.add_argument("--from", dest="source", required=True, metavar="FILE")
    p.add_argument("--force", action="store_true",
                   help="replace an existing database (SQLite: the old file is kept aside)")
    p = command("backups", cmd_list, "list backups here, or on a world's daemon")
    p.add_argument("--from-daemon", dest="from_daemon", metavar="WORLD")
    p.add_argument("--dest", help="local folder to list (default: <data_dir>/backups)")
    p = command("fetch", cmd_fetch, "pull a backup back from a world's daemon, verifying it")
    p.add_argument("--from-daemon", dest="from_daemon", metavar="WORLD", required=True)
    p.add_argument("--name", required=True, help="the backup's file name (see db backups)")
    p.add_argument("--dest", help="folder to put it in (default: <data_dir>/backups)")
