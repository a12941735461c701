"""Character storage: versioned character state, optimistic saves and a group-commit batcher."""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from typing import Annotated, Any, Final, NamedTuple

import msgspec
from sqlalchemy import ColumnElement, String, Table, bindparam, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from shardkit.store.character_tables import Character
from shardkit.store.database import (
    Database,
    NameTaken,
    StoreError,
    UTCDateTime,
    name_key,
    raise_name_taken,
    utcnow,
)

__all__ = [
    "CharacterLimit",
    "CharacterState",
    "CharacterStore",
    "DeletedCharacter",
    "NameTaken",
    "SaveBatcher",
    "SaveResult",
]

log = logging.getLogger(__name__)

_characters: Final[Table] = Character.__table__  # type: ignore[assignment]

_CREATE_LOCK: Final = 0x63726561  # PostgreSQL advisory lock class of "create a character" ("crea")


class CharacterLimit(StoreError):
    """The account already has as many (undeleted) characters in the world as it may."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"an account may have at most {limit} characters in a world")
        self.limit = limit


_INT32 = Annotated[int, msgspec.Meta(ge=-(2**31), le=2**31 - 1)]
_INT64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]


class _SaveRow(msgspec.Struct):
    """What a save writes, with the column types; used to validate a state before it is queued."""

    id: _INT64
    version: _INT32
    zone: str
    x: float
    y: float
    level: _INT32
    experience: _INT64
    health: _INT32
    gold: _INT64
    inventory: list[Any]
    data: dict[str, Any]


class _Prepared(NamedTuple):
    """One save, snapshotted and validated: the state as JSON plus the keys it is matched on."""

    id: int
    version: int
    json: bytes


class CharacterState(msgspec.Struct, kw_only=True):
    """A character's state; ``version`` is the stored version this state is based on."""

    id: int
    account_id: int
    world: str
    name: str
    zone: str
    x: float
    y: float
    level: int = 1
    experience: int = 0
    health: int = 100
    gold: int = 0
    inventory: list[Any] = msgspec.field(default_factory=list)
    data: dict[str, Any] = msgspec.field(default_factory=dict)
    version: int = 1


class DeletedCharacter(msgspec.Struct, frozen=True, kw_only=True):
    """A soft-deleted character, as a GM sees it before restoring it."""

    id: int
    account_id: int
    world: str
    name: str
    zone: str
    level: int
    deleted_at: datetime


class SaveResult(msgspec.Struct, frozen=True, kw_only=True):
    """The outcome of saving one state.

    ``ok``: ``version`` is the new stored version. ``reason="stale"``: the state was based on an old
    version and was refused; ``version`` is the version currently stored. ``reason="not_found"``:
    no such (undeleted) character; ``version`` is the one the state was based on.
    """

    id: int
    ok: bool
    version: int
    reason: str | None = None


def _state(row: Character) -> CharacterState:
    return CharacterState(
        id=row.id,
        account_id=row.account_id,
        world=row.world,
        name=row.name,
        zone=row.zone,
        x=row.x,
        y=row.y,
        level=row.level,
        experience=row.experience,
        health=row.health,
        gold=row.gold,
        inventory=row.inventory,
        data=row.data,
        version=row.version,
    )


def _deleted(row: Character) -> DeletedCharacter:
    assert row.deleted_at is not None
    return DeletedCharacter(
        id=row.id,
        account_id=row.account_id,
        world=row.world,
        name=row.name,
        zone=row.zone,
        level=row.level,
        deleted_at=row.deleted_at,
    )


def _prepare(state: CharacterState) -> _Prepared:
    """Snapshot ``state`` as JSON now, and check it fits the columns (finite floats, int ranges).

    A state that would make the UPDATE fail is refused here, where it only hurts its own caller,
    rather than failing a whole batch.
    """
    try:
        raw = msgspec.json.encode(state)
        row = msgspec.json.decode(raw, type=_SaveRow)
    except (TypeError, ValueError, OverflowError, msgspec.MsgspecError) as exc:
        raise ValueError(f"character {state.id} cannot be saved: {exc}") from exc
    return _Prepared(row.id, row.version, raw)


