"""Backups: online SQLite copies, CLI restore, copies to a daemon, pg_dump, db upgrade."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shardkit.config.settings import Settings, load_settings
from shardkit.daemon.backups import MAX_CHUNK_BYTES, check_backup_name
from shardkit.db_commands import SCHEMA_NAMES, database_url
from shardkit.store.backup import (
    BackupError,
    backup_database,
    checksum_path,
    libpq_target,
    restore_database,
    verify_checksum,
)
from shardkit.store.characters import CharacterState, CharacterStore, SaveBatcher
from shardkit.store.database import SCHEMAS, Database, sqlite_url
from shardkit.store.migrate import current_revision, head_revision, upgrade
from shardkit.store.testing import PostgresUnavailable, fresh_database_url
from shardkit.testing.harness import RunningProcess, start_shardkit, write_cluster_config
from shardkit.wire.handshake import authenticate_service
from shardkit.wire.rpc import RpcConnection, RpcError, connect

WORLD = "Atlantis"
CLI_TIMEOUT_S = 90.0


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m shardkit <args> --root <root>``, run to completion."""
    return subprocess.run(
        [sys.executable, "-m", "shardkit", *args, "--root", str(root)],
        capture_output=True, text=True, timeout=CLI_TIMEOUT_S, check=False,
    )


async def cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(run_cli, root, *args)


def _output(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr[-3000:]}"


def _backup_path(result: subprocess.CompletedProcess[str]) -> Path:
    match = re.search(r"^backed up \w+ \(\w+\) to (\S+): ", result.stdout, re.MULTILINE)
    assert match, _output(result)
    return Path(match.group(1))


def _cluster_root(tmp_path: Path, **config: Any) -> tuple[Path, Settings]:
    root = tmp_path / "cluster"
    write_cluster_config(root, **config)
    return root, load_settings(root)


def _pg_unavailable(reason: str) -> None:
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(f"CI=true requires PostgreSQL and pg_dump/pg_restore: {reason}")
    warnings.warn(f"the PostgreSQL backup test is skipped: {reason}", stacklevel=2)
    pytest.skip(reason)


# ---------------------------------------------------------------------------------- helpers


def test_db_command_schemas_match_the_store() -> None:
    assert SCHEMA_NAMES == SCHEMAS


def test_libpq_target_drops_the_driver_and_hides_the_password() -> None:
    target, env = libpq_target("postgresql+asyncpg://game:s3cr%40t@db.example:6543/chars?ssl=require"
                               "&prepared_statement_cache_size=0")
    assert target == "postgresql://game@db.example:6543/chars?sslmode=require"
    assert env["PGPASSWORD"] == "s3cr@t"
    target, env = libpq_target("postgresql://postgres@127.0.0.1/test")
    assert target == "postgresql://postgres@127.0.0.1/test" and "PGPASSWORD" not in env


@pytest.mark.parametrize("name", ["../x.db", "a/b.db", ".hidden", "x.db.sha256", "", "a b.db",
                                  "x.part", "x" * 129, "c:\\x.db"])
def test_backup_names_must_be_plain_file_names(name: str) -> None:
    with pytest.raises(RpcError) as refused:
        check_backup_name(name)
    assert refused.value.code == "bad_name"


def test_plain_backup_names_pass() -> None:
    check_backup_name("characters-20250101T000000Z.db")
    check_backup_name("master-20250101T000000Z-1.dump")


# ------------------------------------------------------------------------- (a) online backup


def _add_filler(path: Path, megabytes: int) -> None:
    """Make the database big enough that a backup takes a while (a table the stores never read)."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("CREATE TABLE test_filler (blob BLOB)")
        conn.executemany("INSERT INTO test_filler VALUES (randomblob(4096))",
                         [()] * (megabytes * 256))
        conn.commit()
    finally:
        conn.close()


def _rows(path: Path) -> dict[int, tuple[int, int]]:
    """id -> (version, gold) of every character in a SQLite file, after an integrity check."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        return {row[0]: (row[1], row[2])
                for row in conn.execute("SELECT id, version, gold FROM characters")}
    finally:
        conn.close()


