"""World content (zones, NPC kinds, items and loot, player rules) and its version.

The version is a hash every WorldServer and the character server must share.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Any

import msgspec

from shardkit.content.schema import (
    MAX_ZONE_SIZE,
    Area,
    ItemDef,
    LootTableDef,
    NpcKindDef,
    PlayerRules,
    PortalDef,
    ZoneDef,
)

__all__ = [
    "DEFAULT_CONTENT", "Area", "Content", "ContentError", "ItemDef", "LootTableDef", "NpcKindDef",
    "PlayerRules", "PortalDef", "ZoneDef", "content_dir", "content_version", "load_content",
]

DEFAULT_CONTENT = Path(__file__).parent / "default"

ZONES_FILE = "zones.toml"  # required
NPCS_FILE = "npcs.toml"  # the others are optional (empty when missing)
ITEMS_FILE = "items.toml"
PLAYERS_FILE = "players.toml"


class ContentError(Exception):
    """Content files are missing or malformed; the message names the file and the key."""


class Content(msgspec.Struct, frozen=True):
    directory: Path
    version: str
    zones: dict[str, ZoneDef]
    npcs: dict[str, NpcKindDef] = msgspec.field(default_factory=dict)
    items: dict[str, ItemDef] = msgspec.field(default_factory=dict)
    loot: dict[str, LootTableDef] = msgspec.field(default_factory=dict)
    players: PlayerRules = msgspec.field(default_factory=PlayerRules)

    def zone(self, name: str) -> ZoneDef:
        try:
            return self.zones[name]
        except KeyError:
            raise ContentError(f"zone '{name}' is not in {self.directory / ZONES_FILE}") from None


def content_dir(configured: str, root: Path) -> Path:
    """The content folder from config ("" = the content shipped with shardkit)."""
    if not configured:
        return DEFAULT_CONTENT
    path = Path(configured)
    return path if path.is_absolute() else root / path


def content_version(directory: Path) -> str:
    """sha256 over every file's relative path and bytes, in a stable order (first 16 hex digits)."""
    digest = hashlib.sha256()
    files = sorted(p for p in directory.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    if not files:
        raise ContentError(f"no content files in {directory}")
    for path in files:
        digest.update(path.relative_to(directory).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


def _read_tables(path: Path, tables: dict[str, tuple[type, bool]], *,
                 required: bool) -> dict[str, Any]:
    """Decode a TOML file whose top-level tables are ``tables``: name -> (type, keyed).

    A keyed table maps names to entries of the type (``[zones.town]``); each entry is checked
    on its own, so an error names the file and the full key (``zones.town.portals[0].area``).
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        if required:
            raise ContentError(f"{path} is missing") from None
        data = b""
    try:
        raw = msgspec.toml.decode(data)
    except msgspec.DecodeError as exc:
        raise ContentError(f"{path}: not valid TOML: {exc}") from None
    unknown = sorted(set(raw) - set(tables))
    if unknown:
        raise ContentError(
            f"{path}: unknown table {unknown[0]!r} (this file holds {sorted(tables)})")
    result: dict[str, Any] = {}
    for name, (kind, keyed) in tables.items():
        value = raw.get(name, {})
        if not keyed:
            result[name] = _convert(path, name, value, kind)
            continue
        if not isinstance(value, dict):
            raise ContentError(f"{path}: {name}: expected a table of named entries")
        result[name] = {key: _convert(path, f"{name}.{key}", entry, kind)
                        for key, entry in value.items()}
    return result


def _convert(path: Path, key: str, value: object, kind: type) -> Any:
    try:
        return msgspec.convert(value, kind)
    except msgspec.ValidationError as exc:
        text = str(exc)
        if "`$" in text:
            raise ContentError(f"{path}: {text.replace('`$', f'`{key}')}") from None
        raise ContentError(f"{path}: {key}: {text}") from None


def load_content(directory: Path) -> Content:
    """Read and check every content file; a ContentError names the file and key at fault."""
    zones = _read_tables(directory / ZONES_FILE, {"zones": (ZoneDef, True)}, required=True)
    npcs = _read_tables(directory / NPCS_FILE, {"npcs": (NpcKindDef, True)}, required=False)
    items = _read_tables(directory / ITEMS_FILE, {"items": (ItemDef, True),
                                                  "loot": (LootTableDef, True)}, required=False)
    players = _read_tables(directory / PLAYERS_FILE, {"players": (PlayerRules, False)},
                           required=False)
    content = Content(directory, content_version(directory), zones["zones"], npcs["npcs"],
                      items["items"], items["loot"], players["players"])
    problems = content_problems(content)
    if problems:
        raise ContentError("invalid content:\n  " + "\n  ".join(problems))
    return content


# ------------------------------------------------------------------------ checks


def content_problems(content: Content) -> list[str]:
    """Every inconsistency, each naming its file and key; empty when the content is sound."""
    d = content.directory
    problems: list[str] = []
    zones_file, npcs_file, items_file = d / ZONES_FILE, d / NPCS_FILE, d / ITEMS_FILE
    for name, zone in content.zones.items():
        key = f"{zones_file}: zones.{name}"
        problems += _zone_problems(key, zone)
        for i, portal in enumerate(zone.portals):
            pkey = f"{key}.portals[{i}] ({portal.name!r})"
            problems += _area_problems(f"{pkey}.area", portal.area, zone)
            target = content.zones.get(portal.target_zone)
            if target is None:
                problems.append(f"{pkey}.target_zone: no zone named {portal.target_zone!r}")
                continue
            tx, ty = portal.target
            if not (0 <= tx <= target.width and 0 <= ty <= target.height):
                problems.append(f"{pkey}.target: ({tx}, {ty}) is outside zone "
                                f"{portal.target_zone!r} ({target.width} x {target.height})")
            for back in target.portals:
                if back.area.contains(tx, ty):
                    problems.append(
                        f"{pkey}.target: ({tx}, {ty}) lies inside portal {back.name!r} of"
                        f" {portal.target_zone!r}: players would bounce")
        names = [p.name for p in zone.portals]
        for dup in sorted({n for n in names if names.count(n) > 1}):
            problems.append(f"{key}.portals: two portals named {dup!r}")
        for i, spawn in enumerate(zone.npcs):
            skey = f"{key}.npcs[{i}]"
            if spawn.kind not in content.npcs:
                problems.append(f"{skey}.kind: no NPC kind {spawn.kind!r} in {npcs_file}")
            if not 0 <= spawn.count <= 10_000:
                problems.append(f"{skey}.count: {spawn.count} is not within 0..10000")
            problems += _area_problems(f"{skey}.area", spawn.area, zone)
    for kind, npc in content.npcs.items():
        key = f"{npcs_file}: npcs.{kind}"
        for field in ("hp", "level"):
            if getattr(npc, field) < 1:
                problems.append(f"{key}.{field}: must be at least 1")
        for field in ("speed", "wander_radius", "notice_radius", "leash_distance", "damage",
                      "attack_range", "attack_cooldown_s", "xp", "respawn_s", "corpse_s"):
            value = getattr(npc, field)
            if not (math.isfinite(value) and value >= 0):
                problems.append(f"{key}.{field}: must be a number >= 0, not {value}")
        if npc.loot and npc.loot not in content.loot:
            problems.append(f"{key}.loot: no loot table {npc.loot!r} in {items_file}")
        if len(npc.name.encode()) > 255:
            problems.append(f"{key}.name: longer than 255 bytes")
    for table_name, table in content.loot.items():
        key = f"{items_file}: loot.{table_name}"
        if not 0 <= table.gold[0] <= table.gold[1]:
            problems.append(
                f"{key}.gold: [{table.gold[0]}, {table.gold[1]}] is not 0 <= min <= max")
        for i, entry in enumerate(table.items):
            if entry.item not in content.items:
                problems.append(f"{key}.items[{i}].item: no item {entry.item!r} in {items_file}")
            if not 0.0 <= entry.chance <= 1.0:
                problems.append(f"{key}.items[{i}].chance: {entry.chance} is not within 0..1")
            if not 1 <= entry.count[0] <= entry.count[1]:
                problems.append(
                    f"{key}.items[{i}].count: {list(entry.count)} is not 1 <= min <= max")
    rules = content.players
    pkey = f"{d / PLAYERS_FILE}: players"
    if rules.hp < 1 or rules.speed <= 0 or rules.attack_range < 0 or rules.attack_cooldown_s < 0:
        problems.append(f"{pkey}: hp must be >= 1, speed > 0, attack_range and cooldown >= 0")
    if any(b <= a for a, b in zip(rules.level_xp, rules.level_xp[1:], strict=False)) or any(
            x <= 0 for x in rules.level_xp):
        problems.append(f"{pkey}.level_xp: must be positive and strictly increasing")
    return problems


def _zone_problems(key: str, zone: ZoneDef) -> list[str]:
    problems = []
    for field, value in (("width", zone.width), ("height", zone.height)):
        if not (math.isfinite(value) and 1.0 <= value <= MAX_ZONE_SIZE):
            problems.append(f"{key}.{field}: {value} is not within 1..{MAX_ZONE_SIZE:g}")
    if problems:
        return problems
    sx, sy = zone.spawn
    if not (0 <= sx <= zone.width and 0 <= sy <= zone.height):
        problems.append(f"{key}.spawn: ({sx}, {sy}) is outside the zone")
    if zone.spawn_area is not None:
        problems += _area_problems(f"{key}.spawn_area", zone.spawn_area, zone)
    if not (math.isfinite(zone.say_radius) and zone.say_radius > 0):
        problems.append(f"{key}.say_radius: {zone.say_radius} is not a number > 0")
    return problems


def _area_problems(key: str, area: Area, zone: ZoneDef) -> list[str]:
    if not all(math.isfinite(v) for v in (area.x, area.y, area.width, area.height)):
        return [f"{key}: not a finite rectangle"]
    if area.width < 0 or area.height < 0:
        return [f"{key}: negative width or height"]
    if not area.inside(zone.width, zone.height):
        return [f"{key}: ({area.x}, {area.y}) + {area.width} x {area.height} is outside the zone "
                f"(0..{zone.width} x 0..{zone.height})"]
    return []
