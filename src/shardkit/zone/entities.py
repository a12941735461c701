"""Columnar store of a zone's entities (players, NPCs): numpy arrays by slot, ids never reused."""

from __future__ import annotations

import numpy as np

KIND_PLAYER = 1
KIND_NPC = 2

FLAG_DEAD = 1  # the entity is dead (a player waiting to respawn, an NPC's corpse)

#: Positions travel as unsigned 16-bit integers in 1/QUANTUM units (docs/protocol.md).
QUANTUM = 16.0


class EntityTable:
    """Every entity's hot data in parallel arrays; a slot is reused, an entity id never is.

    ``pos_tick`` / ``stat_tick`` are the ticks at which position / stats last changed: the
    area-of-interest layer sends a viewer what changed since it last sent that entity.
    ``jump_tick`` is the tick of a teleport (respawn, correction): viewers recompute soon.
    """

    def __init__(self, capacity: int = 256) -> None:
        self.capacity = 0
        self.eid = np.zeros(0, np.uint32)  # 0 = free slot
        self.kind = np.zeros(0, np.uint8)
        self.flags = np.zeros(0, np.uint8)
        self.x = np.zeros(0, np.float64)
        self.y = np.zeros(0, np.float64)
        self.dx = np.zeros(0, np.float64)  # intent, length <= 1
        self.dy = np.zeros(0, np.float64)
        self.speed = np.zeros(0, np.float64)
        self.hp = np.zeros(0, np.int32)
        self.max_hp = np.zeros(0, np.int32)
        self.level = np.zeros(0, np.uint16)
        self.pos_tick = np.zeros(0, np.uint32)
        self.stat_tick = np.zeros(0, np.uint32)
        self.jump_tick = np.zeros(0, np.uint32)
        self.portal = np.zeros(0, np.int16)  # index of the zone portal a player stands in, -1: none
        self.names: list[str] = []
        self.enter_records: list[bytes] = []  # the sync "enter" record, made once per entity
        self.slot_of: dict[int, int] = {}
        self._free: list[int] = []
        self._grow(capacity)

    _ARRAYS = ("eid", "kind", "flags", "x", "y", "dx", "dy", "speed", "hp", "max_hp", "level",
               "pos_tick", "stat_tick", "jump_tick", "portal")

    def _grow(self, capacity: int) -> None:
        old = self.capacity
        for name in self._ARRAYS:
            array = getattr(self, name)
            grown = np.zeros(capacity, array.dtype)
            grown[:old] = array
            setattr(self, name, grown)
        self.names.extend([""] * (capacity - old))
        self.enter_records.extend([b""] * (capacity - old))
        self._free.extend(range(capacity - 1, old - 1, -1))  # pop() hands out low slots first
        self.capacity = capacity

    def __len__(self) -> int:
        return len(self.slot_of)

    def add(self, eid: int, kind: int, name: str, x: float, y: float, *, speed: float, hp: int,
            max_hp: int, level: int, tick: int) -> int:
        if eid in self.slot_of or not 0 < eid < 2**32:
            raise ValueError(f"entity id {eid} is in use or out of range")
        if not self._free:
            self._grow(self.capacity * 2)
        slot = self._free.pop()
        self.slot_of[eid] = slot
        self.eid[slot] = eid
        self.kind[slot] = kind
        self.flags[slot] = 0
        self.x[slot], self.y[slot] = x, y
        self.dx[slot] = self.dy[slot] = 0.0
        self.speed[slot] = speed
        self.hp[slot], self.max_hp[slot], self.level[slot] = hp, max_hp, level
        self.pos_tick[slot] = self.stat_tick[slot] = self.jump_tick[slot] = tick
        self.portal[slot] = -1
        self.names[slot] = name
        self.enter_records[slot] = enter_record(eid, kind, name)
        return slot

    def remove(self, eid: int) -> int | None:
        slot = self.slot_of.pop(eid, None)
        if slot is None:
            return None
        self.eid[slot] = 0
        self.dx[slot] = self.dy[slot] = 0.0
        self.flags[slot] = 0
        self.names[slot] = ""
        self.enter_records[slot] = b""
        self._free.append(slot)
        return slot

    def live_slots(self) -> np.ndarray:
        return np.flatnonzero(self.eid)

    def quantized(self) -> tuple[np.ndarray, np.ndarray]:
        """Every slot's position in 1/QUANTUM units as uint16 (what the sync format sends)."""
        qx = np.rint(self.x * QUANTUM).clip(0, 65535).astype(np.uint16)
        qy = np.rint(self.y * QUANTUM).clip(0, 65535).astype(np.uint16)
        return qx, qy


def enter_record(eid: int, kind: int, name: str) -> bytes:
    """u32 id, u8 kind, u8 name length, name as UTF-8 (at most 255 bytes, cut on a character)."""
    raw = name.encode()[:255].decode("utf-8", "ignore").encode()
    return eid.to_bytes(4, "little") + bytes((kind, len(raw))) + raw
