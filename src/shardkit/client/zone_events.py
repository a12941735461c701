"""What a zone tells a player's client about its game: the view (``sync``), fights, winnings.

Kept in the listener's ClientState like every other server event (``client/events.py``);
``sync`` is decoded in plain Python (``client/sync.py``), so a client needs no numpy.
"""

from __future__ import annotations

from shardkit.client.events import CombatLine, Listener, Seen
from shardkit.client.sync import EVENT_DEATH, EVENT_HIT, EVENT_LEVEL_UP, decode_sync
from shardkit.wire.rpc import RpcConnection, rpc
from shardkit.zone.notifications import (
    AttackRefused,
    Corrected,
    Experience,
    Inventory,
    LevelUp,
    Loot,
    Muted,
    Portal,
    Respawned,
    Sync,
    Transfer,
)

EVENT_KINDS = {EVENT_HIT: "hit", EVENT_DEATH: "death", EVENT_LEVEL_UP: "level_up"}


class ZoneEvents:
    """Notifications of a zone to its player; each updates the listener's state and wakes it."""

    def __init__(self, client: Listener) -> None:
        self.client = client

    @rpc("sync", Sync, public=True)
    def sync(self, conn: RpcConnection, p: Sync) -> None:
        """What changed in our view this tick (docs/protocol.md, "Zone sync format")."""
        state = self.client.state
        body = decode_sync(p.body)
        seen, tick = state.seen, p.tick
        for eid, kind, name in body.enters:
            seen[eid] = Seen(name, 0.0, 0.0, tick, kind)
        for eid in body.leaves:
            seen.pop(eid, None)
        for eid, x, y in body.moves:
            e = seen.get(eid)
            if e is not None:
                seen[eid] = Seen(e.name, x, y, tick, e.kind, e.hp, e.max_hp, e.level, e.flags)
        for eid, hp, max_hp, level, flags in body.stats:
            e = seen.get(eid)
            if e is not None:
                seen[eid] = Seen(e.name, e.x, e.y, tick, e.kind, hp, max_hp, level, flags)
        for kind, source, target, value in body.events:
            state.combat.append(CombatLine(tick, EVENT_KINDS.get(kind, str(kind)), source,
                                           target, value))
            state.combat_total += 1
        state.tick = tick
        state.snapshots += 1
        self.client.changed()

    @rpc("loot", Loot, public=True)
    def loot(self, conn: RpcConnection, p: Loot) -> None:
        """We killed something and took its gold and items."""
        self.client.state.notices.append(_loot_text(p))
        self.client.changed()

    @rpc("inventory", Inventory, public=True)
    def inventory(self, conn: RpcConnection, p: Inventory) -> None:
        """Our gold and items as they are now."""
        progress = self.client.state.progress
        progress.gold, progress.items = p.gold, dict(p.items)
        self.client.changed()

    @rpc("experience", Experience, public=True)
    def experience(self, conn: RpcConnection, p: Experience) -> None:
        """We gained experience."""
        self.client.state.progress.xp = p.total
        self.client.changed()

    @rpc("level_up", LevelUp, public=True)
    def level_up(self, conn: RpcConnection, p: LevelUp) -> None:
        """We reached a level."""
        self.client.state.progress.level = p.level
        self.client.state.notices.append(f"you reached level {p.level} ({p.max_hp} hp)")
        self.client.changed()

    @rpc("respawned", Respawned, public=True)
    def respawned(self, conn: RpcConnection, p: Respawned) -> None:
        """We are alive again in the spawn area."""
        self.client.state.respawns += 1
        self.client.changed()

    @rpc("corrected", Corrected, public=True)
    def corrected(self, conn: RpcConnection, p: Corrected) -> None:
        """The zone refused the position we claimed."""
        state = self.client.state
        state.corrections += 1
        state.corrected = (p.x, p.y)
        self.client.changed()

    @rpc("attack_refused", AttackRefused, public=True)
    def attack_refused(self, conn: RpcConnection, p: AttackRefused) -> None:
        """Our attack did not happen, and why."""
        refused = self.client.state.refused
        refused.append((p.target, p.reason))
        del refused[:-100]
        self.client.changed()

    @rpc("portal", Portal, public=True)
    def portal(self, conn: RpcConnection, p: Portal) -> None:
        """We stepped into a portal; when the zone moved us, the client follows by itself."""
        self.client.state.portal = p
        if p.moved:
            self.client.follow_portal(p)
        self.client.changed()

    @rpc("transfer", Transfer, public=True)
    def transfer(self, conn: RpcConnection, p: Transfer) -> None:
        """A portal took us to another WorldServer's zone: the client follows by itself."""
        self.client.state.transfer = p
        self.client.follow_transfer(p)
        self.client.changed()

    @rpc("muted", Muted, public=True)
    def muted(self, conn: RpcConnection, p: Muted) -> None:
        """Our chat is dropped until a time, or no longer (``until`` 0)."""
        state = self.client.state
        state.muted = p if p.until else None
        state.notices.append(f"you are muted: {p.reason or 'no reason given'}" if p.until
                             else "you may chat again")
        self.client.changed()


def _loot_text(p: Loot) -> str:
    items = ", ".join(f"{count} x {item}" for item, count in p.items)
    return f"loot: {p.gold} gold" + (f", {items}" if items else "")