# A save is refused unless the row is still at the version the state was based on and not
# soft-deleted. A batch is applied with one set-based UPDATE per round: it joins the batch (a JSON
# array of states) to the table by id, with exactly the per-row condition
#     WHERE id = :id AND version = :version AND deleted_at IS NULL
# and RETURNING says which rows were updated (and their new version). One statement instead of one
# per state is what makes thousands of acknowledged saves per second possible.
_SQLITE_SAVE = text(
    """
    UPDATE characters SET
        zone = json_extract(s.value, '$.zone'),
        x = json_extract(s.value, '$.x'),
        y = json_extract(s.value, '$.y'),
        level = json_extract(s.value, '$.level'),
        experience = json_extract(s.value, '$.experience'),
        health = json_extract(s.value, '$.health'),
        gold = json_extract(s.value, '$.gold'),
        inventory = json_extract(s.value, '$.inventory'),
        data = json_extract(s.value, '$.data'),
        version = characters.version + 1,
        updated_at = :now
    FROM json_each(:batch) AS s
    WHERE characters.id = json_extract(s.value, '$.id')
      AND characters.version = json_extract(s.value, '$.version')
      AND characters.deleted_at IS NULL
    RETURNING characters.id, characters.version
    """
).bindparams(bindparam("now", type_=UTCDateTime()), bindparam("batch", type_=String()))

_POSTGRESQL_SAVE = text(
    """
    UPDATE characters SET
        zone = s.zone,
        x = s.x,
        y = s.y,
        level = s.level,
        experience = s.experience,
        health = s.health,
        gold = s.gold,
        inventory = s.inventory,
        data = s.data,
        version = characters.version + 1,
        updated_at = :now
    FROM jsonb_to_recordset(CAST(:batch AS jsonb)) AS s(
        id integer, version integer, zone varchar, x double precision, y double precision,
        level integer, experience bigint, health integer, gold bigint, inventory jsonb, data jsonb
    )
    WHERE characters.id = s.id
      AND characters.version = s.version
      AND characters.deleted_at IS NULL
    RETURNING characters.id, characters.version
    """
).bindparams(bindparam("now", type_=UTCDateTime()), bindparam("batch", type_=String()))


def _rounds(batch: Sequence[_Prepared]) -> builtins.list[builtins.list[int]]:
    """Split a batch (by index) so that no round holds the same character twice.

    The k-th save of a character goes into round k; rounds run in order, so saves of one character
    are applied in the order they were queued (a second save based on the same version is stale).
    """
    rounds: builtins.list[builtins.list[int]] = []
    seen: dict[int, int] = {}
    for index, save in enumerate(batch):
        k = seen.get(save.id, 0)
        seen[save.id] = k + 1
        if k == len(rounds):
            rounds.append([])
        rounds[k].append(index)
    return rounds


