"""Storage tests on SQLite and PostgreSQL: accounts, characters, saves, batching, migrations."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import warnings
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, func, select, text
from sqlalchemy.engine import Connection

import shardkit
from shardkit.store.accounts import AccountRecord, AccountStore, LoginRecord
from shardkit.store.audit import AuditStore
from shardkit.store.character_tables import Character, CharacterBase
from shardkit.store.characters import (
    CharacterLimit,
    CharacterState,
    CharacterStore,
    SaveBatcher,
    SaveResult,
)
from shardkit.store.database import (
    SCHEMAS,
    Database,
    NameTaken,
    create_database_engine,
    sqlite_url,
    utcnow,
)
from shardkit.store.gm_tables import GMBase
from shardkit.store.master_tables import LoginAttempt, MasterBase
from shardkit.store.migrate import current_revision, head_revision, upgrade
from shardkit.store.testing import PostgresUnavailable, fresh_database_url

METADATA: dict[str, MetaData] = {
    "master": MasterBase.metadata,
    "characters": CharacterBase.metadata,
    "gm": GMBase.metadata,
}

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]

_postgres_down: str | None = None  # why PostgreSQL was unreachable, once it was found to be


def _postgres_unavailable(reason: str) -> None:
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(f"CI=true requires PostgreSQL (SHARDKIT_TEST_PG); it is unreachable: {reason}")
    pytest.skip(f"PostgreSQL unreachable (set SHARDKIT_TEST_PG): {reason}")


# ---------------------------------------------------------------------------------------------
# fixtures


@pytest.fixture(params=BACKENDS)
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """The URL of a fresh, empty database, once per backend."""
    global _postgres_down
    kind: str = request.param
    if kind == "postgresql" and _postgres_down is not None:
        _postgres_unavailable(_postgres_down)
    try:
        url, cleanup = await fresh_database_url(kind, tmp_path)
    except PostgresUnavailable as exc:
        _postgres_down = str(exc)
        warnings.warn(f"PostgreSQL tests are skipped: {exc}", stacklevel=1)
        _postgres_unavailable(_postgres_down)
        raise  # not reached: skip() and fail() raise
    try:
        yield url
    finally:
        await cleanup()


async def _open(url: str, schema: str) -> AsyncIterator[Database]:
    db = await Database.open(url, schema=schema)
    try:
        yield db
    finally:
        await db.close()


@pytest.fixture
async def master_db(db_url: str) -> AsyncIterator[Database]:
    async for db in _open(db_url, "master"):
        yield db


@pytest.fixture
async def characters_db(db_url: str) -> AsyncIterator[Database]:
    async for db in _open(db_url, "characters"):
        yield db


@pytest.fixture
async def gm_db(db_url: str) -> AsyncIterator[Database]:
    async for db in _open(db_url, "gm"):
        yield db


@pytest.fixture
def accounts(master_db: Database) -> AccountStore:
    return AccountStore(master_db)


@pytest.fixture
def characters(characters_db: Database) -> CharacterStore:
    return CharacterStore(characters_db)


async def _new_account(accounts: AccountStore, name: str, role: str = "player") -> AccountRecord:
    salt = b"salt" + name.encode()
    return await accounts.create(name, salt, b"stored", b"server", 4096, role=role)


def _fields(state: CharacterState) -> dict[str, Any]:
    return {name: getattr(state, name) for name in state.__struct_fields__}


def _with(state: CharacterState, **changes: Any) -> CharacterState:
    return CharacterState(**{**_fields(state), **changes})


# ---------------------------------------------------------------------------------------------
# database


async def test_sqlite_pragmas_and_data_directory(tmp_path: Path) -> None:
    path = tmp_path / "data" / "nested" / "master.db"
    db = await Database.open(sqlite_url(path), schema="master")
    try:
        assert path.exists()
        assert db.dialect == "sqlite"
        assert db.url.startswith("sqlite+aiosqlite:///")
        async with db.engine.connect() as conn:
            assert (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"
            assert (await conn.exec_driver_sql("PRAGMA synchronous")).scalar() == 2  # FULL
            assert (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1
            assert (await conn.exec_driver_sql("PRAGMA busy_timeout")).scalar() == 5000
    finally:
        await db.close()


async def test_sqlite_files_are_private_whatever_the_umask(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A database (and its -wal/-shm) is mode 600 and the folders made for it 700, even when the
    umask would allow more; a database found readable by others is tightened, and that logged."""
    path = tmp_path / "data" / "nested" / "master.db"
    previous = os.umask(0o022)
    try:
        db = await Database.open(sqlite_url(path), schema="master")
        try:
            await AccountStore(db).create("alice", b"s" * 16, b"k" * 32, b"v" * 32, 4096)
            side = [path.with_name(path.name + s) for s in ("-wal", "-shm")]
            modes = {p.name: oct(p.stat().st_mode & 0o777) for p in [path, *side]}
            assert modes == dict.fromkeys(modes, oct(0o600)) and len(modes) == 3
            assert [oct(p.stat().st_mode & 0o777) for p in (path.parent, path.parent.parent)] == [
                oct(0o700)] * 2
        finally:
            await db.close()

        path.chmod(0o644)  # as an older shardkit (or another tool) left it
        with caplog.at_level(logging.WARNING, logger="shardkit.files"):
            db = await Database.open(sqlite_url(path), schema="master")
        await db.close()
    finally:
        os.umask(previous)
    assert oct(path.stat().st_mode & 0o777) == oct(0o600)
    assert any("master.db from mode 644 to 600" in r.getMessage() for r in caplog.records)


