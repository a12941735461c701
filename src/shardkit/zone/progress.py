"""A character's stored state and its live progress in a zone, converted both ways (pure)."""

from __future__ import annotations

import math
from typing import Any

import msgspec

from shardkit.characters.schemas import CharacterState
from shardkit.zone.simulation import PlayerProgress

MUTE_KEY = "mute"
"""Where a character's mute lives in ``CharacterState.data``: ``[until, reason]``."""

MAX_ITEM_KINDS = 1000  # an inventory read from storage keeps at most this many kinds of item


def items_of(inventory: list[Any]) -> dict[str, int]:
    """Item counts from a stored inventory: ``[[item, count], ...]``; anything else is skipped."""
    items: dict[str, int] = {}
    for entry in inventory[:MAX_ITEM_KINDS]:
        if isinstance(entry, list | tuple) and len(entry) == 2:
            item, count = entry
        elif isinstance(entry, dict):
            item, count = entry.get("item"), entry.get("count")
        else:
            continue
        if isinstance(item, str) and isinstance(count, int) and count > 0:
            items[item] = items.get(item, 0) + count
    return items


def item_counts(items: dict[str, int]) -> list[tuple[str, int]]:
    """Items as sorted ``(item, count)`` pairs, the ones with a count above 0."""
    return sorted((item, count) for item, count in items.items() if count > 0)


def inventory_of(items: dict[str, int]) -> list[Any]:
    """Item counts as a stored inventory: ``[[item, count], ...]`` sorted by item."""
    return [[item, count] for item, count in item_counts(items)]


def mute_of(data: dict[str, Any]) -> tuple[float, str]:
    """(until, reason) of a stored mute; (0, "") when there is none."""
    value = data.get(MUTE_KEY)
    if isinstance(value, list) and len(value) == 2 and isinstance(value[0], int | float) \
            and isinstance(value[1], str) and math.isfinite(value[0]):
        return float(value[0]), value[1]
    return 0.0, ""


def with_mute(data: dict[str, Any], until: float, reason: str, now: float) -> dict[str, Any]:
    """``data`` with the mute set, or without one when it has run out by ``now``."""
    kept = {k: v for k, v in data.items() if k != MUTE_KEY}
    if until > now:
        kept[MUTE_KEY] = [until, reason]
    return kept


def saved_state(state: CharacterState, progress: PlayerProgress, *, zone: str,
                mute: tuple[float, str], now: float) -> CharacterState:
    """What to save: the loaded state with the zone's live progress (and mute) put in."""
    return msgspec.structs.replace(
        state, zone=zone, x=progress.x, y=progress.y, level=progress.level,
        experience=progress.xp, health=progress.hp, gold=progress.gold,
        inventory=inventory_of(progress.items), data=with_mute(state.data, *mute, now))


def is_new_here(state: CharacterState, zone: str) -> bool:
    """Whether a character has no place of its own in ``zone`` and goes to its spawn area:
    never saved since it was created (version 1), saved in another zone, dead, or placed
    where no position is."""
    return (state.version <= 1 or state.zone != zone or state.health <= 0
            or not (math.isfinite(state.x) and math.isfinite(state.y)))
