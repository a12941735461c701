"""The zone sync message: every client's ``sync`` notification of a tick, packed in one buffer.

Layout (docs/protocol.md, "Zone sync format"): a MessagePack-RPC notification
``[2, "sync", [tick, body]]`` whose header is always written in the same 18 bytes
(``tick`` as uint32, ``body`` as bin32), and whose body is little-endian packed records::

    u16 enters, u16 leaves, u16 moves, u16 stats, u16 events
    enters x (u32 id, u8 kind, u8 name_len, name_len bytes of UTF-8 name)
    leaves x (u32 id)
    moves  x (u32 id, u16 x, u16 y)                     position = value / 16
    stats  x (u32 id, i32 hp, i32 max_hp, u16 level, u8 flags, u8 0)
    events x (u8 type, 3 x u8 0, u32 source, u32 target, i32 value)

The encoder builds all clients' messages with a handful of numpy operations: fixed-size
records come from structured arrays, and one gather puts each client's sections in order.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise

import msgspec
import numpy as np

from shardkit.zone.entities import QUANTUM, EntityTable
from shardkit.zone.interest import SyncBatch

METHOD = "sync"
#: fixarray(3), 2 (notification), fixstr "sync", fixarray(2), uint32 marker (tick follows)
_PREFIX = bytes((0x93, 0x02, 0xA4)) + METHOD.encode() + bytes((0x92, 0xCE))
HEADER = np.dtype([("prefix", "u1", len(_PREFIX)), ("tick", ">u4"), ("bin", "u1"), ("size", ">u4"),
                   ("counts", "<u2", 5)])
ENVELOPE_SIZE = len(_PREFIX) + 4 + 1 + 4  # 18 bytes of MessagePack before the body
COUNTS_SIZE = 10
LEAVE = np.dtype("<u4")
MOVE = np.dtype([("id", "<u4"), ("x", "<u2"), ("y", "<u2")])
STAT = np.dtype([("id", "<u4"), ("hp", "<i4"), ("max_hp", "<i4"), ("level", "<u2"), ("flags", "u1"),
                 ("pad", "u1")])
EVENT = np.dtype([("type", "u1"), ("pad", "u1", 3), ("source", "<u4"), ("target", "<u4"),
                  ("value", "<i4")])
assert HEADER.itemsize == ENVELOPE_SIZE + COUNTS_SIZE
assert (MOVE.itemsize, STAT.itemsize, EVENT.itemsize) == (8, 16, 16)


class SyncFrame:
    """One tick's messages back to back in ``data``: client i's is data[offsets[i]:offsets[i+1]]."""

    __slots__ = ("clients", "data", "offsets", "tick", "too_far_behind")

    def __init__(self, tick: int, clients: np.ndarray, data: bytes, offsets: np.ndarray,
                 too_far_behind: list[int]) -> None:
        self.tick = tick
        self.clients = clients
        self.data = data
        self.offsets = offsets
        self.too_far_behind = too_far_behind

    def __len__(self) -> int:
        return len(self.clients)

    def __iter__(self) -> Iterator[tuple[int, memoryview]]:
        """(client entity id, its pre-encoded notification) for every client, zero-copy."""
        view = memoryview(self.data)
        bounds = self.offsets.tolist()
        return zip(self.clients.tolist(), (view[a:b] for a, b in pairwise(bounds)), strict=True)

    def payload(self, eid: int) -> bytes | None:
        hits = np.flatnonzero(self.clients == eid)
        if not len(hits):
            return None
        i = int(hits[0])
        return self.data[self.offsets[i]:self.offsets[i + 1]]


def encode_frame(batch: SyncBatch, table: EntityTable) -> SyncFrame:
    """Every client's ``sync`` notification for ``batch``, in one buffer."""
    n = len(batch.rows)
    if n == 0:
        return SyncFrame(batch.tick, batch.clients, b"", np.zeros(1, np.int64),
                         batch.too_far_behind)
    position = np.zeros(int(batch.rows.max()) + 1, np.int64)
    position[batch.rows] = np.arange(n)  # client row -> its place in this frame

    def per_client(rows: np.ndarray) -> np.ndarray:
        return np.bincount(position[rows], minlength=n) if len(rows) else np.zeros(n, np.int64)

    enter_slots = batch.enter_slot.tolist()
    records = table.enter_records
    enter_blobs = [records[s] for s in enter_slots]
    enter_len = np.fromiter(map(len, enter_blobs), np.int64, len(enter_blobs))
    enter_bytes = np.frombuffer(b"".join(enter_blobs), np.uint8)

    counts = np.column_stack([per_client(batch.enter_row), per_client(batch.leave_row),
                              per_client(batch.move_row), per_client(batch.stat_row),
                              per_client(batch.event_row)])
    sizes = np.zeros((n, 6), np.int64)
    sizes[:, 0] = HEADER.itemsize
    if len(enter_len):
        sizes[:, 1] = np.bincount(position[batch.enter_row], weights=enter_len, minlength=n)
    sizes[:, 2] = counts[:, 1] * LEAVE.itemsize
    sizes[:, 3] = counts[:, 2] * MOVE.itemsize
    sizes[:, 4] = counts[:, 3] * STAT.itemsize
    sizes[:, 5] = counts[:, 4] * EVENT.itemsize

    header = np.zeros(n, HEADER)
    header["prefix"] = np.frombuffer(_PREFIX, np.uint8)
    header["tick"] = batch.tick
    header["bin"] = 0xC6
    header["size"] = COUNTS_SIZE + sizes[:, 1:].sum(axis=1)
    header["counts"] = counts

    moves = np.empty(len(batch.move_row), MOVE)
    moves["id"], moves["x"], moves["y"] = batch.move_id, batch.move_qx, batch.move_qy
    ss = batch.stat_slot
    stats = np.zeros(len(ss), STAT)
    stats["id"], stats["hp"], stats["max_hp"] = table.eid[ss], table.hp[ss], table.max_hp[ss]
    stats["level"], stats["flags"] = table.level[ss], table.flags[ss]
    events = np.zeros(len(batch.event_row), EVENT)
    ed = batch.event_data
    if len(ed):
        events["type"], events["source"], events["target"], events["value"] = ed.T
    sections = [header.view(np.uint8), enter_bytes, batch.leave_id.astype(LEAVE).view(np.uint8),
                moves.view(np.uint8), stats.view(np.uint8), events.view(np.uint8)]
    source = np.concatenate(sections)
    # where each client's part of each section starts in `source`, and in the output
    base = np.cumsum([0] + [len(part) for part in sections[:-1]])
    src_start = base[None, :] + np.cumsum(sizes, axis=0) - sizes
    flat = sizes.ravel()
    out_start = np.cumsum(flat) - flat
    gather = np.repeat(src_start.ravel() - out_start, flat) + np.arange(int(flat.sum()))
    data = source[gather].tobytes()
    offsets = np.zeros(n + 1, np.int64)
    np.cumsum(sizes.sum(axis=1), out=offsets[1:])
    return SyncFrame(batch.tick, batch.clients, data, offsets, batch.too_far_behind)


