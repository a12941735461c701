"""The backup modules' pieces on their own: checksum sidecars and the table of backup strategies."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path
from typing import ClassVar

import pytest
from sqlalchemy.engine import URL

from shardkit.store import backup
from shardkit.store.backup import (
    BACKUP_STRATEGIES,
    BackupError,
    BackupStrategy,
    backup_database,
    register_backup_strategy,
    restore_database,
    strategy_for_file,
    strategy_for_url,
)
from shardkit.store.backup_postgresql import PostgreSQLBackup
from shardkit.store.backup_sqlite import SQLiteBackup
from shardkit.store.backup_strategy import reserve
from shardkit.store.checksums import (
    HASH_BLOCK,
    checksum_path,
    file_sha256,
    read_checksum,
    verify_checksum,
    write_checksum,
)
from shardkit.store.database import sqlite_url

# ------------------------------------------------------------------------------- checksums


def _file(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _sqlite_file(path: Path, table: str) -> Path:
    conn = sqlite3.connect(path)
    try:
        conn.execute(f"CREATE TABLE {table} (id INTEGER)")
        conn.commit()
    finally:
        conn.close()
    return path


async def test_sidecar_round_trip_in_sha256sum_format(tmp_path: Path) -> None:
    data = bytes(range(256)) * (HASH_BLOCK // 256 * 2 + 7)  # more than two hash blocks
    path = _file(tmp_path / "world.db", data)
    digest = await file_sha256(path)
    assert digest == hashlib.sha256(data).hexdigest()
    sidecar = write_checksum(path, digest)
    assert sidecar == checksum_path(path) == tmp_path / "world.db.sha256"
    assert sidecar.read_text() == f"{digest}  world.db\n"
    assert sidecar.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["world.db", "world.db.sha256"]
    assert read_checksum(path) == digest
    assert await verify_checksum(path) == digest


async def test_sidecar_digest_is_read_in_any_letter_case(tmp_path: Path) -> None:
    path = _file(tmp_path / "gm.db", b"audit")
    digest = hashlib.sha256(b"audit").hexdigest()
    checksum_path(path).write_text(f"{digest.upper()} *gm.db\n")  # sha256sum --binary style
    assert await verify_checksum(path) == digest


async def test_verify_refuses_what_it_cannot_vouch_for(tmp_path: Path) -> None:
    path = _file(tmp_path / "master.db", b"accounts")
    with pytest.raises(BackupError, match=r"master\.db\.sha256 is missing"):
        await verify_checksum(path)
    checksum_path(path).write_text("not a digest  master.db\n")
    with pytest.raises(BackupError, match="is not a sha256sum line"):
        await verify_checksum(path)
    write_checksum(path, hashlib.sha256(b"accounts").hexdigest())
    path.write_bytes(b"accountz")
    with pytest.raises(BackupError, match="checksum mismatch"):
        await verify_checksum(path)
    with pytest.raises(BackupError, match="no backup file"):
        await verify_checksum(tmp_path / "absent.db")


# ------------------------------------------------------------------------ strategy table


def test_each_backend_has_its_strategy() -> None:
    assert isinstance(BACKUP_STRATEGIES["sqlite"], SQLiteBackup)
    assert isinstance(BACKUP_STRATEGIES["postgresql"], PostgreSQLBackup)
    strategy, parsed = strategy_for_url("postgresql://postgres@127.0.0.1/test")
    assert strategy is BACKUP_STRATEGIES["postgresql"] and parsed.drivername == "postgresql+asyncpg"
    strategy, parsed = strategy_for_url("sqlite:////srv/data/characters.db")
    assert strategy is BACKUP_STRATEGIES["sqlite"] and parsed.database == "/srv/data/characters.db"
    with pytest.raises(BackupError, match="only SQLite and PostgreSQL are supported"):
        strategy_for_url("mysql://root@127.0.0.1/game")


def test_a_backup_file_is_known_by_its_first_bytes(tmp_path: Path) -> None:
    database = _sqlite_file(tmp_path / "real.db", "t")  # (with no table it would be 0 bytes)
    assert strategy_for_file(database) is BACKUP_STRATEGIES["sqlite"]
    dump = _file(tmp_path / "real.dump", b"PGDMP\x01\x0e\x00" + b"\x00" * 64)
    assert strategy_for_file(dump) is BACKUP_STRATEGIES["postgresql"]
    assert strategy_for_file(_file(tmp_path / "notes.txt", b"hello")) is None
    assert strategy_for_file(_file(tmp_path / "empty", b"")) is None


async def test_a_restore_never_crosses_backends(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "data" / "gm.db")
    source = _sqlite_file(tmp_path / "gm.db", "audit_log")
    made = await backup_database(sqlite_url(source), tmp_path / "backups")
    assert made.kind == "sqlite" and made.path.suffix == ".db"
    # refused before any connection to the (unreachable) PostgreSQL server is tried
    crossing = "is a sqlite backup but the target database is postgresql"
    with pytest.raises(BackupError, match=crossing):
        await restore_database("postgresql://nobody@127.0.0.1:1/none", made.path, force=True)
    text = _file(tmp_path / "backups" / "notes.db", b"not a database at all")
    write_checksum(text, await file_sha256(text))
    with pytest.raises(BackupError, match="neither a SQLite database nor a pg_dump custom archive"):
        await restore_database(url, text, force=True)


def test_reserve_never_reuses_a_name(tmp_path: Path) -> None:
    first, first_part = reserve(tmp_path / "backups", "gm-20250101T000000Z", ".db")
    second, second_part = reserve(tmp_path / "backups", "gm-20250101T000000Z", ".db")
    assert (first.name, second.name) == ("gm-20250101T000000Z.db", "gm-20250101T000000Z-1.db")
    assert first_part.exists() and second_part.exists() and not first.exists()
    assert first_part.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "backups").stat().st_mode & 0o777 == 0o700


class _FakeBackup(BackupStrategy):
    """A made-up backend whose 'database' is one file named by the URL."""

    backend: ClassVar[str] = "fakedb"
    title: ClassVar[str] = "FakeDB"
    file_kind: ClassVar[str] = "a FakeDB copy"
    suffix: ClassVar[str] = ".fake"
    magic: ClassVar[bytes] = b"FAKEDB1"

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.discarded: list[Path] = []

    def source_name(self, parsed: URL) -> str:
        return Path(str(parsed.database)).stem

    async def write(self, url: str, parsed: URL, part: Path) -> None:
        part.write_bytes(self.magic + Path(str(parsed.database)).read_bytes())
        if self.fail:
            raise BackupError("the fake disk is full")

    async def tables(self, backup: Path) -> set[str]:
        return {"characters"}

    async def restore(
        self, url: str, parsed: URL, backup: Path, *, force: bool, schema: str
    ) -> None:
        raise NotImplementedError

    def discard(self, part: Path) -> None:
        self.discarded.append(part)
        super().discard(part)


@pytest.fixture
def strategies(monkeypatch: pytest.MonkeyPatch) -> dict[str, BackupStrategy]:
    """The strategy table, restored after the test."""
    table = dict(BACKUP_STRATEGIES)
    monkeypatch.setattr(backup, "BACKUP_STRATEGIES", table)
    return table


async def test_a_registered_strategy_backs_up_its_backend(
    tmp_path: Path, strategies: dict[str, BackupStrategy]
) -> None:
    source = _file(tmp_path / "hall.db", b"the whole world")
    fake = _FakeBackup()
    register_backup_strategy(fake)
    assert strategies["fakedb"] is fake
    made = await backup_database(f"fakedb:///{source}", tmp_path / "backups")
    assert made.kind == "fakedb" and made.path.name.startswith("hall-")
    assert made.path.suffix == ".fake" and made.path.read_bytes() == b"FAKEDB1the whole world"
    assert await verify_checksum(made.path) == made.sha256
    assert made.size == len(b"FAKEDB1the whole world")
    assert strategy_for_file(made.path) is fake


async def test_a_failed_backup_leaves_nothing_behind(
    tmp_path: Path, strategies: dict[str, BackupStrategy]
) -> None:
    source = _file(tmp_path / "hall.db", b"the whole world")
    fake = _FakeBackup(fail=True)
    register_backup_strategy(fake)
    with pytest.raises(BackupError, match="the fake disk is full"):
        await backup_database(f"fakedb:///{source}", tmp_path / "backups", name="hall")
    assert [p.name for p in fake.discarded] and list((tmp_path / "backups").iterdir()) == []


def test_a_magic_longer_than_what_is_read_is_refused(
    strategies: dict[str, BackupStrategy],
) -> None:
    class TooLong(_FakeBackup):
        magic: ClassVar[bytes] = b"x" * 17

    with pytest.raises(ValueError, match="at most 16 bytes"):
        register_backup_strategy(TooLong())
    assert "fakedb" not in strategies
