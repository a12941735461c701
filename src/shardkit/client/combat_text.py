"""Combat lines from the zone as words a player reads (the plain and full-screen clients)."""

from __future__ import annotations

from collections.abc import Mapping

from shardkit.client.events import CombatLine, Seen

__all__ = ["combat_text"]


def combat_text(line: CombatLine, me: int, seen: Mapping[int, Seen], *,
                hp_left: bool = False) -> str:
    """A combat line as words, if it is about us or a death in sight ("" otherwise).

    ``hp_left`` adds what a hit on us left of our health (the line-based client says it; the
    full-screen client shows a health bar instead).
    """

    def name(eid: int) -> str:
        if eid == me:
            return "you"
        entity = seen.get(eid)
        return entity.name if entity else f"#{eid}"

    if line.kind == "hit" and me in (line.source, line.target):
        target = seen.get(line.target)
        left = (f" ({target.hp} hp left)"
                if hp_left and target and line.target == me else "")
        return f"{name(line.source)} hit {name(line.target)} for {line.value}{left}"
    if line.kind == "death":
        killer = f", killed by {name(line.source)}" if line.source else ""
        return f"{name(line.target)} died{killer}"
    if line.kind == "level_up" and line.target != me:
        return f"{name(line.target)} reached level {line.value}"
    return ""