async def test_in_memory_sqlite_and_unknown_schema_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="in-memory"):
        await Database.open("sqlite+aiosqlite://", schema="master")
    with pytest.raises(ValueError, match="unknown schema"):
        await Database.open(sqlite_url(tmp_path / "x.db"), schema="nope")


async def test_open_twice_and_dialect(db_url: str) -> None:
    first = await Database.open(db_url, schema="master")
    second = await Database.open(db_url, schema="master")  # already at head: no-op
    try:
        expected = "sqlite" if db_url.startswith("sqlite") else "postgresql"
        assert first.dialect == second.dialect == expected
        async with second.session() as session:
            assert await session.scalar(select(func.count()).select_from(LoginAttempt)) == 0
    finally:
        await first.close()
        await second.close()


# ---------------------------------------------------------------------------------------------
# accounts


async def test_account_create_get_and_duplicate(accounts: AccountStore) -> None:
    alice = await _new_account(accounts, "Alice")
    assert alice.name == "Alice"
    assert alice.role == "player"
    assert alice.salt == b"saltAlice" and alice.iterations == 4096
    assert alice.created_at.tzinfo is not None and alice.created_at.utcoffset() == timedelta(0)
    assert alice.last_login_at is None

    assert await accounts.get_by_name("alice") == alice
    assert await accounts.get_by_name("ALICE") == alice
    assert await accounts.get(alice.id) == alice
    assert await accounts.get_by_name("bob") is None
    assert await accounts.get(alice.id + 1000) is None

    with pytest.raises(NameTaken):
        await _new_account(accounts, "aLiCe")
    bob = await _new_account(accounts, "Bob", role="gm")
    assert bob.role == "gm" and bob.id != alice.id
    with pytest.raises(ValueError):
        await _new_account(accounts, "Carol", role="emperor")


async def test_concurrent_duplicate_creates_exactly_one_wins(accounts: AccountStore) -> None:
    names = ["dave", "Dave", "DAVE", "dAve", "daVE", "davE"]
    results = await asyncio.gather(
        *(_new_account(accounts, n) for n in names), return_exceptions=True
    )
    created = [r for r in results if not isinstance(r, BaseException)]
    assert len(created) == 1
    assert all(isinstance(r, NameTaken) for r in results if isinstance(r, BaseException))
    assert (await accounts.get_by_name("DaVe")) == created[0]


async def test_account_roles_logins_and_listing(
    accounts: AccountStore, master_db: Database
) -> None:
    made = [await _new_account(accounts, f"user{i:02d}") for i in range(5)]
    assert await accounts.set_role("USER01", "admin") is True
    assert await accounts.set_role("nobody", "gm") is False
    with pytest.raises(ValueError):
        await accounts.set_role("user01", "root")
    user01 = await accounts.get(made[1].id)
    assert user01 is not None and user01.role == "admin"

    page = await accounts.list(limit=2, offset=1)
    assert [a.name for a in page] == ["user01", "user02"]
    assert len(await accounts.list()) == 5

    await accounts.record_logins([LoginRecord(made[0].id, "203.0.113.7", False, utcnow())])
    user00 = await accounts.get(made[0].id)
    assert user00 is not None and user00.last_login_at is None
    await accounts.record_logins([LoginRecord(made[0].id, "203.0.113.7", True, utcnow()),
                                  LoginRecord(None, "198.51.100.1", False, utcnow())])
    user00 = await accounts.get(made[0].id)
    assert user00 is not None and user00.last_login_at is not None
    assert user00.last_login_at.tzinfo is not None
    async with master_db.session() as session:
        rows = (await session.scalars(select(LoginAttempt).order_by(LoginAttempt.id))).all()
        assert [(r.account_id, r.ip, r.success) for r in rows] == [
            (made[0].id, "203.0.113.7", False),
            (made[0].id, "203.0.113.7", True),
            (None, "198.51.100.1", False),
        ]