class CharacterStore:
    """Characters of the character database (opened with ``schema="characters"``)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    @property
    def db(self) -> Database:
        """The database this store uses."""
        return self._db

    def _by_name(self, account_id: int, world: str, name: str) -> tuple[ColumnElement[bool], ...]:
        return (
            Character.account_id == account_id,
            Character.world == world,
            Character.name_key == name_key(name),
        )

    async def list(self, account_id: int, world: str) -> builtins.list[CharacterState]:
        """The account's characters in ``world`` that are not deleted, oldest first."""
        async with self._db.session() as session:
            rows = await session.scalars(
                select(Character)
                .where(
                    Character.account_id == account_id,
                    Character.world == world,
                    Character.deleted_at.is_(None),
                )
                .order_by(Character.id)
            )
            return [_state(row) for row in rows]

    @contextlib.asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction: SQLite takes the write lock up front (BEGIN IMMEDIATE)."""
        async with self._db.engine.connect() as conn:
            if self._db.dialect == "sqlite":
                await conn.execution_options(sqlite_begin="IMMEDIATE")
            async with conn.begin():
                yield conn

    async def create(
        self, account_id: int, world: str, name: str, zone: str, x: float, y: float,
        *, limit: int | None = None,
    ) -> CharacterState:
        """Create a character at version 1; :class:`NameTaken` if the name is used in ``world``.

        With ``limit``, :class:`CharacterLimit` if the account already has that many undeleted
        characters in ``world``. The count and the insert are one transaction that creates of
        the same account take in turn (SQLite: the write lock, taken first; PostgreSQL: an
        advisory lock on the account), so concurrent creates never go over the limit.
        """
        now = utcnow()
        async with self._write() as conn:
            if limit is not None:
                if self._db.dialect == "postgresql":
                    await conn.execute(text("SELECT pg_advisory_xact_lock(:kind, :account)"),
                                       {"kind": _CREATE_LOCK, "account": account_id})
                count = await conn.scalar(
                    select(func.count()).select_from(_characters).where(
                        _characters.c.account_id == account_id,
                        _characters.c.world == world,
                        _characters.c.deleted_at.is_(None),
                    )
                )
                if int(count or 0) >= limit:
                    raise CharacterLimit(limit)
            with raise_name_taken(name):
                row = (
                    await conn.execute(
                        insert(_characters)
                        .values(
                            account_id=account_id, world=world, name=name,
                            name_key=name_key(name), zone=zone, x=x, y=y, level=1,
                            experience=0, health=100, gold=0, inventory=[], data={}, version=1,
                            created_at=now, updated_at=now,
                        )
                        .returning(*_characters.c)
                    )
                ).one()
        return _state(row)  # type: ignore[arg-type]  # a Row has the same attributes

    async def load(self, account_id: int, world: str, name: str) -> CharacterState | None:
        """The account's undeleted character called ``name`` (case-insensitively) in ``world``."""
        async with self._db.session() as session:
            row = await session.scalar(
                select(Character).where(
                    *self._by_name(account_id, world, name), Character.deleted_at.is_(None)
                )
            )
            return None if row is None else _state(row)

    async def deleted(self, world: str, limit: int = 50) -> builtins.list[DeletedCharacter]:
        """Soft-deleted characters of ``world``, most recently deleted first."""
        async with self._db.session() as session:
            rows = await session.scalars(
                select(Character)
                .where(Character.world == world, Character.deleted_at.is_not(None))
                .order_by(Character.deleted_at.desc(), Character.id.desc())
                .limit(limit)
            )
            return [_deleted(row) for row in rows]

    async def find_deleted(self, world: str, name: str) -> DeletedCharacter | None:
        """The soft-deleted character called ``name`` (case-insensitively) in ``world``."""
        async with self._db.session() as session:
            row = await session.scalar(
                select(Character).where(
                    Character.world == world,
                    Character.name_key == name_key(name),
                    Character.deleted_at.is_not(None),
                )
            )
            return None if row is None else _deleted(row)

    async def _change(
        self,
        account_id: int,
        world: str,
        name: str,
        deleted: bool,
        values: dict[str, Any],
        *conditions: ColumnElement[bool],
    ) -> int | None:
        """Apply ``values`` and a version bump to one character; its id, or None if no match."""
        state = Character.deleted_at.is_not(None) if deleted else Character.deleted_at.is_(None)
        async with self._db.session() as session, session.begin():
            result = await session.execute(
                update(Character)
                .where(*self._by_name(account_id, world, name), state, *conditions)
                .values(values | {"version": Character.version + 1, "updated_at": utcnow()})
                .returning(Character.id)
                .execution_options(synchronize_session=False)
            )
            return result.scalar_one_or_none()

    async def _get(self, character_id: int) -> CharacterState | None:
        async with self._db.session() as session:
            row = await session.get(Character, character_id)
            return None if row is None else _state(row)

    async def delete(self, account_id: int, world: str, name: str) -> bool:
        """Soft-delete the character (it keeps its name); False if no such undeleted character."""
        changed = await self._change(account_id, world, name, False, {"deleted_at": utcnow()})
        return changed is not None

    async def restore(
        self, account_id: int, world: str, name: str, *, deleted_since: datetime | None = None
    ) -> CharacterState | None:
        """Undo a soft delete; the restored state, or None if there is no such deleted character.

        With ``deleted_since``, only a character deleted at or after that time is restored.
        """
        since = () if deleted_since is None else (Character.deleted_at >= deleted_since,)
        character_id = await self._change(
            account_id, world, name, True, {"deleted_at": None}, *since
        )
        return None if character_id is None else await self._get(character_id)

    async def rename(
        self, account_id: int, world: str, name: str, new_name: str
    ) -> CharacterState | None:
        """Rename an undeleted character; None if not found, :class:`NameTaken` if name is used."""
        with raise_name_taken(new_name):
            character_id = await self._change(
                account_id, world, name, False, {"name": new_name, "name_key": name_key(new_name)}
            )
        return None if character_id is None else await self._get(character_id)

    async def save_many(self, states: Sequence[CharacterState]) -> builtins.list[SaveResult]:
        """Save ``states`` in one transaction, each only if still at its version.

        Returns only after the commit. Raises ValueError, before touching the database, if a state
        does not fit its columns.
        """
        return await self._save_prepared([_prepare(state) for state in states])

    async def _save_prepared(self, batch: Sequence[_Prepared]) -> builtins.list[SaveResult]:
        if not batch:
            return []
        statement = _POSTGRESQL_SAVE if self._db.dialect == "postgresql" else _SQLITE_SAVE
        now = utcnow()
        new_versions: builtins.list[int | None] = [None] * len(batch)
        async with self._db.engine.begin() as conn:
            for round_ in _rounds(batch):
                payload = b"[" + b",".join(batch[index].json for index in round_) + b"]"
                rows = await conn.execute(statement, {"batch": payload.decode(), "now": now})
                updated = {row.id: row.version for row in rows}
                for index in round_:
                    new_versions[index] = updated.get(batch[index].id)
            refused = {save.id for save, new in zip(batch, new_versions, strict=True) if new is None}
            stored: dict[int, int] = {}
            if refused:
                rows = await conn.execute(
                    select(_characters.c.id, _characters.c.version).where(
                        _characters.c.id.in_(refused), _characters.c.deleted_at.is_(None)
                    )
                )
                stored = {row.id: row.version for row in rows}
        # Committed: only now may anyone be told their save succeeded.
        results: builtins.list[SaveResult] = []
        for save, new in zip(batch, new_versions, strict=True):
            if new is not None:
                results.append(SaveResult(id=save.id, ok=True, version=new))
            elif save.id in stored:
                version = stored[save.id]
                results.append(SaveResult(id=save.id, ok=False, version=version, reason="stale"))
            else:
                results.append(
                    SaveResult(id=save.id, ok=False, version=save.version, reason="not_found")
                )
        return results


