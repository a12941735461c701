"""The character server's audit trail: to the GM server's log, or to our own log meanwhile."""

from __future__ import annotations

import logging

from shardkit.gm.api import GMAuditApi
from shardkit.runtime.peerlog import quote

log = logging.getLogger("shardkit.characters")

ACTOR = "characters"


class AuditTrail:
    """Records what the character server did (creates, deletes, renames, guild changes)."""

    def __init__(self, gm: GMAuditApi | None = None) -> None:
        self.gm = gm

    def record(self, action: str, target: str, detail: dict[str, object]) -> None:
        if self.gm is None or not self.gm.audit(ACTOR, action, target, detail):
            log.info("audit (GM server not linked): %s %s %s %s", quote(ACTOR), quote(action),
                     quote(target), quote(detail, 400))
