"""Area of interest: which entities each client sees, and what of them to send it each tick.

Every client (a player's connection) has a *view*: one row of fixed width holding the
entities it has been told about, nearest first. Rows live in numpy matrices, so a tick costs
O(clients x row width) array operations whatever the crowd, never O(clients^2):

- Every ``recompute_every`` ticks (staggered over clients; at once for a new, released or
  teleported client) a row is rebuilt from a k-d tree query: the ``view_cap`` nearest
  entities within ``radius`` may enter; an entity already in view stays while it is among
  the ``view_cap + view_slack`` nearest within ``radius * leave_factor`` (hysteresis, so
  the edge of a view does not flicker). An entity that enters is sent once with its static
  data; one that goes is sent once as a leave.
- Every tick, each row sends what changed since it last sent that entity (position, stats),
  capped at ``send_cap`` entities per client: the ``tiers[0]`` nearest every tick, ranks
  beyond ``tiers[i]`` only every 2**(i+1) ticks; what waited ``max_staleness`` ticks goes
  next, round-robin from a column that advances every tick, so every entity in view is
  updated within about ``max_staleness + view width`` ticks however crowded.
- A client the server cannot write to (``hold``) is skipped without changing its row: when
  it is released it gets the current absolute state of whatever changed since its last
  message, never a backlog. Held longer than ``max_behind`` ticks, it is reported.
"""

from __future__ import annotations

from collections.abc import Collection

import msgspec
import numpy as np

from shardkit.zone.entities import EntityTable
from shardkit.zone.spatial import PointIndex

_ROWS_PER_CHUNK = 512  # rows rebuilt per k-d query batch (bounds the scratch matrices)


class InterestConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    radius: float = 60.0  # entities within this may enter a view
    leave_factor: float = 1.1  # ... and leave it beyond radius * leave_factor
    view_cap: int = 64  # at most this many nearest entities enter a view
    view_slack: int = 16  # an entity in view stays while among the view_cap + view_slack nearest
    send_cap: int = 32  # entity updates per client per tick (entering entities not counted)
    #: ranks below tiers[0] are updated every tick (tiers[0] < send_cap), ranks >= tiers[i]
    #: every 2**(i+1) ticks
    tiers: tuple[int, ...] = (16, 32, 64)
    max_staleness: int = 20  # ticks after which a waiting update goes before tiers 1 and up
    recompute_every: int = 4  # ticks between rebuilds of one client's view
    max_behind: int = 50  # ticks a held client may miss before it is reported too far behind

    @property
    def width(self) -> int:
        return self.view_cap + self.view_slack


class SyncBatch(msgspec.Struct):
    """What every client sent this tick is told, as record arrays grouped by client row.

    ``rows`` are the client rows that get a message this tick (ascending); every other array
    pair (``*_row`` plus data) lists records in that same row order.
    """

    tick: int
    rows: np.ndarray
    clients: np.ndarray  # entity id of each row's player
    enter_row: np.ndarray
    enter_slot: np.ndarray
    leave_row: np.ndarray
    leave_id: np.ndarray
    move_row: np.ndarray
    move_id: np.ndarray
    move_qx: np.ndarray
    move_qy: np.ndarray
    stat_row: np.ndarray
    stat_slot: np.ndarray
    event_row: np.ndarray
    event_data: np.ndarray  # (n, 4) int64: type, source, target, value
    too_far_behind: list[int]  # clients (entity ids) held longer than max_behind


