"""How the GM tool shows answers: aligned columns and short lines of plain text.

Every text a server sent is shown through ``shown`` (one line of printable characters), so a
character or account name cannot act on the game master's terminal.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime

from shardkit.characters.gm_schemas import ItemCount, ItemsResult, StoredCharacter
from shardkit.characters.schemas import DeletedCharacterInfo, RestoredCharacter
from shardkit.gm.schemas import (
    AuditRow,
    BroadcastReport,
    CharacterReport,
    GameMasterInfo,
    KickReport,
    WhoResult,
)
from shardkit.master.gm_schemas import BanInfo
from shardkit.wire.text import clean_text

MAX_CELL = 60


def shown(value: object, limit: int = MAX_CELL) -> str:
    """A value as one line of printable text, cut to ``limit`` characters."""
    text = clean_text(str(value), 10 * limit)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Rows under their headers, each column as wide as its widest cell."""
    cells = [[shown(c) for c in row] for row in rows]
    widths = [max([len(h), *(len(row[i]) for row in cells)]) for i, h in enumerate(headers)]
    lines = ["  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(line.rstrip() for line in lines)


def items_text(items: Sequence[ItemCount]) -> str:
    return ", ".join(f"{shown(i.item)} x{i.count}" for i in items) or "no items"


def when(text: str | None) -> str:
    """An RFC 3339 time as local ``YYYY-MM-DD HH:MM:SS``."""
    if not text:
        return "-"
    try:
        return datetime.fromisoformat(text).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return shown(text)


def who(result: WhoResult) -> str:
    rows = [(c.world, c.cluster, c.account, c.character or "-", c.zone or "-", c.address)
            for c in result.characters]
    lines = [table(("world", "ws", "account", "character", "zone", "address"), rows)] \
        if rows else []
    lines.append(f"{len(rows)} online")
    if result.unreachable:
        lines.append("did not answer: " + ", ".join(shown(w) for w in result.unreachable))
    return "\n".join(lines)


def character(c: StoredCharacter) -> str:
    guild = f"{shown(c.guild)} ({c.guild_rank})" if c.guild else "none"
    return "\n".join([
        f"{shown(c.world)}/{shown(c.name)} (character #{c.id}, account #{c.account_id})",
        f"  level {c.level}, experience {c.experience}, health {c.health}",
        f"  at {shown(c.zone)} ({c.x:.1f}, {c.y:.1f})",
        f"  gold {c.gold}; {items_text(c.items)}",
        f"  guild {guild}",
        f"  saved {when(c.last_saved)} (version {c.version}),"
        f" {'in play' if c.in_play else 'not in play'}",
    ])


def report(r: CharacterReport) -> str:
    lines = [character(r.stored), f"  account {shown(r.account)} ({r.account_role})"]
    if r.online is not None:
        lines.append(f"  online on WorldServer {shown(r.online.world)}/{r.online.cluster}"
                     f" in {shown(r.online.zone)}, from {shown(r.online.address)}")
    if r.live is not None:
        lines.append(f"  now at {shown(r.live.zone)} ({r.live.x:.1f}, {r.live.y:.1f}),"
                     f" health {r.live.health}, gold {r.live.gold}; {items_text(r.live.items)}")
    elif r.live_error:
        lines.append(f"  live state unavailable: {shown(r.live_error, 200)}")
    return "\n".join(lines)


def kick(r: KickReport) -> str:
    who = f"{shown(r.character)} ({shown(r.account)})" if r.character else shown(r.account)
    return (f"kicked {who} from {shown(r.world)}: master session"
            f" {'closed' if r.had_session else 'none'}, {r.worlds} world(s) told")


def ban(b: BanInfo) -> str:
    until = "for good" if b.expires_at is None else f"until {when(b.expires_at)}"
    return f"ban #{b.id} on {shown(b.target)} {until}: {shown(b.reason or 'no reason given')}"


def bans(found: Sequence[BanInfo]) -> str:
    rows = [(f"#{b.id}", b.target, "permanent" if b.expires_at is None else when(b.expires_at),
             b.reason) for b in found]
    return table(("ban", "target", "until", "reason"), rows) if rows else "no bans in force"


def broadcast(r: BroadcastReport) -> str:
    text = f"sent to {r.players} player(s) in {', '.join(shown(w) for w in r.worlds) or 'no world'}"
    if r.unreachable:
        text += "; did not answer: " + ", ".join(shown(w) for w in r.unreachable)
    return text


def items(r: ItemsResult) -> str:
    return (f"{shown(r.world)}/{shown(r.name)} now has {r.gold} gold; {items_text(r.items)}"
            f" (version {r.version})")


def deleted(found: Sequence[DeletedCharacterInfo]) -> str:
    rows = [(d.name, d.account_id, d.level, when(d.deleted_at), when(d.restorable_until))
            for d in found]
    return table(("name", "account", "level", "deleted", "restorable until"), rows) \
        if rows else "no deleted characters"


def restored(r: RestoredCharacter) -> str:
    return f"restored {shown(r.world)}/{shown(r.name)} (account #{r.account_id}) in {shown(r.zone)}"


def game_masters(found: Sequence[GameMasterInfo]) -> str:
    rows = [(g.name, g.role, ", ".join(g.worlds) or "every world") for g in found]
    return table(("account", "role", "worlds"), rows) if rows else "no game masters"


def game_master(g: GameMasterInfo) -> str:
    worlds = ", ".join(shown(w) for w in g.worlds) or "every world"
    return f"{shown(g.name)} is now {g.role}" + (f" ({worlds})" if g.role == "gm" else "")


def audit(rows: Sequence[AuditRow]) -> str:
    if not rows:
        return "no audit entries"
    return table(("id", "at", "actor", "address", "action", "target", "result", "detail"),
                 [(e.id, when(e.at), e.actor, e.address or "-", e.action, e.target or "-",
                   e.result, _detail(e)) for e in rows])


def _detail(entry: AuditRow) -> str:
    keep = {k: v for k, v in entry.detail.items() if k != "role"}
    return " ".join(f"{k}={v}" for k, v in keep.items())


def seconds(duration_s: float) -> str:
    """``90`` as ``1m30s``."""
    left = int(duration_s)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if left >= size:
            parts.append(f"{left // size}{unit}")
            left %= size
    if left or not parts:
        parts.append(f"{left}s")
    return "".join(parts)


def now() -> str:
    return time.strftime("%H:%M:%S")
