"""What a tick's events mean for the players they concern: notifications, portal trips, logs.

Hits, deaths and level-ups are also seen by every viewer in its ``sync``; here each player
gets what is its own: loot, experience, levels, its respawn, refused attacks and claims, the
portals it stepped into. Notifications go to the player's outbox, so they leave with the
tick's ``sync`` in one write.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from shardkit.runtime.peerlog import PeerLog, quote
from shardkit.runtime.tasks import background
from shardkit.wire.peers import encode_notice
from shardkit.zone import events as ev
from shardkit.zone.notifications import (
    AttackRefused,
    Corrected,
    Experience,
    Inventory,
    LevelUp,
    Loot,
    Portal,
    Respawned,
)
from shardkit.zone.progress import item_counts
from shardkit.zone.roster import Player, Roster

log = logging.getLogger("shardkit.zone")

REPEATED_CLAIMS = 2
"""From this many impossible position claims on, a player's claims are logged (rate-limited)."""


class Outcomes:
    """Turns each tick's events into notifications for the players they concern.

    ``portal_zones``: the zones a player may be moved to through a portal from here (those of
    this WorldServer); ``crossing`` takes a player through a portal to another WorldServer's
    zone (``zone/crossing.py``; False: not one); a portal to any other zone is only reported.
    """

    def __init__(self, roster: Roster, *, portal_zones: Iterable[str],
                 crossing: Callable[[Player, ev.PortalEntered], bool] | None = None) -> None:
        self.roster = roster
        self.crossing = crossing
        self.sim = roster.sim
        self.portal_zones = frozenset(portal_zones) - {roster.zone}
        self.claims_log = PeerLog(log, burst=3, window_s=60.0)

    def deliver(self, events: list[ev.Event]) -> None:
        players = self.roster.players
        corrections: dict[int, ev.Correction] = {}
        for event in events:
            kind = type(event)
            if kind is ev.Hit or kind is ev.Death:
                continue  # every viewer sees them in its sync
            if kind is ev.Correction:
                assert isinstance(event, ev.Correction)
                corrections[event.player] = event  # the last of a tick says it all
                continue
            player = players.get(getattr(event, "player", getattr(event, "entity", 0)))
            if player is not None:
                self._deliver(player, event)
        for correction in corrections.values():
            player = players.get(correction.player)
            if player is not None:
                self._corrected(player, correction)

    def _deliver(self, player: Player, event: ev.Event) -> None:
        queue = player.queue
        if isinstance(event, ev.Loot):
            queue(encode_notice(Loot(event.source, event.gold, list(event.items))))
            state = self.sim.players[player.eid]
            queue(encode_notice(Inventory(state.gold, item_counts(state.items))))
        elif isinstance(event, ev.Experience):
            queue(encode_notice(Experience(event.gained, event.total)))
        elif isinstance(event, ev.LevelUp):
            queue(encode_notice(LevelUp(event.level, event.max_hp)))
        elif isinstance(event, ev.Respawned):
            slot = self.sim.table.slot_of[player.eid]
            queue(encode_notice(Respawned(event.x, event.y, int(self.sim.table.hp[slot]))))
        elif isinstance(event, ev.AttackRefused):
            queue(encode_notice(AttackRefused(event.target, event.reason)))
        elif isinstance(event, ev.PortalEntered):
            self._portal(player, event)

    def _portal(self, player: Player, event: ev.PortalEntered) -> None:
        if event.target_zone in self.portal_zones:
            background(self.roster.through_portal(
                player, event.portal, event.target_zone, event.x, event.y))
        elif self.crossing is None or not self.crossing(player, event):
            player.queue(encode_notice(
                Portal(event.portal, event.target_zone, event.x, event.y, False)))

    def _corrected(self, player: Player, correction: ev.Correction) -> None:
        player.queue(encode_notice(Corrected(correction.x, correction.y)))
        if correction.strikes >= REPEATED_CLAIMS:
            self.claims_log.warning(
                player.conn.peer_ip, "impossible position",
                "%s claimed (%s, %s) but is at (%.1f, %.1f): %d impossible claims so far",
                quote(player.name), quote(correction.claimed_x, 24),
                quote(correction.claimed_y, 24), correction.x, correction.y, correction.strikes)