# ------------------------------------------------------------------- decoding


class SyncMessage(msgspec.Struct):
    """A decoded ``sync`` notification (what a client library builds from the format)."""

    tick: int
    enters: list[tuple[int, int, str]]  # (id, kind, name)
    leaves: list[int]
    moves: list[tuple[int, float, float]]  # (id, x, y) in zone units
    stats: list[tuple[int, int, int, int, int]]  # (id, hp, max_hp, level, flags)
    events: list[tuple[int, int, int, int]]  # (type, source, target, value)


def decode_body(tick: int, body: bytes) -> SyncMessage:
    """Parse a sync body (the ``bin`` param), as any client would from the documented layout."""
    view = memoryview(body)
    n_enter, n_leave, n_move, n_stat, n_event = np.frombuffer(view[:COUNTS_SIZE], "<u2").tolist()
    at = COUNTS_SIZE
    enters = []
    for _ in range(n_enter):
        eid = int.from_bytes(view[at:at + 4], "little")
        kind, size = view[at + 4], view[at + 5]
        enters.append((eid, kind, bytes(view[at + 6:at + 6 + size]).decode()))
        at += 6 + size
    leaves = np.frombuffer(view[at:at + 4 * n_leave], LEAVE).tolist()
    at += 4 * n_leave
    moves = np.frombuffer(view[at:at + 8 * n_move], MOVE)
    at += 8 * n_move
    stats = np.frombuffer(view[at:at + 16 * n_stat], STAT)
    at += 16 * n_stat
    events = np.frombuffer(view[at:at + 16 * n_event], EVENT)
    at += 16 * n_event
    if at != len(body):
        raise ValueError(f"sync body has {len(body) - at} bytes after its records")
    return SyncMessage(
        tick, enters, leaves,
        [(int(m["id"]), float(m["x"]) / QUANTUM, float(m["y"]) / QUANTUM) for m in moves],
        [(int(s["id"]), int(s["hp"]), int(s["max_hp"]), int(s["level"]), int(s["flags"]))
         for s in stats],
        [(int(e["type"]), int(e["source"]), int(e["target"]), int(e["value"])) for e in events],
    )


def decode_notification(payload: bytes) -> SyncMessage:
    """Parse one whole ``[2, "sync", [tick, body]]`` notification with a stock msgpack decoder."""
    kind, method, (tick, body) = msgspec.msgpack.decode(payload)
    if kind != 2 or method != METHOD:
        raise ValueError(f"not a sync notification: {kind!r} {method!r}")
    return decode_body(tick, body)
