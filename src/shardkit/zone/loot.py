"""Rolling a loot table: gold within its range and each item entry by its chance."""

from __future__ import annotations

import random

from shardkit.content import LootTableDef


def roll_loot(table: LootTableDef, rng: random.Random) -> tuple[int, list[tuple[str, int]]]:
    """(gold, [(item, count), ...]) for one kill, drawn from ``rng``."""
    gold = rng.randint(table.gold[0], table.gold[1]) if table.gold[1] > 0 else 0
    items = []
    for entry in table.items:
        if entry.chance >= 1.0 or rng.random() < entry.chance:
            items.append((entry.item, rng.randint(entry.count[0], entry.count[1])))
    return gold, items