_STOP: Final = object()
_Pending = tuple[_Prepared, asyncio.Future[SaveResult]]


class SaveBatcher:
    """Group commit: many coroutines ``await save(state)``; one writer task commits them in batches.

    Each caller's future resolves only after the transaction holding its save has committed; if the
    transaction fails, every caller in that batch gets the exception. The state is snapshotted when
    ``save`` is called, so the caller may keep mutating it while waiting.

    ``on_commit(batch_size, seconds, ok)``, if given, hears of every transaction (for metrics).
    """

    def __init__(
        self, store: CharacterStore, max_batch: int = 500, max_delay_s: float = 0.002,
        on_commit: Callable[[int, float, bool], None] | None = None,
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        if max_delay_s < 0:
            raise ValueError("max_delay_s must not be negative")
        self._store = store
        self.max_batch = max_batch
        self.max_delay_s = max_delay_s
        self._on_commit = on_commit
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def start(self) -> None:
        """Start the writer task (idempotent; ``save`` also starts it)."""
        if self._closing:
            raise RuntimeError("SaveBatcher is closed")
        if self._task is None:
            loop = asyncio.get_running_loop()
            self._task = loop.create_task(self._run(), name="shardkit-save-batcher")

    async def save(self, state: CharacterState) -> SaveResult:
        """Queue ``state`` and wait until its batch is committed."""
        if self._closing:
            raise RuntimeError("SaveBatcher is closed")
        if self._task is not None and self._task.done():
            raise RuntimeError("SaveBatcher writer task has stopped")
        prepared = _prepare(state)
        self.start()
        future: asyncio.Future[SaveResult] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((prepared, future))
        return await future

    async def close(self) -> None:
        """Stop accepting saves, commit everything already queued, then stop the writer task."""
        if self._closing:
            if self._task is not None:
                await asyncio.shield(self._task)
            return
        self._closing = True
        if self._task is None:
            return
        self._queue.put_nowait(_STOP)
        await asyncio.shield(self._task)

    def _take(self, batch: builtins.list[Any]) -> bool:
        """Move queued items into ``batch`` (up to max_batch); True at the stop marker."""
        while len(batch) < self.max_batch:
            try:
                item = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                return False
            if item is _STOP:
                return True
            batch.append(item)
        return False

    async def _run(self) -> None:
        batch: builtins.list[_Pending] = []
        try:
            stopping = False
            while not stopping:
                first = await self._queue.get()
                if first is _STOP:
                    break
                batch = [first]
                stopping = self._take(batch)
                if not stopping and len(batch) < self.max_batch and self.max_delay_s > 0:
                    await asyncio.sleep(self.max_delay_s)
                    stopping = self._take(batch)
                # Nothing can follow the stop marker: save() refuses once close() has queued it.
                await self._commit(batch)
                batch = []
        finally:
            self._fail_pending(batch)

    async def _commit(self, batch: builtins.list[_Pending]) -> None:
        if not batch:
            return
        started = time.perf_counter()
        try:
            results = await self._store._save_prepared([prepared for prepared, _ in batch])
        except Exception as exc:
            self._committed(len(batch), started, ok=False)
            log.warning("save batch of %d failed: %r", len(batch), exc)
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        self._committed(len(batch), started, ok=True)
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)

    def _committed(self, size: int, started: float, *, ok: bool) -> None:
        if self._on_commit is not None:
            try:
                self._on_commit(size, time.perf_counter() - started, ok)
            except Exception:
                log.exception("on_commit failed")

    def _fail_pending(self, batch: builtins.list[_Pending]) -> None:
        """The writer is gone: nothing left in ``batch`` or the queue was committed."""
        error = RuntimeError("SaveBatcher stopped before this save was committed")
        pending = list(batch)
        with contextlib.suppress(asyncio.QueueEmpty):
            while True:
                item = self._queue.get_nowait()
                if item is not _STOP:
                    pending.append(item)
        for _, future in pending:
            if not future.done():
                future.set_exception(error)