# ---------------------------------------------------------------------------------------------
# characters


async def test_character_lifecycle(characters: CharacterStore) -> None:
    hero = await characters.create(1, "avalon", "Hero", "town", 1.5, -2.0)
    assert (hero.name, hero.zone, hero.x, hero.y) == ("Hero", "town", 1.5, -2.0)
    assert (hero.level, hero.experience, hero.health, hero.gold, hero.version) == (1, 0, 100, 0, 1)
    assert hero.inventory == [] and hero.data == {}
    sidekick = await characters.create(1, "avalon", "Sidekick", "town", 0, 0)
    await characters.create(2, "avalon", "Villain", "keep", 0, 0)
    await characters.create(1, "brigadoon", "Other", "glen", 0, 0)

    assert [c.name for c in await characters.list(1, "avalon")] == ["Hero", "Sidekick"]
    assert await characters.load(1, "avalon", "HERO") == hero
    assert await characters.load(2, "avalon", "Hero") is None  # another account's character
    assert await characters.load(1, "brigadoon", "Hero") is None

    assert await characters.delete(1, "avalon", "hero") is True
    assert await characters.delete(1, "avalon", "hero") is False
    assert await characters.load(1, "avalon", "Hero") is None
    assert [c.name for c in await characters.list(1, "avalon")] == ["Sidekick"]
    with pytest.raises(NameTaken):  # a deleted character keeps its name
        await characters.create(3, "avalon", "hero", "town", 0, 0)

    restored = await characters.restore(1, "avalon", "Hero")
    assert restored is not None and restored.id == hero.id
    assert restored.version == hero.version + 2  # delete and restore both bump the version
    assert await characters.restore(1, "avalon", "Hero") is None
    assert [c.name for c in await characters.list(1, "avalon")] == ["Hero", "Sidekick"]

    renamed = await characters.rename(1, "avalon", "sidekick", "Sidekick2")
    assert renamed is not None and renamed.name == "Sidekick2"
    assert renamed.version == sidekick.version + 1
    assert await characters.load(1, "avalon", "Sidekick") is None
    with pytest.raises(NameTaken):
        await characters.rename(1, "avalon", "Sidekick2", "villain")
    recased = await characters.rename(1, "avalon", "sidekick2", "SIDEKICK2")  # same key
    assert recased is not None and recased.name == "SIDEKICK2"
    assert await characters.rename(1, "avalon", "ghost", "Spirit") is None


async def test_character_names_unique_per_world(characters: CharacterStore) -> None:
    await characters.create(1, "avalon", "Zed", "town", 0, 0)
    with pytest.raises(NameTaken):
        await characters.create(2, "avalon", "zED", "town", 0, 0)
    other = await characters.create(2, "brigadoon", "Zed", "glen", 0, 0)
    assert other.world == "brigadoon"


async def test_concurrent_creates_stay_within_the_character_limit(
        characters: CharacterStore) -> None:
    made = await asyncio.gather(
        *(characters.create(7, "avalon", f"Hero{chr(97 + i)}", "town", 0, 0, limit=3)
          for i in range(12)),
        return_exceptions=True)
    assert sum(isinstance(m, CharacterState) for m in made) == 3, made
    assert all(isinstance(m, CharacterState | CharacterLimit) for m in made), made
    assert len(await characters.list(7, "avalon")) == 3
    await characters.create(7, "elsewhere", "Herox", "town", 0, 0, limit=3)  # per world
    await characters.create(8, "avalon", "Otherhero", "town", 0, 0, limit=3)  # per account
    first = (await characters.list(7, "avalon"))[0]
    assert await characters.delete(7, "avalon", first.name)
    assert len(await characters.list(7, "avalon")) == 2  # a deleted character does not count
    await characters.create(7, "avalon", "Heroz", "town", 0, 0, limit=3)
    with pytest.raises(CharacterLimit):
        await characters.create(7, "avalon", "Herozz", "town", 0, 0, limit=3)


