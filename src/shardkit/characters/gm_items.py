"""Gold and items a game master gives or takes, applied to a character state (pure, no I/O).

A stored inventory is the zone's: a list of ``[<content item id>, <count>]`` pairs, one per
item (zone/progress.py writes it). ``{"item": <id>, "count": <n>}`` entries, which earlier
GM changes wrote, are read as well and rewritten as pairs. Entries of any other shape are
kept as they are, untouched and in place, so a change never loses what it does not
understand.
"""

from __future__ import annotations

from collections.abc import Container
from typing import Any

import msgspec

from shardkit.characters.gm_schemas import ItemCount
from shardkit.store.character_types import CharacterState
from shardkit.wire.rpc import RpcError

MAX_GOLD = 2**62
MAX_COUNT = 1_000_000
MAX_CHANGES = 32


def _entry(entry: Any) -> tuple[str, int] | None:
    """(item, count) of an entry of the inventory format, or None for anything else."""
    if isinstance(entry, list | tuple) and len(entry) == 2:
        item, count = entry
    elif isinstance(entry, dict) and set(entry) == {"item", "count"}:
        item, count = entry["item"], entry["count"]
    else:
        return None
    if isinstance(item, str) and isinstance(count, int) and not isinstance(count, bool):
        return item, count
    return None


def item_counts(inventory: list[Any]) -> list[ItemCount]:
    """The items of an inventory with their counts, in the inventory's order."""
    counts: dict[str, int] = {}
    for entry in inventory:
        parsed = _entry(entry)
        if parsed is not None:
            counts[parsed[0]] = counts.get(parsed[0], 0) + parsed[1]
    return [ItemCount(item, count) for item, count in counts.items()]


def check_changes(gold: int, items: list[ItemCount], known: Container[str]) -> None:
    """Refuse a change that is empty, too big, or names an item the content does not have."""
    if not gold and not items:
        raise RpcError("bad_params", "nothing to give or take: name gold or items")
    if abs(gold) > MAX_GOLD or len(items) > MAX_CHANGES:
        raise RpcError("bad_params", f"at most {MAX_GOLD} gold and {MAX_CHANGES} items at once")
    for change in items:
        if change.item not in known:
            raise RpcError("no_such_item", f"the content has no item '{change.item[:64]}'")
        if change.count == 0 or abs(change.count) > MAX_COUNT:
            raise RpcError("bad_params", f"an item's count is 1 to {MAX_COUNT} (or taken: -1 to"
                                         f" -{MAX_COUNT})")


def apply_changes(state: CharacterState, gold: int, items: list[ItemCount]) -> CharacterState:
    """The state with ``gold`` and ``items`` added (negative: taken); ``not_enough`` if that
    would leave less than nothing of either."""
    new_gold = state.gold + gold
    if new_gold < 0:
        raise RpcError("not_enough", f"{state.name} has {state.gold} gold; cannot take {-gold}")
    counts = {c.item: c.count for c in item_counts(state.inventory)}
    for change in items:
        have = counts.get(change.item, 0)
        if have + change.count < 0:
            raise RpcError("not_enough", f"{state.name} has {have} {change.item}; cannot take"
                                         f" {-change.count}")
        counts[change.item] = have + change.count
    inventory: list[Any] = []
    placed: set[str] = set()
    for entry in state.inventory:
        parsed = _entry(entry)
        if parsed is None:
            inventory.append(entry)  # not ours to understand: kept as it is
        elif parsed[0] not in placed:
            placed.add(parsed[0])
            if counts[parsed[0]] > 0:
                inventory.append([parsed[0], counts[parsed[0]]])
    for item, count in counts.items():
        if item not in placed and count > 0:
            inventory.append([item, count])
    return msgspec.structs.replace(state, gold=new_gold, inventory=inventory)