class InterestManager:
    """Views of all clients of one zone; ``update`` advances them one tick."""

    def __init__(self, config: InterestConfig | None = None, capacity: int = 64) -> None:
        self.config = config or InterestConfig()
        c = self.config
        if not (c.view_cap >= 1 and c.view_slack >= 0 and c.send_cap >= 1 and c.radius > 0
                and c.leave_factor >= 1 and c.recompute_every >= 1 and c.max_behind >= 1
                and c.tiers and 0 < c.tiers[0] < c.send_cap and list(c.tiers) == sorted(c.tiers)):
            raise ValueError(f"bad interest config: {c}")
        self.width = c.width
        period = np.ones(self.width, np.uint32)
        for i, rank in enumerate(c.tiers):
            period[rank:] = 2 ** (i + 1)
        self.period = period
        self.capacity = 0
        self.view_slot = np.zeros((0, self.width), np.int32)  # entity slot, -1 empty
        self.view_id = np.zeros((0, self.width), np.uint32)  # its entity id when it entered
        self.view_sent = np.zeros((0, self.width), np.uint32)  # tick it was last sent (0: never)
        self.row_slot = np.zeros(0, np.int64)  # the client's own entity slot, -1: free row
        self.row_id = np.zeros(0, np.uint32)
        self.row_last = np.zeros(0, np.int64)  # tick of the client's last message
        self.row_rebuild = np.zeros(0, bool)  # rebuild the view on the next update
        self.row_count = np.zeros(0, np.int64)  # columns a row's view may use (an upper bound)
        self.row_of: dict[int, int] = {}
        self._free: list[int] = []
        self._grow(capacity)

    def _grow(self, capacity: int) -> None:
        old = self.capacity

        def grown(array: np.ndarray, fill: int | bool) -> np.ndarray:
            new = np.full((capacity, *array.shape[1:]), fill, array.dtype)
            new[:old] = array
            return new

        self.view_slot = grown(self.view_slot, -1)
        self.view_id = grown(self.view_id, 0)
        self.view_sent = grown(self.view_sent, 0)
        self.row_slot = grown(self.row_slot, -1)
        self.row_id = grown(self.row_id, 0)
        self.row_last = grown(self.row_last, 0)
        self.row_rebuild = grown(self.row_rebuild, False)
        self.row_count = grown(self.row_count, 0)
        self._free.extend(range(capacity - 1, old - 1, -1))
        self.capacity = capacity

    def __len__(self) -> int:
        return len(self.row_of)

    def add_client(self, eid: int, slot: int, tick: int) -> None:
        """A client that sees from entity ``eid`` (table ``slot``); its first update: all."""
        if eid in self.row_of:
            raise ValueError(f"entity {eid} already has a client")
        if not self._free:
            self._grow(max(64, self.capacity * 2))
        row = self._free.pop()
        self.row_of[eid] = row
        self.row_slot[row], self.row_id[row] = slot, eid
        self.row_last[row] = tick
        self.row_rebuild[row] = True
        self.view_slot[row] = -1
        self.view_sent[row] = 0

    def remove_client(self, eid: int) -> None:
        row = self.row_of.pop(eid, None)
        if row is None:
            return
        self.row_slot[row] = -1
        self.row_id[row] = 0
        self.row_count[row] = 0
        self.view_slot[row] = -1
        self._free.append(row)

    def visible(self, eid: int) -> list[int]:
        """Entity ids in a client's view, nearest first as of its last rebuild (tests, tools)."""
        row = self.row_of[eid]
        slots = self.view_slot[row]
        return [int(eid) for eid in self.view_id[row][slots >= 0]]

    # ----------------------------------------------------------------- update
    def update(self, table: EntityTable, tick: int, *, hold: Collection[int] = (),
               visible_events: list[tuple[int, int, int, int, int]] | None = None,
               only: Collection[int] | None = None) -> SyncBatch:
        """Advance every client not in ``hold`` (entity ids) to ``tick``; what to send each.

        ``only``: advance just these clients (and report none as behind), as the zone does for
        a client that just entered, so that it sees its view before the next tick.
        """
        c = self.config
        used = self.row_slot >= 0
        if only is not None:
            active = np.zeros(self.capacity, bool)
            active[[self.row_of[e] for e in only if e in self.row_of]] = True
            too_far_behind: list[int] = []
        else:
            active = used.copy()
            held_rows = [self.row_of[e] for e in hold if e in self.row_of]
            if held_rows:
                active[held_rows] = False
                self.row_rebuild[held_rows] = True  # re-centre when it is back
            behind = used & ~active & (tick - self.row_last > c.max_behind)
            too_far_behind = self.row_id[behind].tolist()

        rows_all = np.arange(self.capacity)
        jumped = np.zeros(self.capacity, bool)
        jumped[used] = table.jump_tick[self.row_slot[used]] >= tick
        due = active & (self.row_rebuild | jumped | ((rows_all + tick) % c.recompute_every == 0))
        rebuild_rows = np.flatnonzero(due)
        enter_rows: list[np.ndarray] = []
        enter_slots: list[np.ndarray] = []
        leave_rows: list[np.ndarray] = []
        leave_ids: list[np.ndarray] = []
        if len(rebuild_rows):
            index = PointIndex(table.live_slots(), table.x, table.y)
            for start in range(0, len(rebuild_rows), _ROWS_PER_CHUNK):
                chunk = rebuild_rows[start:start + _ROWS_PER_CHUNK]
                er, es, lr, li = self._rebuild(table, index, chunk)
                enter_rows.append(er)
                enter_slots.append(es)
                leave_rows.append(lr)
                leave_ids.append(li)
            self.row_rebuild[rebuild_rows] = False

        # ---- every active row: what changed since it was last sent (only the used columns)
        w = int(self.row_count[active].max()) if active.any() else 0
        slot, view_id, sent = self.view_slot[:, :w], self.view_id[:, :w], self.view_sent[:, :w]
        valid = (slot >= 0) & active[:, None]
        s = np.maximum(slot, 0)
        gone = valid & (table.eid[s] != view_id)
        live = valid & ~gone
        fresh = live & (sent == 0)
        moved = live & (table.pos_tick[s] > sent) | fresh
        stats = live & (table.stat_tick[s] > sent) | fresh
        changed = moved | stats
        age = np.uint32(tick) - sent
        cols = np.arange(w)
        waiting = changed & ~fresh
        nearest = waiting & (cols < c.tiers[0])  # tier 0: every tick
        take = nearest & (np.cumsum(nearest, axis=1, dtype=np.int32) <= c.send_cap)
        budget = c.send_cap - take.sum(axis=1, dtype=np.int32)[:, None]
        # then whatever waited max_staleness ticks, round-robin from a column that moves each tick
        overdue = waiting & ~nearest & (age >= c.max_staleness)
        if w and overdue.any():
            shift = tick % w
            rolled = np.roll(overdue, -shift, axis=1)
            picked = rolled & (np.cumsum(rolled, axis=1, dtype=np.int32) <= budget)
            picked = np.roll(picked, shift, axis=1)
            take |= picked
            budget = budget - picked.sum(axis=1, dtype=np.int32)[:, None]
        # then the rest that is due by its tier, nearest first
        due_now = waiting & ~nearest & ~overdue & (age >= self.period[:w])
        take |= due_now & (np.cumsum(due_now, axis=1, dtype=np.int32) <= budget)
        take |= fresh
        np.copyto(sent, np.uint32(tick), where=take)

        gr, gc = np.nonzero(gone)
        if len(gr):
            leave_rows.append(gr)
            leave_ids.append(view_id[gr, gc])
            slot[gr, gc] = -1
        leave_row, leave_id = _merge_by_row(leave_rows, leave_ids)

        mr, mc = np.nonzero(take & moved)
        ms = s[mr, mc]
        qx, qy = _quantize(table.x[ms]), _quantize(table.y[ms])
        sr, sc = np.nonzero(take & stats)

        event_row, event_data = self._events(live, s, visible_events)
        rows = np.flatnonzero(active)
        self.row_last[rows] = tick
        return SyncBatch(
            tick=tick, rows=rows, clients=self.row_id[rows],
            enter_row=np.concatenate(enter_rows) if enter_rows else _EMPTY,
            enter_slot=np.concatenate(enter_slots) if enter_slots else _EMPTY,
            leave_row=leave_row, leave_id=leave_id,
            move_row=mr, move_id=view_id[mr, mc], move_qx=qx, move_qy=qy,
            stat_row=sr, stat_slot=s[sr, sc],
            event_row=event_row, event_data=event_data, too_far_behind=too_far_behind,
        )

    def _rebuild(self, table: EntityTable, index: PointIndex, rows: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Rebuild the views of ``rows``: (enter rows, enter slots, leave rows, leave ids)."""
        c, width = self.config, self.width
        n = len(rows)
        observers = self.row_slot[rows]
        points = np.column_stack((table.x[observers], table.y[observers]))
        dist, cand = index.nearest(points, width, c.radius * c.leave_factor)
        _self_first(cand, dist, observers)
        found = cand >= 0
        may_enter = found & (np.arange(width) < c.view_cap) & (dist <= c.radius)

        old_slot = self.view_slot[rows]
        old_id = self.view_id[rows]
        old_sent = self.view_sent[rows]
        old_valid = old_slot >= 0
        old_os = np.maximum(old_slot, 0)
        same = old_valid & (table.eid[old_os] == old_id)
        # where each candidate sits in the old row (+1; 0 = not there), through a dense scratch
        scratch = np.zeros((n, table.capacity), np.int16)
        r_local = np.arange(n)[:, None]
        orr, occ = np.nonzero(same)
        scratch[orr, old_slot[orr, occ]] = occ + 1
        cs = np.maximum(cand, 0)
        old_col = np.where(found, scratch[r_local, cs], 0).astype(np.int64) - 1
        in_old = old_col >= 0
        keep = in_old | may_enter

        kr, kc = np.nonzero(keep)
        pos = (np.cumsum(keep, axis=1) - 1)[kr, kc]
        new_slot = np.full((n, width), -1, np.int32)
        new_id = np.zeros((n, width), np.uint32)
        new_sent = np.zeros((n, width), np.uint32)
        kept_slots = cand[kr, kc]
        new_slot[kr, pos] = kept_slots
        new_id[kr, pos] = table.eid[kept_slots]
        carried = in_old[kr, kc]
        new_sent[kr[carried], pos[carried]] = old_sent[kr[carried], old_col[kr, kc][carried]]

        scratch[orr, old_slot[orr, occ]] = 0
        scratch[kr, kept_slots] = 1
        left = old_valid & ~(same & (scratch[r_local, old_os] == 1))
        lr, lc = np.nonzero(left)

        self.view_slot[rows] = new_slot
        self.view_id[rows] = new_id
        self.view_sent[rows] = new_sent
        self.row_count[rows] = keep.sum(axis=1)
        entering = ~carried
        return rows[kr[entering]], kept_slots[entering], rows[lr], old_id[lr, lc]

    def _events(self, live: np.ndarray, s: np.ndarray,
                visible_events: list[tuple[int, int, int, int, int]] | None
                ) -> tuple[np.ndarray, np.ndarray]:
        """Visible events (hits, deaths, level-ups) for every row that has their entity in view."""
        if not visible_events:
            return _EMPTY, np.zeros((0, 4), np.int64)
        events = np.array(visible_events, np.int64)
        events = events[np.argsort(events[:, 4], kind="stable")]
        ev_slots = events[:, 4]
        marked = np.zeros(int(ev_slots.max()) + 1, bool)
        marked[ev_slots] = True
        in_range = s < len(marked)
        hit = live & in_range & marked[np.where(in_range, s, 0)]
        hr, hc = np.nonzero(hit)
        hs = s[hr, hc]
        first = np.searchsorted(ev_slots, hs, side="left")
        count = np.searchsorted(ev_slots, hs, side="right") - first
        rows = np.repeat(hr, count)
        starts = np.repeat(first - np.cumsum(count) + count, count)
        index = starts + np.arange(len(rows))
        return rows, events[index, :4]


_EMPTY = np.zeros(0, np.int64)


def _quantize(values: np.ndarray) -> np.ndarray:
    return np.rint(values * 16.0).clip(0, 65535).astype(np.uint16)


def _merge_by_row(rows: list[np.ndarray], data: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    if not rows:
        return _EMPTY, np.zeros(0, np.uint32)
    r = np.concatenate(rows)
    d = np.concatenate(data)
    if len(rows) > 1:
        order = np.argsort(r, kind="stable")
        r, d = r[order], d[order]
    return r, d


def _self_first(cand: np.ndarray, dist: np.ndarray, observers: np.ndarray) -> None:
    """Make every client's own entity the first of its candidates (others tied at distance 0)."""
    for i in np.flatnonzero(cand[:, 0] != observers).tolist():
        own = int(observers[i])
        others = cand[i] != own
        keep_c = cand[i][others][: cand.shape[1] - 1]
        keep_d = dist[i][others][: cand.shape[1] - 1]
        cand[i], dist[i] = -1, np.inf
        cand[i, 0], dist[i, 0] = own, 0.0
        cand[i, 1:1 + len(keep_c)], dist[i, 1:1 + len(keep_d)] = keep_c, keep_d
