"""Reading a zone's ``sync`` body in plain Python (no numpy): the reference decoder for clients.

The layout is docs/protocol.md's "Zone sync format", and nothing else: a client in another
language implements the same few lines with its byte-buffer reader. All integers are
little-endian; five counts, then enters, leaves, moves, stats and events.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

QUANTUM = 16.0  # positions travel as value / 16 zone units

KIND_PLAYER = 1
KIND_NPC = 2
FLAG_DEAD = 1

EVENT_HIT = 1  # source hit target for value damage
EVENT_DEATH = 2  # target died, killed by source (0: nobody)
EVENT_LEVEL_UP = 3  # target reached level value

_COUNTS = struct.Struct("<5H")
_ENTER_HEAD = struct.Struct("<IBB")
_LEAVE = struct.Struct("<I")
_MOVE = struct.Struct("<IHH")
_STAT = struct.Struct("<IiiHBx")
_EVENT = struct.Struct("<B3xIIi")


@dataclass
class SyncBody:
    """One decoded ``sync`` body: what entered, left, moved and changed, and what happened."""

    enters: list[tuple[int, int, str]] = field(default_factory=list)  # (id, kind, name)
    leaves: list[int] = field(default_factory=list)
    moves: list[tuple[int, float, float]] = field(default_factory=list)  # (id, x, y)
    stats: list[tuple[int, int, int, int, int]] = field(default_factory=list)
    """(id, hp, max_hp, level, flags)"""
    events: list[tuple[int, int, int, int]] = field(default_factory=list)
    """(type, source, target, value)"""


class SyncFormatError(ValueError):
    """The body does not follow the documented layout."""


def decode_sync(body: bytes) -> SyncBody:
    """Parse a ``sync`` body (the notification's second param)."""
    try:
        n_enter, n_leave, n_move, n_stat, n_event = _COUNTS.unpack_from(body, 0)
        at = _COUNTS.size
        out = SyncBody()
        for _ in range(n_enter):
            eid, kind, size = _ENTER_HEAD.unpack_from(body, at)
            at += _ENTER_HEAD.size
            name = bytes(body[at:at + size])
            if len(name) != size:
                raise SyncFormatError("an enter record's name runs past the body")
            out.enters.append((eid, kind, name.decode("utf-8", "replace")))
            at += size
        out.leaves = [eid for (eid,) in _records(_LEAVE, body, at, n_leave)]
        at += _LEAVE.size * n_leave
        out.moves = [(eid, qx / QUANTUM, qy / QUANTUM)
                     for eid, qx, qy in _records(_MOVE, body, at, n_move)]
        at += _MOVE.size * n_move
        out.stats = [(eid, hp, max_hp, level, flags)
                     for eid, hp, max_hp, level, flags in _records(_STAT, body, at, n_stat)]
        at += _STAT.size * n_stat
        out.events = [(kind, source, target, value)
                      for kind, source, target, value in _records(_EVENT, body, at, n_event)]
        at += _EVENT.size * n_event
    except struct.error as exc:
        raise SyncFormatError(f"sync body cut short: {exc}") from None
    if at != len(body):
        raise SyncFormatError(f"sync body has {len(body) - at} bytes after its records")
    return out


def _records(shape: struct.Struct, body: bytes, at: int, count: int) -> list[tuple[int, ...]]:
    end = at + shape.size * count
    if end > len(body):
        raise SyncFormatError("a section runs past the body")
    return list(shape.iter_unpack(memoryview(body)[at:end]))