async def test_online_sqlite_backup_while_saving(tmp_path: Path) -> None:
    path = tmp_path / "data" / "characters.db"
    url = sqlite_url(path)
    db = await Database.open(url, schema="characters")
    await asyncio.to_thread(_add_filler, path, 24)
    store = CharacterStore(db)
    batcher = SaveBatcher(store)
    states = [await store.create(1, "avalon", f"hero{i:03d}", "town", 0, 0) for i in range(150)]
    acked: dict[int, int] = {s.id: s.version for s in states}
    stop = asyncio.Event()
    enough = asyncio.Event()
    count = 0

    async def saver(state: CharacterState) -> None:
        nonlocal count
        while not stop.is_set():
            state.gold = (state.version + 1) * 7  # the gold a row holds tells its version
            result = await batcher.save(state)
            assert result.ok, result
            state.version = acked[state.id] = result.version
            count += 1
            if count >= 1000:
                enough.set()

    savers = [asyncio.create_task(saver(s)) for s in states]
    try:
        await asyncio.wait_for(enough.wait(), 60)
        before, count_before = dict(acked), count
        started = time.perf_counter()
        backup = await backup_database(url, tmp_path / "backups", name="characters")
        elapsed = time.perf_counter() - started
        during = count - count_before
    finally:
        stop.set()
        await asyncio.gather(*savers)
        await batcher.close()
        await db.close()
    print(f"\nonline backup: {backup.size} bytes in {elapsed * 1000:.0f} ms; "
          f"{during} saves acknowledged meanwhile")
    assert during > 0, "the writer should keep saving while the backup runs"
    assert backup.kind == "sqlite" and backup.path.name.startswith("characters-")
    assert backup.size == backup.path.stat().st_size
    assert await verify_checksum(backup.path) == backup.sha256
    rows = await asyncio.to_thread(_rows, backup.path)
    assert set(rows) == set(before)
    for character_id, (version, gold) in rows.items():
        assert version >= before[character_id], "a save acknowledged before the backup is missing"
        assert version <= acked[character_id]
        assert gold == version * 7 or version == 1, "a row from a half-applied save"


# --------------------------------------------------------------------------- (b) restore


