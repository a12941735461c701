"""Batched character saves: each checked and snapshotted first, then applied set-based per batch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Final, NamedTuple

import msgspec
from sqlalchemy import String, Table, TextClause, bindparam, select, text

from shardkit.store.character_tables import Character
from shardkit.store.character_types import CharacterState
from shardkit.store.database import Database, UTCDateTime, utcnow

__all__ = ["PreparedSave", "SaveResult", "commit_saves", "prepare_save"]

_characters: Final[Table] = Character.__table__  # type: ignore[assignment]

_INT32 = Annotated[int, msgspec.Meta(ge=-(2**31), le=2**31 - 1)]
_INT64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]


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


class PreparedSave(NamedTuple):
    """One save, snapshotted and validated: the state as JSON plus the keys it is matched on."""

    id: int
    version: int
    json: bytes


def prepare_save(state: CharacterState) -> PreparedSave:
    """Snapshot ``state`` as JSON now, and check it fits the columns (finite floats, int ranges).

    A state that would make the UPDATE fail is refused here (ValueError), where it only hurts its
    own caller, rather than failing a whole batch. The caller may change ``state`` afterwards.
    """
    try:
        raw = msgspec.json.encode(state)
        row = msgspec.json.decode(raw, type=_SaveRow)
    except (TypeError, ValueError, OverflowError, msgspec.MsgspecError) as exc:
        raise ValueError(f"character {state.id} cannot be saved: {exc}") from exc
    return PreparedSave(row.id, row.version, raw)


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

SAVE_STATEMENTS: Final[dict[str, TextClause]] = {
    "sqlite": _SQLITE_SAVE,
    "postgresql": _POSTGRESQL_SAVE,
}
"""The set-based save per database backend (SQLAlchemy dialect name)."""


def rounds(batch: Sequence[PreparedSave]) -> list[list[int]]:
    """Split a batch (by index) so that no round holds the same character twice.

    The k-th save of a character goes into round k; rounds run in order, so saves of one character
    are applied in the order they were queued (a second save based on the same version is stale).
    """
    split: list[list[int]] = []
    seen: dict[int, int] = {}
    for index, save in enumerate(batch):
        k = seen.get(save.id, 0)
        seen[save.id] = k + 1
        if k == len(split):
            split.append([])
        split[k].append(index)
    return split


async def commit_saves(db: Database, batch: Sequence[PreparedSave]) -> list[SaveResult]:
    """Apply ``batch`` in one transaction, each save only if still at its version.

    Returns only after the commit: a result says ``ok`` only for a save that is committed.
    If the transaction fails, the exception propagates and no result is given.
    """
    if not batch:
        return []
    statement = SAVE_STATEMENTS[db.dialect]
    now = utcnow()
    new_versions: list[int | None] = [None] * len(batch)
    async with db.engine.begin() as conn:
        for round_ in rounds(batch):
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
    results: list[SaveResult] = []
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
