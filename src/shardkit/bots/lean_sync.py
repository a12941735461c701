"""A bot's cheap reading of ``sync``: its own position, and the NPCs it may attack.

Only what a bot needs is read from the body (docs/protocol.md, "Zone sync format"): the counts,
the enter records' ids and kinds when NPCs are tracked, and its own move record. The zone sends
a client's own entity first in its view, so its move is almost always the first record.
"""

from __future__ import annotations

import struct

from shardkit.client.sync import KIND_NPC, QUANTUM

_COUNTS = struct.Struct("<5H")
_ID = struct.Struct("<I")
_MOVE = struct.Struct("<IHH")
_ENTER_HEAD = struct.Struct("<IBB")
_COUNTS_SIZE = _COUNTS.size
_MOVE_SIZE = _MOVE.size


def own_position(body: bytes, own: bytes, npcs: set[int] | None = None
                 ) -> tuple[float, float] | None:
    """Our position if this sync moved us (``own``: our id as 4 little-endian bytes).

    With ``npcs``, NPC ids entering the view are added to it and ids leaving it removed.
    """
    if len(body) < _COUNTS_SIZE or len(own) != 4:
        return None
    n_enter, n_leave, n_move, _, _ = _COUNTS.unpack_from(body, 0)
    at = _COUNTS_SIZE
    for _ in range(n_enter):
        if at + 6 > len(body):
            return None
        eid, kind, size = _ENTER_HEAD.unpack_from(body, at)
        if npcs is not None and kind == KIND_NPC:
            npcs.add(eid)
        at += 6 + size
    end = at + 4 * n_leave
    if end > len(body):
        return None
    if npcs and n_leave:
        npcs.difference_update(eid for (eid,) in _ID.iter_unpack(body[at:end]))
    at = end
    end = at + _MOVE_SIZE * n_move
    if not n_move or end > len(body):
        return None
    if body[at:at + 4] != own:  # not first: look for it on a record boundary
        found = body.find(own, at + _MOVE_SIZE, end)
        while found >= 0 and (found - at) % _MOVE_SIZE:
            found = body.find(own, found + 1, end)
        if found < 0 or found + _MOVE_SIZE > end:
            return None
        at = found
    _, qx, qy = _MOVE.unpack_from(body, at)
    return qx / QUANTUM, qy / QUANTUM