def _hold_write_lock(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("UPDATE characters SET gold = gold + 1")
    return conn


def _tamper(backup: Path, into: Path) -> Path:
    into.mkdir()
    copy = into / backup.name
    shutil.copyfile(backup, copy)
    shutil.copyfile(checksum_path(backup), checksum_path(copy))
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0x01
    copy.write_bytes(bytes(data))
    return copy


async def _names_and_gold(url: str) -> dict[str, int]:
    db = await Database.open(url, schema="characters")
    try:
        return {c.name: c.gold for c in await CharacterStore(db).list(1, WORLD)}
    finally:
        await db.close()


async def test_restore_through_the_cli(tmp_path: Path) -> None:
    root, settings = _cluster_root(tmp_path)
    url = database_url(settings, "characters")
    db = await Database.open(url, schema="characters")
    store = CharacterStore(db)
    alice = await store.create(1, WORLD, "Alice", "town", 0, 0)
    await store.create(1, WORLD, "Bob", "town", 0, 0)
    alice.gold = 10
    assert (await store.save_many([alice]))[0].ok
    made = await cli(root, "db", "backup", "--schema", "characters")
    assert made.returncode == 0, _output(made)
    backup = _backup_path(made)
    at_backup = {"Alice": 10, "Bob": 0}

    alice = await store.load(1, WORLD, "Alice")
    assert alice is not None
    alice.gold = 999
    assert (await store.save_many([alice]))[0].ok
    assert await store.delete(1, WORLD, "Bob")
    await store.create(1, WORLD, "Dave", "town", 0, 0)
    after_changes = {"Alice": 999, "Dave": 0}

    refused = await cli(root, "db", "restore", "--schema", "characters", "--from", str(backup),
                        "--force")
    assert refused.returncode != 0, _output(refused)
    assert "stop the character server first" in refused.stderr, _output(refused)
    await db.close()  # the "server" stops writing

    writer = await asyncio.to_thread(_hold_write_lock, Path(settings.data_dir / "characters.db"))
    try:
        refused = await cli(root, "db", "restore", "--schema", "characters", "--from",
                            str(backup), "--force")
    finally:
        await asyncio.to_thread(writer.close)
    assert refused.returncode != 0 and "stop the character server first" in refused.stderr

    refused = await cli(root, "db", "restore", "--schema", "characters", "--from", str(backup))
    assert refused.returncode != 0 and "--force" in refused.stderr, _output(refused)

    tampered = await asyncio.to_thread(_tamper, backup, tmp_path / "tampered")
    refused = await cli(root, "db", "restore", "--schema", "characters", "--from",
                        str(tampered), "--force")
    assert refused.returncode != 0 and "checksum mismatch" in refused.stderr, _output(refused)

    refused = await cli(root, "db", "restore", "--schema", "master", "--from", str(backup),
                        "--force")
    assert refused.returncode != 0 and "not of master" in refused.stderr, _output(refused)
    assert await _names_and_gold(url) == after_changes  # nothing was touched so far

    restored = await cli(root, "db", "restore", "--schema", "characters", "--from",
                         str(backup), "--force")
    assert restored.returncode == 0, _output(restored)
    assert "checksum verified" in restored.stdout
    assert await _names_and_gold(url) == at_backup
    kept = list(settings.data_dir.glob("characters.db.before-restore-*"))
    assert len(kept) == 1, kept
    assert await _names_and_gold(sqlite_url(kept[0])) == after_changes
    # the restored database holds what the backup held: it is as private as the backup
    target = settings.data_dir / "characters.db"
    assert [oct(p.stat().st_mode & 0o777) for p in (target, kept[0], backup)] == [oct(0o600)] * 3
    assert settings.data_dir.stat().st_mode & 0o777 == 0o700


async def test_restore_brings_an_old_backup_up_to_head(tmp_path: Path) -> None:
    old = sqlite_url(tmp_path / "old" / "characters.db")
    await upgrade(old, "characters", "0001")
    backup = await backup_database(old, tmp_path / "backups")
    target = sqlite_url(tmp_path / "new" / "characters.db")
    await restore_database(target, backup.path, force=False)  # no database there yet: no force
    assert await current_revision(target, "characters") == await head_revision("characters")
    with pytest.raises(BackupError, match="--force"):
        await restore_database(target, backup.path, force=False)


async def test_restore_refuses_a_backup_without_its_checksum(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "data" / "gm.db")
    await upgrade(url, "gm")
    backup = await backup_database(url, tmp_path / "backups")
    checksum_path(backup.path).unlink()
    with pytest.raises(BackupError, match=r"\.sha256 is missing"):
        await restore_database(sqlite_url(tmp_path / "other" / "gm.db"), backup.path, force=True)


def test_checksum_sidecar_works_with_sha256sum(tmp_path: Path) -> None:
    if shutil.which("sha256sum") is None:
        pytest.skip("sha256sum is not installed")
    url = sqlite_url(tmp_path / "data" / "master.db")
    backup = asyncio.run(_upgrade_and_backup(url, tmp_path / "backups"))
    checked = subprocess.run(["sha256sum", "-c", checksum_path(backup).name],
                             cwd=backup.parent, capture_output=True, text=True, check=False)
    assert checked.returncode == 0 and ": OK" in checked.stdout, checked.stdout + checked.stderr


async def _upgrade_and_backup(url: str, dest: Path) -> Path:
    await upgrade(url, "master")
    return (await backup_database(url, dest)).path


# ------------------------------------------------------------------- (c) copy to a daemon


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[tuple[Path, Settings, RunningProcess]]:
    """A real daemon process whose world's cluster runs on an imp that never comes: no children."""
    root, settings = _cluster_root(tmp_path, cluster0_runs_on="imp:none")
    process = start_shardkit(root, "daemon", "--world", WORLD)
    try:
        process.wait_for_line(f"daemon {WORLD} listening on", timeout=30)
        yield root, settings, process
    finally:
        process.stop()


async def _vault_client(settings: Settings, role: str = "backup",
                        secret: bytes | None = None, name: str = "test") -> RpcConnection:
    daemon = settings.world(WORLD).daemon
    conn = await connect("127.0.0.1", daemon.world_port)
    try:
        await authenticate_service(
            conn, role=role, name=name, peer_role="daemon",
            secret=secret if secret is not None else settings.secrets.key("characters_link"),
        )
    except BaseException:
        conn.close()
        raise
    return conn


@pytest.mark.cluster
async def test_backup_copied_to_the_daemon(
    tmp_path: Path, daemon: tuple[Path, Settings, RunningProcess]
) -> None:
    root, settings, _process = daemon
    db = await Database.open(database_url(settings, "characters"), schema="characters")
    await CharacterStore(db).create(1, WORLD, "Carried", "town", 0, 0)
    await db.close()

    copied = await cli(root, "db", "backup", "--schema", "characters", "--copy-to-daemon", WORLD)
    assert copied.returncode == 0, _output(copied)
    local = _backup_path(copied)
    verified = re.search(r"it verified sha256 ([0-9a-f]{64}) \((\d+) bytes\)", copied.stdout)
    assert verified, _output(copied)
    assert re.search(r"sent (\d+) of \1 bytes \(100%\)", copied.stdout), _output(copied)
    arrived = settings.data_dir / "backups" / WORLD / local.name
    assert verified.group(1) == _sha256(local) == _sha256(arrived)
    assert int(verified.group(2)) == local.stat().st_size == arrived.stat().st_size
    assert checksum_path(arrived).read_text() == f"{verified.group(1)}  {local.name}\n"
    assert oct(arrived.stat().st_mode & 0o777) == oct(0o600)
    assert [oct(p.stat().st_mode & 0o777) for p in (arrived.parent, arrived.parent.parent)] == [
        oct(0o700)] * 2  # the vault and data/backups/, made by the daemon

    listed = await cli(root, "db", "backups", "--from-daemon", WORLD)
    assert listed.returncode == 0 and local.name in listed.stdout, _output(listed)
    fetched = await cli(root, "db", "fetch", "--from-daemon", WORLD, "--name", local.name,
                        "--dest", str(tmp_path / "fetched"))
    assert fetched.returncode == 0, _output(fetched)
    assert _sha256(tmp_path / "fetched" / local.name) == verified.group(1)


async def _send(conn: RpcConnection, name: str, data: bytes, sha256: str) -> Any:
    begun = await conn.call("backup_begin", name, len(data), sha256)
    for offset in range(0, len(data), MAX_CHUNK_BYTES):
        await conn.call("backup_chunk", begun["upload_id"], offset,
                        data[offset:offset + MAX_CHUNK_BYTES])
    return await conn.call("backup_end", begun["upload_id"])


def _leftovers(vault: Path) -> list[str]:
    return sorted(p.name for p in vault.glob(".upload-*"))


@pytest.mark.cluster
async def test_daemon_vault_refuses_bad_uploads(
    daemon: tuple[Path, Settings, RunningProcess]
) -> None:
    _root, settings, process = daemon
    vault = settings.data_dir / "backups" / WORLD
    data = os.urandom(3 * MAX_CHUNK_BYTES + 1000)
    conn = await _vault_client(settings)
    try:
        with pytest.raises(RpcError) as refused:
            await _send(conn, "corrupt.db", data, hashlib.sha256(b"something else").hexdigest())
        assert refused.value.code == "checksum_mismatch"
        assert not (vault / "corrupt.db").exists() and _leftovers(vault) == []

        with pytest.raises(RpcError) as refused:
            await conn.call("backup_begin", "../escape.db", 10, "0" * 64)
        assert refused.value.code == "bad_name"
        with pytest.raises(RpcError) as refused:
            await conn.call("backup_begin", "huge.db", 9 * 1024**3, "0" * 64)
        assert refused.value.code == "backup_too_large"
        begun = await conn.call("backup_begin", "gap.db", 100, "0" * 64)
        with pytest.raises(RpcError) as refused:
            await conn.call("backup_chunk", begun["upload_id"], 50, b"x" * 10)
        assert refused.value.code == "bad_offset"

        done = await _send(conn, "good.db", data, hashlib.sha256(data).hexdigest())
        assert done == {"ok": True, "name": "good.db", "sha256": hashlib.sha256(data).hexdigest(),
                        "size": len(data)}
        with pytest.raises(RpcError) as refused:
            await conn.call("backup_begin", "good.db", 10, "0" * 64)
        assert refused.value.code == "exists"
        [listed] = await conn.call("backup_list")
        assert listed["name"] == "good.db" and listed["size"] == len(data)
        piece = await conn.call("backup_fetch", "good.db", 5, 100)
        assert piece == {"data": data[5:105], "size": len(data)}

        begun = await conn.call("backup_begin", "abandoned.db", len(data), "0" * 64)
        await conn.call("backup_chunk", begun["upload_id"], 0, data[:MAX_CHUNK_BYTES])
        assert len(_leftovers(vault)) == 1
    finally:
        conn.close()
    await asyncio.to_thread(process.wait_for_line, "backup upload of abandoned.db abandoned", 20)
    assert _leftovers(vault) == [] and not (vault / "abandoned.db").exists()


@pytest.mark.cluster
async def test_daemon_vault_needs_the_characters_link_secret(
    daemon: tuple[Path, Settings, RunningProcess]
) -> None:
    _root, settings, _process = daemon
    with pytest.raises(RpcError) as refused:
        await _vault_client(settings, secret=b"\x00" * 32)
    assert refused.value.code == "auth_failed"
    with pytest.raises(RpcError) as refused:  # the world servers' secret is not enough
        await _vault_client(settings, secret=settings.secrets.world_link_key(WORLD))
    assert refused.value.code == "auth_failed"
    world = await _vault_client(settings, role="world", name=f"{WORLD}/0",
                                secret=settings.secrets.world_link_key(WORLD))
    try:
        with pytest.raises(RpcError) as refused:
            await world.call("backup_list")
        assert refused.value.code == "forbidden"
    finally:
        world.close()


# --------------------------------------------------------------------------- (d) PostgreSQL


@pytest.mark.postgres
async def test_postgresql_backup_and_restore(tmp_path: Path) -> None:
    missing = [tool for tool in ("pg_dump", "pg_restore") if shutil.which(tool) is None]
    if missing:
        _pg_unavailable(f"{' and '.join(missing)} not installed"
                        " (apt-get install postgresql-client)")
    try:
        source, drop_source = await fresh_database_url("postgresql", tmp_path)
    except PostgresUnavailable as exc:
        _pg_unavailable(f"PostgreSQL unreachable (set SHARDKIT_TEST_PG): {exc}")
        raise  # not reached
    target, drop_target = await fresh_database_url("postgresql", tmp_path)
    try:
        db = await Database.open(source, schema="characters")
        store = CharacterStore(db)
        hero = await store.create(1, WORLD, "Hero", "town", 1.5, 2.5)
        await store.create(2, WORLD, "Other", "keep", 0, 0)
        hero.gold, hero.inventory = 42, [{"item": "sword"}]
        assert (await store.save_many([hero]))[0].ok
        expected = await store.list(1, WORLD) + await store.list(2, WORLD)
        await db.close()

        backup = await backup_database(source, tmp_path / "backups", name="characters")
        assert backup.kind == "postgresql" and backup.path.suffix == ".dump"
        assert await verify_checksum(backup.path) == backup.sha256

        await restore_database(target, backup.path, force=False, schema="characters")
        db = await Database.open(target, schema="characters")
        try:
            store = CharacterStore(db)
            assert await store.list(1, WORLD) + await store.list(2, WORLD) == expected
            with pytest.raises(BackupError, match="stop the character server first"):
                await restore_database(target, backup.path, force=True)
        finally:
            await db.close()
        with pytest.raises(BackupError, match="not empty"):
            await restore_database(target, backup.path, force=False)
        await restore_database(target, backup.path, force=True)
        assert list((tmp_path / "backups").glob("*-before-restore-*.dump"))
        assert await current_revision(target, "characters") == await head_revision("characters")
    finally:
        await drop_source()
        await drop_target()


async def test_missing_pg_dump_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("shardkit.store.backup_postgresql.shutil.which", lambda name: None)
    with pytest.raises(BackupError, match="pg_dump is not installed"):
        await backup_database("postgresql://nobody@127.0.0.1/none", tmp_path)
    assert list(tmp_path.iterdir()) == []  # no partial file left behind


# ------------------------------------------------------------------------ (e) db upgrade


async def test_db_upgrade_creates_every_database_at_head(tmp_path: Path) -> None:
    root, settings = _cluster_root(tmp_path)
    assert not settings.data_dir.exists() or not any(settings.data_dir.iterdir())
    upgraded = await cli(root, "db", "upgrade")
    assert upgraded.returncode == 0, _output(upgraded)
    for schema in SCHEMAS:
        url = database_url(settings, schema)
        assert await current_revision(url, schema) == await head_revision(schema), schema
        assert f"{schema}: empty -> " in upgraded.stdout
    again = await cli(root, "db", "upgrade", "--schema", "gm")
    assert again.returncode == 0 and "gm: 0" in again.stdout, _output(again)