async def test_save_bumps_version_and_roundtrips_json(characters: CharacterStore) -> None:
    state = await characters.create(1, "avalon", "Saver", "town", 0, 0)
    state.zone, state.x, state.y = "dungeon", 10.25, 20.5
    state.gold, state.experience, state.level, state.health = 2**40, 123, 7, 55
    state.inventory = [{"item": "sword", "count": 1}, {"item": "potion", "count": 5}]
    state.data = {"quests": {"q1": "done"}, "flags": [1, 2.5, True, None], "title": "Ünïcode ✓"}
    [result] = await characters.save_many([state])
    assert result == SaveResult(id=state.id, ok=True, version=2, reason=None)
    loaded = await characters.load(1, "avalon", "saver")
    assert loaded == _with(state, version=2)
    assert await characters.save_many([]) == []


async def test_stale_save_is_refused_and_newer_state_kept(characters: CharacterStore) -> None:
    base = await characters.create(1, "avalon", "Racer", "town", 0, 0)
    assert (await characters.save_many([_with(base, gold=10)]))[0].ok
    [refused] = await characters.save_many([_with(base, gold=99)])  # also based on version 1
    assert refused == SaveResult(id=base.id, ok=False, version=2, reason="stale")
    kept = await characters.load(1, "avalon", "Racer")
    assert kept is not None and kept.gold == 10 and kept.version == 2


async def test_save_many_mixes_ok_stale_and_not_found(characters: CharacterStore) -> None:
    a = await characters.create(1, "avalon", "A", "town", 0, 0)
    b = await characters.create(1, "avalon", "B", "town", 0, 0)
    c = await characters.create(1, "avalon", "C", "town", 0, 0)
    d = await characters.create(1, "avalon", "D", "town", 0, 0)
    await characters.save_many([_with(b, gold=1)])  # b is now at version 2
    assert await characters.delete(1, "avalon", "C")  # c is deleted, at version 2

    results = await characters.save_many(
        [
            _with(a, gold=5),  # ok -> 2
            _with(b, gold=7),  # stale: based on 1, stored 2
            _with(a, gold=6),  # same batch, also based on 1 -> stale
            _with(a, gold=8, version=2),  # based on the save just before it -> ok, 3
            c,  # soft-deleted
            _with(c, version=c.version + 1),  # at the stored version, but deleted
            _with(a, id=a.id + 1000),  # never existed
            _with(d, gold=9),  # ok -> 2
        ]
    )
    assert results == [
        SaveResult(id=a.id, ok=True, version=2),
        SaveResult(id=b.id, ok=False, version=2, reason="stale"),
        SaveResult(id=a.id, ok=False, version=3, reason="stale"),
        SaveResult(id=a.id, ok=True, version=3),
        SaveResult(id=c.id, ok=False, version=c.version, reason="not_found"),
        SaveResult(id=c.id, ok=False, version=c.version + 1, reason="not_found"),
        SaveResult(id=a.id + 1000, ok=False, version=a.version, reason="not_found"),
        SaveResult(id=d.id, ok=True, version=2),
    ]
    stored = {s.name: (s.gold, s.version) for s in await characters.list(1, "avalon")}
    assert stored == {"A": (8, 3), "B": (1, 2), "D": (9, 2)}


# ---------------------------------------------------------------------------------------------
# save batcher


