"""A WorldServer's planned stops: the daemon's countdown passed on to players, logged as planned."""

from __future__ import annotations

import logging

from shardkit.runtime.peerlog import quote
from shardkit.wire.peers import encode_notice
from shardkit.wire.rpc import RpcConnection, rpc
from shardkit.world.notifications import GoingDown
from shardkit.world.players import Players

log = logging.getLogger("shardkit.world")


class PlannedStop:
    """``going_down`` from the daemon: every player here is told; ``planned`` says why we stop.

    ``planned`` is "" until a stop is announced (then ``reboot``, ``shutdown`` or ``stop``),
    so what goes down afterwards (zones, links) is logged as planned, not as a crash.
    """

    def __init__(self, players: Players, label: str) -> None:
        self.players = players
        self.label = label
        self.planned = ""
        self.told_final = False

    def tell_players(self, notice: GoingDown) -> int:
        """Send every player here the notice; returns how many were sent it."""
        data = encode_notice(notice)
        sent = 0
        for player in self.players:
            player.send_encoded(data)
            sent += 1
        return sent

    @rpc("going_down", GoingDown, roles=("daemon",))
    def going_down(self, conn: RpcConnection, p: GoingDown) -> None:
        """The daemon's countdown step (a notification): passed on to every player here."""
        sent = self.tell_players(p)
        if p.in_s <= 0:
            self.planned = p.reason or "stop"
            self.told_final = True
            log.info("planned %s of %s: %d players told", quote(self.planned), self.label, sent)
        else:
            log.info("planned %s of %s in %.0f s: %d players warned", quote(p.reason),
                     self.label, p.in_s, sent)

    def stopping(self) -> None:
        """We stop (a signal): tell the players, unless the daemon's countdown already did."""
        if not self.planned:
            self.planned = "stop"
        if not self.told_final:
            self.told_final = True
            self.tell_players(GoingDown("stop", 0.0, 0.0,
                                        f"world server {self.label} is stopping"))