class _CountingStore(CharacterStore):
    """Counts the transactions (batches) the batcher commits."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.batches: list[int] = []

    async def save_prepared(self, batch: Sequence[Any]) -> list[SaveResult]:
        self.batches.append(len(batch))
        return await super().save_prepared(batch)


async def test_save_batcher_many_concurrent_savers(db_url: str) -> None:
    db = await Database.open(db_url, schema="characters")
    reader = await Database.open(db_url, schema="characters")  # own pool: sees committed data only
    store, reader_store = _CountingStore(db), CharacterStore(reader)
    try:
        states = [await store.create(7, "avalon", f"c{i:03d}", "town", 0, 0) for i in range(200)]
        batcher = SaveBatcher(store, max_batch=64)
        batcher.start()

        async def saver(state: CharacterState) -> list[SaveResult]:
            results = []
            for round_ in range(3):
                state.gold = state.id * 10 + round_
                state.inventory = [round_]
                result = await batcher.save(state)
                assert result.ok, result
                state.version = result.version
                # Acknowledged means committed: another connection already sees it.
                seen = await reader_store.load(7, "avalon", state.name)
                assert seen is not None and seen.version >= result.version
                results.append(result)
            return results

        all_results = await asyncio.gather(*(saver(s) for s in states))
        await batcher.close()
        assert all(r.ok for rs in all_results for r in rs)
        assert all([r.version for r in rs] == [2, 3, 4] for rs in all_results)
        assert sum(store.batches) == 600 and max(store.batches) <= 64
        assert len(store.batches) < 100  # saves really were grouped into transactions
        with pytest.raises(RuntimeError):
            await batcher.save(states[0])
    finally:
        await db.close()
        await reader.close()

    db = await Database.open(db_url, schema="characters")
    try:
        loaded = await CharacterStore(db).list(7, "avalon")
        assert len(loaded) == 200
        for state in loaded:
            assert (state.version, state.gold, state.inventory) == (4, state.id * 10 + 2, [2])
    finally:
        await db.close()


async def test_save_batcher_snapshots_state_and_close_flushes(characters: CharacterStore) -> None:
    state = await characters.create(1, "avalon", "Snap", "town", 0, 0)
    batcher = SaveBatcher(characters, max_delay_s=0.05)
    state.inventory = ["apple"]
    pending = asyncio.ensure_future(batcher.save(state))
    await asyncio.sleep(0)  # queued, not yet committed
    state.inventory.append("mutated-after-save")
    await batcher.close()  # flushes the queued save
    assert (await pending).ok
    loaded = await characters.load(1, "avalon", "Snap")
    assert loaded is not None and loaded.inventory == ["apple"] and loaded.version == 2
    with pytest.raises(RuntimeError):
        await batcher.save(state)
    await batcher.close()  # idempotent


class _FailingStore:
    def __init__(self) -> None:
        self.batches: list[int] = []

    async def save_prepared(self, batch: Sequence[Any]) -> list[SaveResult]:
        self.batches.append(len(batch))
        await asyncio.sleep(0)
        raise ConnectionError("database went away")


async def test_save_batcher_failure_reaches_every_caller_in_the_batch() -> None:
    store = _FailingStore()
    batcher = SaveBatcher(store, max_batch=10, max_delay_s=0.01)  # type: ignore[arg-type]
    states = [
        CharacterState(id=i, account_id=1, world="w", name=f"n{i}", zone="z", x=0, y=0)
        for i in range(25)
    ]
    results = await asyncio.gather(*(batcher.save(s) for s in states), return_exceptions=True)
    await batcher.close()
    assert all(isinstance(r, ConnectionError) for r in results)
    assert sum(store.batches) == 25 and max(store.batches) <= 10


async def test_unsavable_state_is_refused_without_hurting_its_batch(
    characters: CharacterStore,
) -> None:
    good = await characters.create(1, "avalon", "Good", "town", 0, 0)
    bad = await characters.create(1, "avalon", "Bad", "town", 0, 0)
    batcher = SaveBatcher(characters)
    broken_values: list[tuple[str, Any]] = [
        ("data", {"oops": object()}),
        ("x", float("nan")),
        ("gold", 2**64),
        ("level", 2**40),
        ("zone", None),
    ]
    try:
        for field, value in broken_values:
            broken = _with(bad, **{field: value})
            results = await asyncio.gather(
                batcher.save(good), batcher.save(broken), return_exceptions=True
            )
            assert isinstance(results[0], SaveResult) and results[0].ok, (field, results)
            assert isinstance(results[1], ValueError), (field, results)
            good.version = results[0].version
        with pytest.raises(ValueError):
            await characters.save_many([_with(bad, y=float("inf"))])
    finally:
        await batcher.close()
    loaded = await characters.load(1, "avalon", "Bad")
    assert loaded is not None and loaded.version == 1


_KILLED_SAVER = """
import asyncio, os, signal, sys
from shardkit.store.characters import CharacterStore, SaveBatcher
from shardkit.store.database import Database

async def main(url: str) -> None:
    store = CharacterStore(await Database.open(url, schema="characters"))
    batcher = SaveBatcher(store, max_batch=16)
    acked = 0

    async def saver(state):
        nonlocal acked
        while True:
            state.gold += 1
            result = await batcher.save(state)
            assert result.ok, result
            state.version = result.version
            sys.stdout.write(f"{state.id} {result.version} {state.gold}\\n")
            sys.stdout.flush()
            acked += 1
            if acked >= 300:
                os.kill(os.getpid(), signal.SIGKILL)  # other saves are queued and in flight

    await asyncio.gather(*(saver(s) for s in await store.list(9, "avalon")))

asyncio.run(main(sys.argv[1]))
"""


async def test_acknowledged_saves_survive_kill_9(db_url: str) -> None:
    db = await Database.open(db_url, schema="characters")
    try:
        for i in range(40):
            await CharacterStore(db).create(9, "avalon", f"k{i:02d}", "town", 0, 0)
    finally:
        await db.close()

    src = str(Path(shardkit.__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _KILLED_SAVER, db_url, stdout=asyncio.subprocess.PIPE, env=env
    )
    stdout, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == -signal.SIGKILL
    lines = stdout.decode().splitlines()
    assert len(lines) >= 300
    acked: dict[int, tuple[int, int]] = {}  # newest acknowledged (version, gold) per character
    for line in lines:
        character_id, version, gold = map(int, line.split())
        acked[character_id] = max(acked.get(character_id, (0, 0)), (version, gold))

    db = await Database.open(db_url, schema="characters")
    try:
        stored = {s.id: s for s in await CharacterStore(db).list(9, "avalon")}
    finally:
        await db.close()
    for character_id, (version, gold) in acked.items():
        assert stored[character_id].version >= version
        assert stored[character_id].gold >= gold
        assert stored[character_id].gold == stored[character_id].version - 1  # a gold per save


# ---------------------------------------------------------------------------------------------
# audit


async def test_audit_record_and_recent(gm_db: Database) -> None:
    audit = AuditStore(gm_db)
    first = await audit.record("gm:alice", "kick", "player:bob", {"reason": "spam"})
    await audit.record("admin:root", "set_role", "alice", {"role": "gm"})
    await audit.record("gm:alice", "announce")
    recent = await audit.recent(2)
    assert [(e.actor, e.action, e.target) for e in recent] == [
        ("gm:alice", "announce", None),
        ("admin:root", "set_role", "alice"),
    ]
    assert recent[0].detail == {} and recent[1].detail == {"role": "gm"}
    everything = await audit.recent()
    assert everything[-1] == first
    assert first.at.tzinfo is not None and first.at <= datetime.now(UTC)


# ---------------------------------------------------------------------------------------------
# migrations


async def test_migration_keeps_rows_and_reaches_head(db_url: str) -> None:
    assert await current_revision(db_url, "characters") is None
    await upgrade(db_url, "characters", "0001")
    assert await current_revision(db_url, "characters") == "0001"

    engine = await create_database_engine(db_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO characters"
                    " (account_id, world, name, name_key, zone, x, y, inventory, data)"
                    " VALUES (42, 'avalon', 'Old', 'old', 'town', 1.0, 2.0, :inventory, :data)"
                ),
                {"inventory": '["torch"]', "data": '{"a": 1}'},
            )
    finally:
        await engine.dispose()

    await upgrade(db_url, "characters")
    head = await head_revision("characters")
    assert await current_revision(db_url, "characters") == head

    db = await Database.open(db_url, schema="characters")  # migrates to head too: a no-op now
    try:
        old = await CharacterStore(db).load(42, "avalon", "OLD")
        assert old is not None
        assert (old.zone, old.x, old.y) == ("town", 1.0, 2.0)
        assert (old.level, old.health, old.gold) == (1, 100, 0)
        assert old.version == 1 and old.inventory == ["torch"] and old.data == {"a": 1}
        async with db.session() as session:
            row = await session.get(Character, old.id)
            assert row is not None and row.created_at.tzinfo is not None and row.deleted_at is None
    finally:
        await db.close()


@pytest.mark.parametrize("schema", SCHEMAS)
async def test_migrations_match_models(db_url: str, schema: str) -> None:
    assert await current_revision(db_url, schema) is None
    db = await Database.open(db_url, schema=schema)
    try:
        assert await current_revision(db_url, schema) == await head_revision(schema)

        def diff(conn: Connection) -> list[Any]:
            context = MigrationContext.configure(conn, opts={"compare_server_default": True})
            return list(compare_metadata(context, METADATA[schema]))

        async with db.engine.connect() as conn:
            assert await conn.run_sync(diff) == []
    finally:
        await db.close()
